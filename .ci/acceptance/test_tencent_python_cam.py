"""CAM 2019-01-16 access-key operations through the official Python SDK
(tencentcloud-sdk-python-cam), protocols.md A.7."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import time

import pytest
from tencentcloud.apigateway.v20180808 import models as gw
from tencentcloud.cam.v20190116 import models as cam
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

import harness
from harness import PY_VARIANTS, mk, raises_code, unique

VARIANTS = list(PY_VARIANTS)
CREATE_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
UNKNOWN_UIN = 999999999999


# -- small helpers -----------------------------------------------------------

def list_keys(client, target=None):
    fields = {} if target is None else {"TargetUin": target}
    resp = client.ListAccessKeys(mk(cam.ListAccessKeysRequest, **fields))
    assert resp.RequestId
    assert resp.AccessKeys is not None, "ListAccessKeys: AccessKeys missing (expected a list, maybe empty)"
    return {k.AccessKeyId: k for k in resp.AccessKeys}


def create_key(client, target=None, description=None):
    fields = {}
    if target is not None:
        fields["TargetUin"] = target
    if description is not None:
        fields["Description"] = description
    resp = client.CreateAccessKey(mk(cam.CreateAccessKeyRequest, **fields))
    assert resp.RequestId
    assert resp.AccessKey is not None, "CreateAccessKey: AccessKey missing"
    harness.remember(resp.AccessKey.SecretAccessKey, "CreateAccessKey")
    return resp.AccessKey


def update_key(client, key_id, status, target=None):
    fields = {"AccessKeyId": key_id, "Status": status}
    if target is not None:
        fields["TargetUin"] = target
    resp = client.UpdateAccessKey(mk(cam.UpdateAccessKeyRequest, **fields))
    assert resp.RequestId


def delete_key(client, key_id, target=None):
    fields = {"AccessKeyId": key_id}
    if target is not None:
        fields["TargetUin"] = target
    resp = client.DeleteAccessKey(mk(cam.DeleteAccessKeyRequest, **fields))
    assert resp.RequestId


@contextlib.contextmanager
def spare_root_key(kp):
    """A second key of the root (the root may hold two), deleted afterwards
    with the init key."""
    k = create_key(kp.cam(), description="spare")
    try:
        yield k
    finally:
        try:
            delete_key(kp.cam(), k.AccessKeyId)
        except Exception:  # noqa: BLE001 - already gone is fine
            pass


def assert_create_time(s):
    assert isinstance(s, str) and CREATE_TIME_RE.match(s), f"CreateTime {s!r} is not 'YYYY-MM-DD hh:mm:ss'"
    t = dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.timezone.utc).timestamp()
    # the zone is not pinned (real CAM uses UTC+8): accept anything within a day
    assert abs(t - time.time()) < 86400, f"CreateTime {s!r} is not today"


def security_last_used(client, ids):
    resp = client.GetSecurityLastUsed(mk(cam.GetSecurityLastUsedRequest, SecretIdList=list(ids)))
    assert resp.SecretIdLastUsedRows is not None, "GetSecurityLastUsed: SecretIdLastUsedRows missing"
    return {r.SecretId: r for r in resp.SecretIdLastUsedRows}


# -- the CLI contract --------------------------------------------------------

def test_init_output(kp):
    i = kp.init
    assert re.fullmatch(r"\d+", i.account_id), f"account_id {i.account_id!r} is not digits"
    assert isinstance(i.root_uin, int) and not isinstance(i.root_uin, bool), "tencent.uin is not a JSON number"
    assert i.root_uin == int(i.account_id)
    assert i.secret_id.startswith("AKID")
    assert i.secret_key
    assert i.aliyun_id.startswith("LTAI")
    assert i.aliyun_secret
    assert set(i.raw) >= {"account_id", "tencent", "aliyun"}


def test_user_create_output(kp):
    name = unique("cliuser")
    u = kp.user_create(name)
    assert u.name == name
    assert u.uin != kp.root_uin
    # user_principal_name, checked on the raw output
    cp = harness.run_cli(["user", "create", "--data-dir", str(kp.data_dir), "--name", name + "b", "--json"])
    obj = harness._json_one(cp, "user create")
    assert obj["user_principal_name"] == f"{name}b@{kp.init.account_id}.onaliyun.com"
    assert obj["uin"] != u.uin
    # a new user has no keys
    assert list_keys(kp.cam(), u.uin) == {}


def test_root_key_from_init_is_listed_and_works(kp):
    keys = list_keys(kp.cam())
    assert kp.init.secret_id in keys, "the root key from init is not in the root's ListAccessKeys"
    assert keys[kp.init.secret_id].Status == "Active"
    assert kp.init.secret_key.encode() not in harness.last_body("ListAccessKeys")


def test_cam_key_format(kp, user):
    """protocols.md A.7: real SecretId = AKID + 32 alphanumerics, SecretKey = 32 alphanumerics."""
    assert re.fullmatch(r"AKID[A-Za-z0-9]{32}", user.secret_id), user.secret_id
    assert re.fullmatch(r"[A-Za-z0-9]{32}", user.secret_key), "SecretAccessKey is not 32 alphanumerics"
    assert re.fullmatch(r"AKID[A-Za-z0-9]{32}", kp.init.secret_id), kp.init.secret_id


# -- the core flow, once per signing variant ---------------------------------

@pytest.mark.parametrize("variant", VARIANTS)
def test_cam_core_flow(kp, variant):
    root = kp.cam(variant)
    u = kp.new_user(with_key=False)
    desc = f"ci-{variant}"

    ak = create_key(root, u.uin, desc)
    assert ak.AccessKeyId.startswith("AKID")
    assert ak.SecretAccessKey and ak.SecretAccessKey != ak.AccessKeyId
    assert ak.Status == "Active"
    assert_create_time(ak.CreateTime)
    assert ak.Description == desc

    keys = list_keys(root, u.uin)
    assert set(keys) == {ak.AccessKeyId}
    k = keys[ak.AccessKeyId]
    assert k.Status == "Active"
    assert k.CreateTime == ak.CreateTime
    assert k.Description == desc
    assert ak.SecretAccessKey.encode() not in harness.last_body("ListAccessKeys"), \
        "ListAccessKeys leaks the secret"
    assert b"SecretAccessKey" not in harness.last_body("ListAccessKeys")

    # the new key signs requests of its own (same variant)
    sub = kp.cam(variant, cred=(ak.AccessKeyId, ak.SecretAccessKey))
    assert ak.AccessKeyId in list_keys(sub)

    # deactivate: refused immediately
    update_key(root, ak.AccessKeyId, "Inactive", u.uin)
    assert list_keys(root, u.uin)[ak.AccessKeyId].Status == "Inactive"
    with raises_code("AuthFailure.SecretIdNotFound"):
        list_keys(sub)

    # re-activate: works again
    update_key(root, ak.AccessKeyId, "Active", u.uin)
    assert list_keys(root, u.uin)[ak.AccessKeyId].Status == "Active"
    assert ak.AccessKeyId in list_keys(sub)

    # delete: gone and refused
    delete_key(root, ak.AccessKeyId, u.uin)
    assert ak.AccessKeyId not in list_keys(root, u.uin)
    with raises_code("AuthFailure.SecretIdNotFound"):
        list_keys(sub)


@pytest.mark.parametrize("variant", VARIANTS)
def test_apigw_create_api_key_with_tags(kp, variant):
    """API Gateway CreateApiKey with Tags, for every signing variant (Tags go
    as JSON in TC3 POST and as Tags.N.Key/Tags.N.Value in GET / v1)."""
    client = kp.apigw(variant)
    name = unique("citags")
    tags = [{"Key": "env", "Value": "dev test"}, {"Key": "team", "Value": "ci:acc/1"}]
    r = client.CreateApiKey(mk(gw.CreateApiKeyRequest, SecretName=name, AccessKeyType="auto", Tags=tags)).Result
    assert r is not None, "CreateApiKey: Result missing"
    harness.remember(r.AccessKeySecret, "CreateApiKey")
    assert r.SecretName == name
    assert r.AccessKeyType == "auto"
    assert re.fullmatch(r"AKID[A-Za-z0-9]{36}", r.AccessKeyId or ""), r.AccessKeyId
    assert r.AccessKeySecret
    assert sorted((t.Key, t.Value) for t in (r.Tags or [])) == sorted((t["Key"], t["Value"]) for t in tags)
    d = client.DescribeApiKey(mk(gw.DescribeApiKeyRequest, AccessKeyId=r.AccessKeyId)).Result
    assert d.AccessKeySecret == r.AccessKeySecret
    assert sorted((t.Key, t.Value) for t in (d.Tags or [])) == sorted((t["Key"], t["Value"]) for t in tags)
    assert client.DeleteApiKey(mk(gw.DeleteApiKeyRequest, AccessKeyId=r.AccessKeyId)).Result is True


# -- TargetUin semantics ------------------------------------------------------

def test_target_uin_defaults_to_caller_subuser(kp, user):
    sub = kp.cam(cred=(user.secret_id, user.secret_key))
    k2 = create_key(sub, description="self-made")
    try:
        assert set(list_keys(kp.cam(), user.uin)) == {user.secret_id, k2.AccessKeyId}
        assert set(list_keys(sub)) == {user.secret_id, k2.AccessKeyId}
        update_key(sub, k2.AccessKeyId, "Inactive")           # TargetUin omitted
        assert list_keys(sub)[k2.AccessKeyId].Status == "Inactive"
    finally:
        delete_key(sub, k2.AccessKeyId)                         # TargetUin omitted
    assert set(list_keys(sub)) == {user.secret_id}


def test_target_uin_defaults_to_caller_root(kp):
    root = kp.cam()
    before = set(list_keys(root))
    assert kp.init.secret_id in before
    k = create_key(root, description="root-second")
    try:
        after = list_keys(root)
        assert set(after) == before | {k.AccessKeyId}
        assert set(list_keys(root, kp.root_uin)) == set(after)
        # and the new key is the root's: it can list the root's keys
        assert set(list_keys(kp.cam(cred=(k.AccessKeyId, k.SecretAccessKey)))) == set(after)
    finally:
        delete_key(root, k.AccessKeyId)
    assert set(list_keys(root)) == before


# -- business errors ----------------------------------------------------------

def test_access_key_over_limit(kp, user):
    root = kp.cam()
    k2 = create_key(root, user.uin)
    with raises_code("OperationDenied.AccessKeyOverLimit"):
        create_key(root, user.uin)
    # inactive keys count too
    update_key(root, k2.AccessKeyId, "Inactive", user.uin)
    with raises_code("OperationDenied.AccessKeyOverLimit"):
        create_key(root, user.uin)
    # the user itself hits the same limit
    sub = kp.cam(cred=(user.secret_id, user.secret_key))
    with raises_code("OperationDenied.AccessKeyOverLimit"):
        create_key(sub)
    assert set(list_keys(root, user.uin)) == {user.secret_id, k2.AccessKeyId}
    # deleting one frees a slot
    delete_key(root, k2.AccessKeyId, user.uin)
    k3 = create_key(root, user.uin)
    assert set(list_keys(root, user.uin)) == {user.secret_id, k3.AccessKeyId}


def test_access_key_over_limit_root(kp):
    root = kp.cam()
    before = set(list_keys(root))
    assert len(before) == 1, f"root should hold only its init key here, has {sorted(before)}"
    k = create_key(root)
    try:
        with raises_code("OperationDenied.AccessKeyOverLimit"):
            create_key(root)
        with raises_code("OperationDenied.AccessKeyOverLimit"):
            create_key(root, kp.root_uin)
    finally:
        delete_key(root, k.AccessKeyId)


def test_unknown_target_uin(kp):
    assert UNKNOWN_UIN != kp.root_uin
    with raises_code("InvalidParameter.UserNotExist"):
        create_key(kp.cam(), UNKNOWN_UIN)


def test_subuser_cannot_create_key_for_root(kp, user):
    """ManageOwnAccessKeys covers the user's own keys only: the root's are out of
    reach (authorization refuses before the SubUin rule is reached)."""
    root_keys = set(list_keys(kp.cam()))
    sub = kp.cam(cred=(user.secret_id, user.secret_key))
    with raises_code("AuthFailure.UnauthorizedOperation") as e:
        create_key(sub, kp.root_uin)
    assert e.exc.message.startswith("you are not authorized to perform operation (cam:CreateAccessKey)\n"
                                    f"resource (qcs::cam::uin/{kp.init.account_id}:uin/{kp.root_uin}) "
                                    "has no permission"), e.exc.message
    assert set(list_keys(kp.cam())) == root_keys


def test_admin_subuser_cannot_create_key_for_root(kp):
    """Even a sub-user allowed everything (AdministratorAccess) may not make
    keys for the root: OperationDenied.SubUin."""
    u = kp.new_user()
    kp.attach_cam_policy(u.uin, harness.ADMINISTRATOR_ACCESS_ID)
    root_keys = set(list_keys(kp.cam()))
    with raises_code("OperationDenied.SubUin"):
        create_key(kp.cam(cred=(u.secret_id, u.secret_key)), kp.root_uin)
    assert set(list_keys(kp.cam())) == root_keys


def test_update_delete_uin_not_match(kp):
    root = kp.cam()
    u1, u2 = kp.new_user(), kp.new_user()
    for target in (u2.uin, kp.root_uin):
        with raises_code("OperationDenied.UinNotMatch"):
            update_key(root, u1.secret_id, "Inactive", target)
        with raises_code("OperationDenied.UinNotMatch"):
            delete_key(root, u1.secret_id, target)
    # a key of the root's addressed through a sub-user's uin (a spare root key,
    # so that a server that wrongly obeys does not lock the suite out)
    with spare_root_key(kp) as spare:
        with raises_code("OperationDenied.UinNotMatch"):
            update_key(root, spare.AccessKeyId, "Inactive", u1.uin)
        with raises_code("OperationDenied.UinNotMatch"):
            delete_key(root, spare.AccessKeyId, u1.uin)
        assert list_keys(root)[spare.AccessKeyId].Status == "Active"
    # nothing changed
    assert list_keys(root, u1.uin)[u1.secret_id].Status == "Active"
    assert u1.secret_id in list_keys(kp.cam(cred=(u1.secret_id, u1.secret_key)))


@pytest.mark.parametrize("op", ["update", "delete"])
def test_unknown_key_id(kp, user, op):
    """The code is not pinned (ResourceNotFound-like); an error must be raised."""
    bogus = "AKID" + "Z" * 32
    with raises_code(None):
        if op == "update":
            update_key(kp.cam(), bogus, "Inactive", user.uin)
        else:
            delete_key(kp.cam(), bogus, user.uin)


# -- sub-user scope -----------------------------------------------------------

def test_subuser_manages_own_keys(kp, user):
    sub = kp.cam(cred=(user.secret_id, user.secret_key))
    assert set(list_keys(sub)) == {user.secret_id}
    assert set(list_keys(sub, user.uin)) == {user.secret_id}
    k = create_key(sub, user.uin, "own-explicit")
    update_key(sub, k.AccessKeyId, "Inactive", user.uin)
    update_key(sub, k.AccessKeyId, "Active")
    delete_key(sub, k.AccessKeyId, user.uin)
    k = create_key(sub)
    update_key(sub, k.AccessKeyId, "Inactive")
    delete_key(sub, k.AccessKeyId)
    assert set(list_keys(sub)) == {user.secret_id}


def test_subuser_cannot_touch_other_users(kp):
    u1, u2 = kp.new_user(), kp.new_user()
    s1 = kp.cam(cred=(u1.secret_id, u1.secret_key))
    with raises_code("AuthFailure.UnauthorizedOperation"):
        list_keys(s1, u2.uin)
    # TargetUin = the root: ManageOwnAccessKeys does not cover the root's keys
    with raises_code("AuthFailure.UnauthorizedOperation"):
        list_keys(s1, kp.root_uin)
    with raises_code("AuthFailure.UnauthorizedOperation"):
        create_key(s1, u2.uin)
    with raises_code("AuthFailure.UnauthorizedOperation"):
        update_key(s1, u2.secret_id, "Inactive", u2.uin)
    with raises_code("AuthFailure.UnauthorizedOperation"):
        delete_key(s1, u2.secret_id, u2.uin)
    list_keys(kp.cam(cred=(u2.secret_id, u2.secret_key)))      # give u2's key a time of use
    assert_no_last_used_leak(kp, s1, [kp.init.secret_id, u2.secret_id])
    # without TargetUin the key is not the caller's: some error, and no effect
    with raises_code(None):
        update_key(s1, u2.secret_id, "Inactive")
    with raises_code(None):
        delete_key(s1, u2.secret_id)
    with spare_root_key(kp) as spare:
        with raises_code(None):
            update_key(s1, spare.AccessKeyId, "Inactive")
        with raises_code(None):
            delete_key(s1, spare.AccessKeyId)
        # TargetUin = root: not the caller's own user, so not authorized
        with raises_code("AuthFailure.UnauthorizedOperation"):
            update_key(s1, spare.AccessKeyId, "Inactive", kp.root_uin)
        with raises_code("AuthFailure.UnauthorizedOperation"):
            delete_key(s1, spare.AccessKeyId, kp.root_uin)
        assert list_keys(kp.cam())[spare.AccessKeyId].Status == "Active"
    assert set(list_keys(kp.cam(), u2.uin)) == {u2.secret_id}
    assert list_keys(kp.cam(), u2.uin)[u2.secret_id].Status == "Active"
    assert u2.secret_id in list_keys(kp.cam(cred=(u2.secret_id, u2.secret_key)))


def assert_no_last_used_leak(kp, sub_client, foreign_ids):
    """GetSecurityLastUsed by a sub-user on keys that are not its own.  The
    contract's "anything else -> AuthFailure.UnauthorizedOperation" suggests
    an error; answering with null rows (as for unknown ids) leaks nothing
    either.  Either is accepted; a real time of use is not."""
    # make sure the foreign keys have a time of use to leak
    for kid in foreign_ids:
        assert harness.poll(lambda: security_last_used(kp.cam(), [kid])[kid].LastSecretUsedDate), \
            f"setup: {kid} has no time of use"
    try:
        rows = security_last_used(sub_client, foreign_ids)
    except TencentCloudSDKException as e:
        assert e.code == "AuthFailure.UnauthorizedOperation", f"{e.code}: {e.message}"
        return
    for kid in foreign_ids:
        if kid in rows:
            assert rows[kid].LastSecretUsedDate is None and rows[kid].LastUsedDate is None, \
                f"a sub-user learns when another principal's key {kid} was used"


def test_subuser_has_no_api_gateway(kp, user):
    g = kp.apigw(cred=(user.secret_id, user.secret_key))
    with raises_code("AuthFailure.UnauthorizedOperation"):
        g.CreateApiKey(mk(gw.CreateApiKeyRequest, SecretName=unique("subgw"), AccessKeyType="auto"))
    with raises_code("AuthFailure.UnauthorizedOperation"):
        g.DescribeApiKeysStatus(mk(gw.DescribeApiKeysStatusRequest, Limit=10, Offset=0))
    # and one of the root's keys is out of reach
    r = kp.apigw().CreateApiKey(mk(gw.CreateApiKeyRequest, SecretName=unique("rootgw"))).Result
    try:
        with raises_code("AuthFailure.UnauthorizedOperation"):
            g.DescribeApiKey(mk(gw.DescribeApiKeyRequest, AccessKeyId=r.AccessKeyId))
        with raises_code("AuthFailure.UnauthorizedOperation"):
            g.DeleteApiKey(mk(gw.DeleteApiKeyRequest, AccessKeyId=r.AccessKeyId))
    finally:
        kp.apigw().DeleteApiKey(mk(gw.DeleteApiKeyRequest, AccessKeyId=r.AccessKeyId))


# -- GetSecurityLastUsed --------------------------------------------------------

def test_get_security_last_used(kp, user):
    root = kp.cam()
    rows = security_last_used(root, [user.secret_id])
    assert set(rows) == {user.secret_id}
    assert rows[user.secret_id].LastSecretUsedDate is None, \
        "a key that never signed a request has LastSecretUsedDate"

    t0 = int(time.time())
    list_keys(kp.cam(cred=(user.secret_id, user.secret_key)))   # use it once

    def used():
        v = security_last_used(root, [user.secret_id])[user.secret_id].LastSecretUsedDate
        return v
    v = harness.poll(used, timeout=5.0, interval=0.25)
    assert v is not None, "LastSecretUsedDate still null 5 s after the key was used"
    assert type(v) is int, f"LastSecretUsedDate {v!r} is not an integer"
    assert t0 - 2 <= v <= int(time.time()) + 2, f"LastSecretUsedDate {v} is not the time of use (~{t0})"

    both = security_last_used(root, [kp.init.secret_id, user.secret_id])
    assert set(both) == {kp.init.secret_id, user.secret_id}
    assert type(harness.poll(lambda: security_last_used(root, [kp.init.secret_id])[kp.init.secret_id]
                             .LastSecretUsedDate)) is int, "the root key has been used: expected a time"
