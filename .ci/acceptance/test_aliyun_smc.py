"""SMC 2019-06-01 activation codes (AccessTokens) through the tea Python SDK
(`alibabacloud_smc20190601`), with ACS3 and with RPC v1: CreateAccessToken
(defaults and every validation rule), ListAccessTokens (id list, Name and
Status filters), DisableAccessToken, DeleteAccessToken.

ListAccessTokens lists the whole account, which other tests share: every check
here filters by the ids or the unique names it created.
"""

from __future__ import annotations

import json
import re

import pytest
from alibabacloud_smc20190601 import models as m

from aliyun_harness import (TEA_MODES, ali_raises, last_observed, new_ali_user, register, smc)
from harness import unique

MODES = list(TEA_MODES)
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
TOKEN_FIELDS = {"AccessTokenId", "Name", "Description", "Count", "RegisteredCount", "TimeToLiveInDays",
                "CreationTime", "Status"}


def uname(prefix: str = "tok") -> str:
    # letters, digits, '_' only: a valid Name
    return unique(prefix).replace("x", "_")


def create(client, **fields):
    b = client.create_access_token(m.CreateAccessTokenRequest(**fields)).body
    assert re.fullmatch(r"at-[a-z0-9]+", b.access_token_id), b.access_token_id
    assert b.access_token_code and b.request_id
    return b


def tokens(client, **filters) -> dict:
    r = client.list_access_tokens(m.ListAccessTokensRequest(**filters)).body
    got = {t.access_token_id: t for t in r.access_tokens.access_token}
    # the default page is 10; an unpaged answer's TotalCount is its length
    assert r.total_count == len(got) if len(got) < 10 else r.total_count >= len(got), (r.total_count, list(got))
    return got


def one(client, token_id: str):
    got = tokens(client, access_token_id=[token_id])
    assert list(got) == [token_id]
    return got[token_id]


@pytest.mark.parametrize("mode", MODES)
def test_create_access_token_defaults(kp, mode):
    c = smc(kp, mode)
    name = uname()
    b = create(c, name=name)
    raw = last_observed("CreateAccessToken").json()
    assert set(raw) == {"RequestId", "AccessTokenId", "AccessTokenCode"}, raw.keys()
    t = one(c, b.access_token_id)
    raw = last_observed("ListAccessTokens").json()
    assert set(raw["AccessTokens"]["AccessToken"][0]) == TOKEN_FIELDS
    assert {"TotalCount", "PageNumber", "PageSize", "RequestId"} <= set(raw)
    # numbers are strings on the wire
    doc = raw["AccessTokens"]["AccessToken"][0]
    assert (doc["Count"], doc["TimeToLiveInDays"], doc["RegisteredCount"]) == ("100", "30", "0")
    assert t.name == name and t.description == ""
    assert t.status == "unactivated"
    assert ISO.fullmatch(t.creation_time), t.creation_time
    assert b.access_token_code.encode() not in last_observed("ListAccessTokens").body

    # every field given
    b2 = create(c, name=uname("full"), description="for CI run: 1/2", count="7", time_to_live_in_days="3")
    t2 = one(c, b2.access_token_id)
    assert (t2.count, t2.time_to_live_in_days, t2.registered_count) == ("7", "3", "0")
    assert t2.description == "for CI run: 1/2"
    # no name at all is accepted
    b3 = create(c)
    assert one(c, b3.access_token_id).count == "100"


VALID_NAMES = ["ab", "a" * 128, "中文", "迁移:任务_1-a", "Ab-1:2_3", "z:", "É-tok"]
INVALID_NAMES = ["a", "a" * 129, "1abc", "_abc", "-abc", ":abc", "http://abc", "https://abc", "HTTP://abc",
                 "a b", "a.b", "a/b", "a@b", "tok!", "名 字"]


@pytest.mark.parametrize("mode", MODES)
def test_name_rules(kp, mode):
    c = smc(kp, mode)
    for name in VALID_NAMES:
        b = create(c, name=name)
        assert one(c, b.access_token_id).name == name
    for name in INVALID_NAMES:
        with ali_raises("InvalidParameter", 400) as e:
            create(c, name=name)
        assert "Name" in e.data["Message"], (name, e.data["Message"])
        assert e.data["HostId"] == "smc.aliyuncs.com"


@pytest.mark.parametrize("mode", MODES)
def test_count_and_time_to_live_ranges(kp, mode):
    c = smc(kp, mode)
    name = uname("rng")
    for count, days in (("1", "1"), ("1000", "90")):
        b = create(c, name=name, count=count, time_to_live_in_days=days)
        t = one(c, b.access_token_id)
        assert (t.count, t.time_to_live_in_days) == (count, days)
    for bad in ("0", "1001", "-1", "abc", "1.5", "99999999999", " 5"):
        with ali_raises("InvalidParameter", 400) as e:
            create(c, name=name, count=bad)
        assert "Count" in e.data["Message"], (bad, e.data["Message"])
    for bad in ("0", "91", "-3", "x", "2.0", "365"):
        with ali_raises("InvalidParameter", 400) as e:
            create(c, name=name, time_to_live_in_days=bad)
        assert "TimeToLiveInDays" in e.data["Message"], (bad, e.data["Message"])
    with ali_raises("InvalidParameter", 400) as e:
        create(c, name=name, description="https://example.com")
    assert "Description" in e.data["Message"]
    # nothing was created by the refusals
    assert len(tokens(c, name=name)) == 2


@pytest.mark.parametrize("mode", MODES)
def test_list_filters_and_status(kp, mode):
    """Name, AccessTokenId.N and Status filters; the status moves from
    unactivated to activated with a registration and to expired when disabled."""
    c = smc(kp, mode)
    n1, n2 = uname("la"), uname("lb")
    a, b, d = create(c, name=n1), create(c, name=n1, count="2"), create(c, name=n2)
    all3 = [a.access_token_id, b.access_token_id, d.access_token_id]
    assert set(tokens(c, name=n1)) == {a.access_token_id, b.access_token_id}
    assert set(tokens(c, name=n2)) == {d.access_token_id}
    assert tokens(c, name=uname("none")) == {}
    assert set(tokens(c, access_token_id=[a.access_token_id, d.access_token_id])) == {a.access_token_id,
                                                                                      d.access_token_id}
    assert set(tokens(c, access_token_id=[b.access_token_id], name=n1)) == {b.access_token_id}
    assert tokens(c, access_token_id=[b.access_token_id], name=n2) == {}
    assert tokens(c, access_token_id=["at-doesnotexist0000"]) == {}
    assert set(tokens(c, access_token_id=all3, status="unactivated")) == set(all3)

    r = register(kp.port, b.access_token_id, b.access_token_code)
    assert r.status == 201, r.body
    c.disable_access_token(m.DisableAccessTokenRequest(access_token_id=d.access_token_id))

    assert set(tokens(c, access_token_id=all3, status="unactivated")) == {a.access_token_id}
    assert set(tokens(c, access_token_id=all3, status="activated")) == {b.access_token_id}
    assert set(tokens(c, access_token_id=all3, status="expired")) == {d.access_token_id}
    got = tokens(c, access_token_id=all3)
    assert {k: (t.status, t.registered_count) for k, t in got.items()} == {
        a.access_token_id: ("unactivated", "0"),
        b.access_token_id: ("activated", "1"),
        d.access_token_id: ("expired", "0"),
    }
    # every unfiltered-by-id listing respects the status it asked for
    for status in ("activated", "unactivated", "expired"):
        for t in tokens(c, status=status).values():
            assert t.status == status
    with ali_raises("InvalidParameter", 400) as e:
        tokens(c, status="Activated")
    assert "Status" in e.data["Message"]


@pytest.mark.parametrize("mode", MODES)
def test_disable_and_delete(kp, mode):
    c = smc(kp, mode)
    name = uname("dd")
    t = create(c, name=name)
    r = c.disable_access_token(m.DisableAccessTokenRequest(access_token_id=t.access_token_id))
    assert r.body.request_id
    raw = last_observed("DisableAccessToken").json()
    assert set(raw) == {"RequestId"}
    assert one(c, t.access_token_id).status == "expired"
    # disabling twice is harmless
    c.disable_access_token(m.DisableAccessTokenRequest(access_token_id=t.access_token_id))
    r = c.delete_access_token(m.DeleteAccessTokenRequest(access_token_id=t.access_token_id))
    assert r.body.request_id
    assert tokens(c, access_token_id=[t.access_token_id]) == {}
    assert tokens(c, name=name) == {}
    with ali_raises("InvalidAccessTokenId.NotFound", 404) as e:
        c.delete_access_token(m.DeleteAccessTokenRequest(access_token_id=t.access_token_id))
    assert e.data["HostId"] == "smc.aliyuncs.com"
    with ali_raises("InvalidAccessTokenId.NotFound", 404):
        c.disable_access_token(m.DisableAccessTokenRequest(access_token_id=t.access_token_id))
    for unknown in ("at-unknown000000000000", "not-a-token"):
        with ali_raises("InvalidAccessTokenId.NotFound", 404):
            c.delete_access_token(m.DeleteAccessTokenRequest(access_token_id=unknown))
        with ali_raises("InvalidAccessTokenId.NotFound", 404):
            c.disable_access_token(m.DisableAccessTokenRequest(access_token_id=unknown))
    with ali_raises("MissingParameter", 400) as e:
        c.delete_access_token(m.DeleteAccessTokenRequest())
    assert "AccessTokenId" in e.data["Message"]
    with ali_raises("MissingParameter", 400):
        c.disable_access_token(m.DisableAccessTokenRequest())
    # a live token is deletable directly too
    t2 = create(c, name=name)
    c.delete_access_token(m.DeleteAccessTokenRequest(access_token_id=t2.access_token_id))
    assert tokens(c, name=name) == {}


@pytest.mark.parametrize("mode", MODES)
def test_sub_user_has_no_smc_permission(kp, mode):
    """A sub-user whose policies (ManageOwnAccessKeys) do not cover SMC is
    refused with SMC's Forbidden.RAM (403) and an AccessDeniedDetail."""
    u = new_ali_user(kp)
    root, sub = smc(kp, mode), smc(kp, mode, (u.ali_id, u.ali_secret))
    t = create(root, name=uname("perm"))
    calls = {
        "CreateAccessToken": lambda: sub.create_access_token(m.CreateAccessTokenRequest(name=uname("sub"))),
        "ListAccessTokens": lambda: sub.list_access_tokens(m.ListAccessTokensRequest()),
        "DisableAccessToken": lambda: sub.disable_access_token(
            m.DisableAccessTokenRequest(access_token_id=t.access_token_id)),
        "DeleteAccessToken": lambda: sub.delete_access_token(
            m.DeleteAccessTokenRequest(access_token_id=t.access_token_id)),
    }
    for action, call in calls.items():
        with ali_raises("Forbidden.RAM", 403) as e:
            call()
        assert e.data["HostId"] == "smc.aliyuncs.com"
        detail = e.data["AccessDeniedDetail"]
        assert detail["AuthAction"] == f"smc:{action}", detail
        assert detail["NoPermissionType"] == "ImplicitDeny", detail
    assert one(root, t.access_token_id).status == "unactivated"


def test_access_token_code_is_shown_only_at_creation(kp):
    c = smc(kp)
    t = create(c, name=uname("once"))
    one(c, t.access_token_id)
    for action in ("ListAccessTokens",):
        assert t.access_token_code not in json.dumps(last_observed(action).json())
