"""API Gateway 2018-08-08 API-key operations through the official Python SDK
(tencentcloud-sdk-python-apigateway), protocols.md A.8.  Region ap-guangzhou."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from tencentcloud.apigateway.v20180808 import models as gw

import harness
from harness import GENEROUS_RATE_LIMITS, mk, raises_code, unique

ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
AUTO_ID_RE = re.compile(r"^AKID[A-Za-z0-9]{36}$")


# -- helpers --------------------------------------------------------------------

def create(client, name=None, **fields):
    fields.setdefault("SecretName", name or unique("cikey"))
    resp = client.CreateApiKey(mk(gw.CreateApiKeyRequest, **fields))
    assert resp.RequestId
    assert resp.Result is not None, "CreateApiKey: Result missing"
    harness.remember(resp.Result.AccessKeySecret, "CreateApiKey")
    return resp.Result


def describe(client, key_id):
    r = client.DescribeApiKey(mk(gw.DescribeApiKeyRequest, AccessKeyId=key_id)).Result
    assert r is not None, "DescribeApiKey: Result missing"
    return r


def status_query(client, filters=None, limit=None, offset=None):
    fields = {}
    if filters is not None:
        fields["Filters"] = [{"Name": n, "Values": v} for n, v in filters]
    if limit is not None:
        fields["Limit"] = limit
    if offset is not None:
        fields["Offset"] = offset
    r = client.DescribeApiKeysStatus(mk(gw.DescribeApiKeysStatusRequest, **fields)).Result
    assert r is not None, "DescribeApiKeysStatus: Result missing"
    assert type(r.TotalCount) is int, f"TotalCount {r.TotalCount!r} is not an integer"
    return r.TotalCount, list(r.ApiKeySet or [])


def delete(client, key_id):
    r = client.DeleteApiKey(mk(gw.DeleteApiKeyRequest, AccessKeyId=key_id))
    assert r.Result is True, f"DeleteApiKey: Result {r.Result!r}, expected true"


def assert_iso_now(s, what):
    assert isinstance(s, str) and ISO_RE.match(s), f"{what} {s!r} is not YYYY-MM-DDThh:mm:ssZ"
    t = dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp()
    assert abs(t - time.time()) < 600, f"{what} {s!r} is not now (UTC)"


def assert_status(value, expected):
    assert type(value) is int and value == expected, f"Status {value!r}, expected integer {expected}"


def tag_pairs(tags):
    return sorted((t.Key, t.Value) for t in (tags or []))


# -- CreateApiKey -------------------------------------------------------------------

def test_create_auto_key(kp):
    c = kp.apigw()
    name = unique("ciauto")
    r = create(c, name, AccessKeyType="auto", Tags=[{"Key": "owner", "Value": "ci"}])
    assert AUTO_ID_RE.match(r.AccessKeyId or ""), f"auto AccessKeyId {r.AccessKeyId!r} is not AKID + 36"
    assert r.AccessKeySecret and r.AccessKeySecret != r.AccessKeyId
    assert r.AccessKeyType == "auto"
    assert r.SecretName == name
    assert_status(r.Status, 1)
    assert_iso_now(r.CreatedTime, "CreatedTime")
    assert_iso_now(r.ModifiedTime, "ModifiedTime")
    assert tag_pairs(r.Tags) == [("owner", "ci")]
    body = harness.last_body("CreateApiKey")
    assert b'"Status": 1' in body or b'"Status":1' in body, "Status is not the JSON integer 1"


def test_create_defaults_to_auto(kp):
    r = create(kp.apigw())                         # no AccessKeyType
    assert r.AccessKeyType == "auto"
    assert AUTO_ID_RE.match(r.AccessKeyId or "")
    assert r.AccessKeySecret


def test_two_auto_keys_differ(kp):
    c = kp.apigw()
    a, b = create(c), create(c)
    assert a.AccessKeyId != b.AccessKeyId
    assert a.AccessKeySecret != b.AccessKeySecret


def test_create_manual_key(kp):
    c = kp.apigw()
    kid, sec = unique("kpman_"), "Secret_" + unique("s")
    r = create(c, AccessKeyType="manual", AccessKeyId=kid, AccessKeySecret=sec)
    assert r.AccessKeyId == kid
    assert r.AccessKeySecret == sec
    assert r.AccessKeyType == "manual"
    assert_status(r.Status, 1)
    assert_iso_now(r.CreatedTime, "CreatedTime")
    d = describe(c, kid)
    assert (d.AccessKeyId, d.AccessKeySecret, d.AccessKeyType) == (kid, sec, "manual")


@pytest.mark.parametrize("kid,sec", [
    ("abcd", "Secret_0123"),                  # id too short (4)
    ("a" * 51, "Secret_0123"),                # id too long (51)
    ("bad-id", "Secret_0123"),                # '-' not allowed
    ("bad id", "Secret_0123"),                # space
    ("k\u00e9y_01", "Secret_0123"),           # non-ASCII
    ("good_id_{n}", "short_789"),             # secret too short (9)
    ("good_id_{n}", "s" * 51),                # secret too long (51)
    ("good_id_{n}", "Secret!0123"),           # '!' not allowed
    ("good_id_{n}", "Secret-0123"),           # '-' not allowed
])
def test_manual_key_format_error(kp, kid, sec):
    kid = kid.replace("{n}", unique(""))
    with raises_code("InvalidParameter.FormatError"):
        create(kp.apigw(), AccessKeyType="manual", AccessKeyId=kid, AccessKeySecret=sec)
    # (the refused secret stays in harness.SECRETS: it must not be persisted either)
    if re.fullmatch(r"[A-Za-z0-9_]{5,50}", kid):
        total, _ = status_query(kp.apigw(), [("AccessKeyId", [kid])])
        assert total == 0, "a rejected manual key was stored anyway"


@pytest.mark.parametrize("id_len,sec_len", [(5, 10), (50, 50), (5, 50), (50, 10)])
def test_manual_key_length_boundaries_accepted(kp, id_len, sec_len):
    tag = unique("")
    kid = ("B" + tag + "_" * 60)[:id_len]
    sec = ("S" + tag + "9" * 60)[:sec_len]
    if id_len == 5:
        kid = "b" + tag[-4:]
    r = create(kp.apigw(), AccessKeyType="manual", AccessKeyId=kid, AccessKeySecret=sec)
    assert (r.AccessKeyId, r.AccessKeySecret) == (kid, sec)
    delete(kp.apigw(), kid)


def test_duplicate_manual_id(kp):
    c = kp.apigw()
    kid = unique("dup_")
    create(c, AccessKeyType="manual", AccessKeyId=kid, AccessKeySecret="First_secret_1")
    with raises_code("FailedOperation.AccessKeyExist"):
        create(c, AccessKeyType="manual", AccessKeyId=kid, AccessKeySecret="Second_secret_2")
    assert describe(c, kid).AccessKeySecret == "First_secret_1"
    # an auto key's id cannot be taken over either
    auto = create(c)
    with raises_code("FailedOperation.AccessKeyExist"):
        create(c, AccessKeyType="manual", AccessKeyId=auto.AccessKeyId, AccessKeySecret="Third_secret_3")
    assert describe(c, auto.AccessKeyId).AccessKeySecret == auto.AccessKeySecret


def test_missing_secret_name(kp):
    with raises_code("MissingParameter"):
        kp.apigw().CreateApiKey(mk(gw.CreateApiKeyRequest, AccessKeyType="auto"))


# -- Describe / status ----------------------------------------------------------------

def test_describe_api_key_includes_secret(kp):
    c = kp.apigw()
    r = create(c, Tags=[{"Key": "k", "Value": "v"}])
    d = describe(c, r.AccessKeyId)
    assert d.AccessKeyId == r.AccessKeyId
    assert d.AccessKeySecret == r.AccessKeySecret
    assert d.AccessKeyType == "auto"
    assert d.SecretName == r.SecretName
    assert_status(d.Status, 1)
    assert d.CreatedTime == r.CreatedTime
    assert tag_pairs(d.Tags) == [("k", "v")]


def test_describe_api_keys_status_filters_and_paging(kp):
    c = kp.apigw()
    grp = unique("cigrp")
    made = [create(c, f"{grp}-{i}") for i in range(5)]
    ids = [m.AccessKeyId for m in made]

    total, items = status_query(c, [("KeyWord", [grp])], limit=100, offset=0)
    assert total == 5
    assert sorted(i.AccessKeyId for i in items) == sorted(ids)

    seen = []
    for off, n in ((0, 2), (2, 2), (4, 1)):
        total, page = status_query(c, [("KeyWord", [grp])], limit=2, offset=off)
        assert total == 5, "TotalCount must count all matches, not the page"
        assert len(page) == n, f"Limit=2 Offset={off}: {len(page)} items, expected {n}"
        seen += [i.AccessKeyId for i in page]
    assert sorted(seen) == sorted(ids), "paging lost or repeated keys"

    total, items = status_query(c, [("AccessKeyId", [ids[3]])])
    assert total == 1 and [i.AccessKeyId for i in items] == [ids[3]]
    assert items[0].SecretName == f"{grp}-3"

    total, items = status_query(c, [("SecretName", [f"{grp}-1"])])
    assert [i.AccessKeyId for i in items] == [ids[1]] and total == 1

    for k in ids[:2]:
        assert c.DisableApiKey(mk(gw.DisableApiKeyRequest, AccessKeyId=k)).Result is True
    total, items = status_query(c, [("KeyWord", [grp]), ("Status", ["0"])])
    assert total == 2 and sorted(i.AccessKeyId for i in items) == sorted(ids[:2])
    for i in items:
        assert_status(i.Status, 0)
    total, items = status_query(c, [("KeyWord", [grp]), ("Status", ["1"])])
    assert total == 3 and sorted(i.AccessKeyId for i in items) == sorted(ids[2:])

    total, items = status_query(c, [("KeyWord", [unique("nomatch")])])
    assert total == 0 and items == []


# -- Disable / Enable / Update / Delete ----------------------------------------------

def test_disable_enable(kp):
    c = kp.apigw()
    r = create(c)
    assert_status(r.Status, 1)
    d = c.DisableApiKey(mk(gw.DisableApiKeyRequest, AccessKeyId=r.AccessKeyId))
    assert d.Result is True, f"DisableApiKey Result {d.Result!r}"
    assert_status(describe(c, r.AccessKeyId).Status, 0)
    e = c.EnableApiKey(mk(gw.EnableApiKeyRequest, AccessKeyId=r.AccessKeyId))
    assert e.Result is True, f"EnableApiKey Result {e.Result!r}"
    assert_status(describe(c, r.AccessKeyId).Status, 1)


def test_update_manual_key(kp):
    c = kp.apigw()
    kid = unique("upd_")
    create(c, AccessKeyType="manual", AccessKeyId=kid, AccessKeySecret="Old_secret_01")
    new = "New_secret_" + unique("")
    r = c.UpdateApiKey(mk(gw.UpdateApiKeyRequest, AccessKeyId=kid, AccessKeySecret=new)).Result
    assert r is not None, "UpdateApiKey: Result missing"
    assert r.AccessKeyId == kid and r.AccessKeySecret == new
    d = describe(c, kid)
    assert d.AccessKeySecret == new and d.AccessKeyType == "manual"
    # a bad new secret is refused (code not pinned) and changes nothing
    with raises_code(None):
        c.UpdateApiKey(mk(gw.UpdateApiKeyRequest, AccessKeyId=kid, AccessKeySecret="bad!"))
    # a manual key needs the new secret (protocols.md A.8; code not pinned)
    with raises_code(None):
        c.UpdateApiKey(mk(gw.UpdateApiKeyRequest, AccessKeyId=kid))
    assert describe(c, kid).AccessKeySecret == new


def test_update_auto_key_generates_new_secret(kp):
    c = kp.apigw()
    r = create(c)
    u = c.UpdateApiKey(mk(gw.UpdateApiKeyRequest, AccessKeyId=r.AccessKeyId)).Result
    assert u is not None, "UpdateApiKey: Result missing"
    harness.remember(u.AccessKeySecret, "UpdateApiKey auto")
    assert u.AccessKeyId == r.AccessKeyId
    assert u.AccessKeySecret and u.AccessKeySecret != r.AccessKeySecret
    assert u.AccessKeyType == "auto"
    assert describe(c, r.AccessKeyId).AccessKeySecret == u.AccessKeySecret


def test_delete_api_key(kp):
    c = kp.apigw()
    r = create(c)
    delete(c, r.AccessKeyId)
    with raises_code("ResourceNotFound.InvalidAccessKeyId"):
        describe(c, r.AccessKeyId)
    total, _ = status_query(c, [("AccessKeyId", [r.AccessKeyId])])
    assert total == 0
    for req in (gw.DeleteApiKeyRequest, gw.DisableApiKeyRequest, gw.EnableApiKeyRequest):
        with raises_code(None):
            getattr(c, req.__name__[:-len("Request")])(mk(req, AccessKeyId=r.AccessKeyId))


def test_describe_unknown_key(kp):
    with raises_code("ResourceNotFound.InvalidAccessKeyId"):
        describe(kp.apigw(), "AKID" + "Q" * 36)


# -- count limit ----------------------------------------------------------------------------

def test_api_key_count_limit(kp_factory):
    d = kp_factory("apikey-limit", "--api-key-limit", "3",
                   *[a for rl in GENEROUS_RATE_LIMITS for a in ("--rate-limit", rl)])
    c = d.apigw()
    first = create(c)
    create(c, AccessKeyType="manual", AccessKeyId=unique("lim_"), AccessKeySecret="Limit_secret_1")
    create(c)
    with raises_code("LimitExceeded.ApiKeyCountLimitExceeded"):
        create(c)
    with raises_code("LimitExceeded.ApiKeyCountLimitExceeded"):
        create(c, AccessKeyType="manual", AccessKeyId=unique("lim_"), AccessKeySecret="Limit_secret_2")
    total, _ = status_query(c, limit=100)
    assert total == 3
    delete(c, first.AccessKeyId)
    create(c)
    total, _ = status_query(c, limit=100)
    assert total == 3
