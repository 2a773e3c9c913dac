"""RAM identity (IMS 2019-08-15) access keys through the tea Python SDK
(`alibabacloud_ims20190815`), once with ACS3-HMAC-SHA256 (the default) and once
with RPC v1 (`signature_algorithm='v2'`).

The root's own Alibaba key from `keyplane init` is one of its two allowed keys,
so the tests that give the root a second key delete it again before they end.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from alibabacloud_ims20190815 import models as m

import harness
from aliyun_harness import (TEA_MODES, ali_raises, ali_remember, ims, last_observed, new_ali_user,
                            root_cred)
from harness import unique

MODES = list(TEA_MODES)
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def ids(resp) -> list[str]:
    return [k.access_key_id for k in resp.body.access_keys.access_key]


def listed(client, principal: str | None = None) -> dict:
    r = client.list_access_keys(m.ListAccessKeysRequest(user_principal_name=principal))
    return {k.access_key_id: k for k in r.body.access_keys.access_key}


def near_now(text: str, slack: float = 300) -> bool:
    t = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    return abs((t - dt.datetime.now(dt.timezone.utc)).total_seconds()) < slack


@pytest.mark.parametrize("mode", MODES)
def test_ims_key_lifecycle_for_a_sub_user(kp, mode):
    """Create (UserPrincipalName), List, use, GetAccessKeyLastUsed,
    Update Inactive/Active, Delete; an Inactive key is refused at once with
    InvalidAccessKeyId.Inactive, a deleted one with InvalidAccessKeyId.NotFound."""
    u = new_ali_user(kp, with_key=False)
    root = ims(kp, mode)

    r = root.create_access_key(m.CreateAccessKeyRequest(user_principal_name=u.principal))
    assert r.status_code == 200
    k = r.body.access_key
    assert r.body.request_id
    assert re.fullmatch(r"LTAI[A-Za-z0-9]{20}", k.access_key_id), k.access_key_id
    assert re.fullmatch(r"[A-Za-z0-9]{30}", k.access_key_secret), "secret is not 30 alphanumerics"
    assert k.status == "Active"
    assert ISO.fullmatch(k.create_date) and near_now(k.create_date), k.create_date
    raw = last_observed("CreateAccessKey").json()
    assert set(raw) == {"RequestId", "AccessKey"}, raw.keys()
    assert set(raw["AccessKey"]) == {"AccessKeyId", "AccessKeySecret", "CreateDate", "Status"}

    keys = listed(root, u.principal)
    assert list(keys) == [k.access_key_id]
    assert keys[k.access_key_id].status == "Active"
    assert ISO.fullmatch(keys[k.access_key_id].create_date) and ISO.fullmatch(keys[k.access_key_id].update_date)
    raw_list = last_observed("ListAccessKeys").body
    assert k.access_key_secret.encode() not in raw_list, "ListAccessKeys shows the secret"
    assert set(json.loads(raw_list)["AccessKeys"]["AccessKey"][0]) == \
        {"AccessKeyId", "Status", "CreateDate", "UpdateDate"}
    assert k.access_key_id not in listed(root), "the sub-user's key is in the root's own list"

    # never used yet
    lu = root.get_access_key_last_used(m.GetAccessKeyLastUsedRequest(
        user_access_key_id=k.access_key_id, user_principal_name=u.principal)).body.access_key_last_used
    assert not lu.last_used_date

    # the new key works, and lists its own user's keys (UserPrincipalName defaults to the caller)
    sub = ims(kp, mode, (k.access_key_id, k.access_key_secret))
    assert list(listed(sub)) == [k.access_key_id]

    def last_used():
        v = root.get_access_key_last_used(m.GetAccessKeyLastUsedRequest(
            user_access_key_id=k.access_key_id, user_principal_name=u.principal)).body.access_key_last_used
        return v if v.last_used_date else None

    lu = harness.poll(last_used, timeout=10)
    assert lu, "GetAccessKeyLastUsed reports no use after the key was used"
    assert ISO.fullmatch(lu.last_used_date) and near_now(lu.last_used_date), lu.last_used_date
    assert lu.service_name, "GetAccessKeyLastUsed: no ServiceName"

    root.update_access_key(m.UpdateAccessKeyRequest(user_access_key_id=k.access_key_id, status="Inactive",
                                                    user_principal_name=u.principal))
    assert listed(root, u.principal)[k.access_key_id].status == "Inactive"
    with ali_raises("InvalidAccessKeyId.Inactive", 400):
        listed(sub)

    root.update_access_key(m.UpdateAccessKeyRequest(user_access_key_id=k.access_key_id, status="Active",
                                                    user_principal_name=u.principal))
    assert listed(root, u.principal)[k.access_key_id].status == "Active"
    assert list(listed(sub)) == [k.access_key_id]

    r = root.delete_access_key(m.DeleteAccessKeyRequest(user_access_key_id=k.access_key_id,
                                                        user_principal_name=u.principal))
    assert r.body.request_id
    assert listed(root, u.principal) == {}
    with ali_raises("InvalidAccessKeyId.NotFound", 404):
        listed(sub)
    with ali_raises("EntityNotExist.User.AccessKey", 404):
        root.delete_access_key(m.DeleteAccessKeyRequest(user_access_key_id=k.access_key_id,
                                                        user_principal_name=u.principal))


@pytest.mark.parametrize("mode", MODES)
def test_sub_user_manages_its_own_keys_and_the_limit_of_two(kp, mode):
    """A sub-user creates its second key with no UserPrincipalName (= itself);
    a third is LimitExceeded.User.AccessKey (409), also when one is Inactive."""
    u = new_ali_user(kp)
    sub = ims(kp, mode, (u.ali_id, u.ali_secret))
    k2 = sub.create_access_key(m.CreateAccessKeyRequest()).body.access_key
    ali_remember(k2.access_key_secret, "sub-user's own second key")
    assert set(listed(ims(kp, mode), u.principal)) == {u.ali_id, k2.access_key_id}
    assert set(listed(sub)) == {u.ali_id, k2.access_key_id}
    assert set(listed(sub, u.principal)) == {u.ali_id, k2.access_key_id}, "naming oneself is allowed"

    with ali_raises("LimitExceeded.User.AccessKey", 409) as e:
        sub.create_access_key(m.CreateAccessKeyRequest())
    assert e.data["HostId"] == "ims.aliyuncs.com"
    with ali_raises("LimitExceeded.User.AccessKey", 409):
        ims(kp, mode).create_access_key(m.CreateAccessKeyRequest(user_principal_name=u.principal))

    # inactive keys count
    sub.update_access_key(m.UpdateAccessKeyRequest(user_access_key_id=k2.access_key_id, status="Inactive"))
    with ali_raises("LimitExceeded.User.AccessKey", 409):
        sub.create_access_key(m.CreateAccessKeyRequest())
    assert len(listed(sub)) == 2

    # deleting one makes room again
    sub.delete_access_key(m.DeleteAccessKeyRequest(user_access_key_id=k2.access_key_id))
    assert list(listed(sub)) == [u.ali_id]
    k3 = sub.create_access_key(m.CreateAccessKeyRequest()).body.access_key
    ali_remember(k3.access_key_secret, "sub-user's third key")
    sub.delete_access_key(m.DeleteAccessKeyRequest(user_access_key_id=k3.access_key_id))


@pytest.mark.parametrize("mode", MODES)
def test_root_key_defaults_to_the_caller(kp, mode):
    """The root's CreateAccessKey without UserPrincipalName makes a key of the
    root's own; with the init key that is the limit of two."""
    root = ims(kp, mode)
    before = listed(root)
    assert kp.init.aliyun_id in before and len(before) == 1, "another test left a root key behind"
    k = root.create_access_key(m.CreateAccessKeyRequest()).body.access_key
    try:
        assert set(listed(root)) == {kp.init.aliyun_id, k.access_key_id}
        mine = ims(kp, mode, (k.access_key_id, k.access_key_secret))
        assert set(listed(mine)) == {kp.init.aliyun_id, k.access_key_id}
        with ali_raises("LimitExceeded.User.AccessKey", 409):
            root.create_access_key(m.CreateAccessKeyRequest())
        root.update_access_key(m.UpdateAccessKeyRequest(user_access_key_id=k.access_key_id, status="Inactive"))
        with ali_raises("LimitExceeded.User.AccessKey", 409):
            root.create_access_key(m.CreateAccessKeyRequest())
        with ali_raises("InvalidAccessKeyId.Inactive", 400):
            listed(mine)
    finally:
        root.delete_access_key(m.DeleteAccessKeyRequest(user_access_key_id=k.access_key_id))
    assert list(listed(root)) == [kp.init.aliyun_id]


@pytest.mark.parametrize("mode", MODES)
def test_unknown_user_is_entity_not_exist(kp, mode):
    root = ims(kp, mode)
    nobody = f"{unique('nobody')}@{kp.init.account_id}.onaliyun.com"
    other_account = f"{unique('x')}@1{kp.init.account_id}.onaliyun.com"
    for upn in (nobody, other_account):
        with ali_raises("EntityNotExist.User", 404) as e:
            root.create_access_key(m.CreateAccessKeyRequest(user_principal_name=upn))
        assert e.data["Message"]
        with ali_raises("EntityNotExist.User", 404):
            root.list_access_keys(m.ListAccessKeysRequest(user_principal_name=upn))
        with ali_raises("EntityNotExist.User", 404):
            root.update_access_key(m.UpdateAccessKeyRequest(user_access_key_id=kp.init.aliyun_id,
                                                            status="Inactive", user_principal_name=upn))
        with ali_raises("EntityNotExist.User", 404):
            root.delete_access_key(m.DeleteAccessKeyRequest(user_access_key_id=kp.init.aliyun_id,
                                                            user_principal_name=upn))
        with ali_raises("EntityNotExist.User", 404):
            root.get_access_key_last_used(m.GetAccessKeyLastUsedRequest(user_access_key_id=kp.init.aliyun_id,
                                                                       user_principal_name=upn))
    with ali_raises("InvalidParameter", 400) as e:
        root.list_access_keys(m.ListAccessKeysRequest(user_principal_name="no-at-sign"))
    assert "UserPrincipalName" in e.data["Message"]
    # the root key was not touched
    assert listed(root)[kp.init.aliyun_id].status == "Active"


@pytest.mark.parametrize("mode", MODES)
def test_sub_user_acting_on_another_user_is_no_permission(kp, mode):
    a, b = new_ali_user(kp), new_ali_user(kp)
    sub_a = ims(kp, mode, (a.ali_id, a.ali_secret))
    calls = {
        "CreateAccessKey": lambda: sub_a.create_access_key(m.CreateAccessKeyRequest(user_principal_name=b.principal)),
        "ListAccessKeys": lambda: sub_a.list_access_keys(m.ListAccessKeysRequest(user_principal_name=b.principal)),
        "UpdateAccessKey": lambda: sub_a.update_access_key(m.UpdateAccessKeyRequest(
            user_access_key_id=b.ali_id, status="Inactive", user_principal_name=b.principal)),
        "DeleteAccessKey": lambda: sub_a.delete_access_key(m.DeleteAccessKeyRequest(
            user_access_key_id=b.ali_id, user_principal_name=b.principal)),
        "GetAccessKeyLastUsed": lambda: sub_a.get_access_key_last_used(m.GetAccessKeyLastUsedRequest(
            user_access_key_id=b.ali_id, user_principal_name=b.principal)),
    }
    for action, call in calls.items():
        with ali_raises("NoPermission", 403) as e:
            call()
        assert e.data["HostId"] == "ims.aliyuncs.com", action
    # a sub-user naming another user's key without UserPrincipalName does not reach it either
    with ali_raises(("EntityNotExist.User.AccessKey", "NoPermission")):
        sub_a.delete_access_key(m.DeleteAccessKeyRequest(user_access_key_id=b.ali_id))
    with ali_raises(("EntityNotExist.User.AccessKey", "NoPermission")):
        sub_a.update_access_key(m.UpdateAccessKeyRequest(user_access_key_id=kp.init.aliyun_id, status="Inactive"))
    # nothing changed
    root = ims(kp, mode)
    assert {k: v.status for k, v in listed(root, b.principal).items()} == {b.ali_id: "Active"}
    assert listed(root)[kp.init.aliyun_id].status == "Active"
    assert list(listed(sub_a)) == [a.ali_id]


@pytest.mark.parametrize("mode", MODES)
def test_parameter_errors(kp, mode):
    u = new_ali_user(kp)
    root = ims(kp, mode)
    with ali_raises("MissingParameter", 400) as e:
        root.update_access_key(m.UpdateAccessKeyRequest(status="Inactive", user_principal_name=u.principal))
    assert "UserAccessKeyId" in e.data["Message"]
    with ali_raises("MissingParameter", 400) as e:
        root.update_access_key(m.UpdateAccessKeyRequest(user_access_key_id=u.ali_id, user_principal_name=u.principal))
    assert "Status" in e.data["Message"]
    with ali_raises("InvalidParameter", 400) as e:
        root.update_access_key(m.UpdateAccessKeyRequest(user_access_key_id=u.ali_id, status="Sleeping",
                                                        user_principal_name=u.principal))
    assert "Status" in e.data["Message"]
    with ali_raises("MissingParameter", 400) as e:
        root.delete_access_key(m.DeleteAccessKeyRequest(user_principal_name=u.principal))
    assert "UserAccessKeyId" in e.data["Message"]
    with ali_raises("MissingParameter", 400):
        root.get_access_key_last_used(m.GetAccessKeyLastUsedRequest(user_principal_name=u.principal))
    unknown = "LTAI" + "0" * 20
    with ali_raises("EntityNotExist.User.AccessKey", 404):
        root.update_access_key(m.UpdateAccessKeyRequest(user_access_key_id=unknown, status="Inactive",
                                                        user_principal_name=u.principal))
    with ali_raises("EntityNotExist.User.AccessKey", 404):
        root.delete_access_key(m.DeleteAccessKeyRequest(user_access_key_id=unknown, user_principal_name=u.principal))
    with ali_raises("EntityNotExist.User.AccessKey", 404):
        root.get_access_key_last_used(m.GetAccessKeyLastUsedRequest(user_access_key_id=unknown,
                                                                   user_principal_name=u.principal))
    # the root's key is not the sub-user's
    with ali_raises("EntityNotExist.User.AccessKey", 404):
        root.get_access_key_last_used(m.GetAccessKeyLastUsedRequest(user_access_key_id=kp.init.aliyun_id,
                                                                   user_principal_name=u.principal))
    assert {k: v.status for k, v in listed(root, u.principal).items()} == {u.ali_id: "Active"}


def test_root_credentials_from_init(kp):
    ak, sk = root_cred(kp)
    assert re.fullmatch(r"LTAI[A-Za-z0-9]{20}", ak), ak
    assert re.fullmatch(r"[A-Za-z0-9]{30}", sk), "init aliyun.access_key_secret is not 30 alphanumerics"
    u = kp.user_create()
    assert u.principal == f"{u.name}@{kp.init.account_id}.onaliyun.com"
