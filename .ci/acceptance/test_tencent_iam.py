"""CAM 2019-01-16 users and policies, and authorization on every action (issue 6),
through the official Python SDK (tencentcloud-sdk-python-cam / -apigateway) and tccli.

* Users: AddUser (UseApi=1 returns a key), GetUser, ListUsers (root excluded),
  DeleteUser (Force=0 with keys -> OperationDenied.HaveKeys; Force=1 deletes the keys,
  which needs cam:DeleteApiKey).
* Policies: CreatePolicy (CAM syntax; malformed -> InvalidParameter.PolicyDocumentError),
  AttachUserPolicy / DetachUserPolicy (idempotent), ListAttachedUserPolicies.
* Authorization: a sub-user with no policy may do nothing; with a policy exactly what it
  allows; an explicit deny wins; qcs:ip and qcs:current_time conditions; the system
  policies ReadOnlyAccess (2) and AdministratorAccess (1); detaching takes effect at once.
  A refusal is AuthFailure.UnauthorizedOperation with the message
  "you are not authorized to perform operation (cam:X)\\nresource (...) has no permission".

Field names and JSON types are checked on the raw replies (harness.last_body).
"""

from __future__ import annotations

import json
import re

import pytest
from tencentcloud.apigateway.v20180808 import models as gw
from tencentcloud.cam.v20190116 import models as cam
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

import harness
from harness import (ADMINISTRATOR_ACCESS_ID, READ_ONLY_ACCESS_ID, mk, raises_code,
                     unique)
from test_tccli import fails_with, ok_json, tccli, tccli_home  # noqa: F401 (fixture)

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
DENIED = "AuthFailure.UnauthorizedOperation"


# -- helpers -------------------------------------------------------------------

def raw(action: str) -> dict:
    """The last raw Response object of `action` the SDK received."""
    return json.loads(harness.last_body(action))["Response"]


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def add_user(client, name=None, **fields):
    r = client.AddUser(mk(cam.AddUserRequest, Name=name or unique("iamu"), **fields))
    if r.SecretKey:
        harness.remember(r.SecretKey, "AddUser SecretKey")
    return r


def get_user(client, name):
    return client.GetUser(mk(cam.GetUserRequest, Name=name))


def list_users(client) -> dict:
    return {u.Name: u for u in client.ListUsers(mk(cam.ListUsersRequest)).Data}


def delete_user(client, name, force=None):
    fields = {"Name": name}
    if force is not None:
        fields["Force"] = force
    return client.DeleteUser(mk(cam.DeleteUserRequest, **fields))


def cam_doc(*statements) -> str:
    return json.dumps({"version": "2.0", "statement": list(statements)})


def allow(*actions, resource="*", condition=None, effect="allow") -> dict:
    st = {"effect": effect, "action": list(actions), "resource": resource if isinstance(resource, list)
          else [resource]}
    if condition:
        st["condition"] = condition
    return st


def deny(*actions, resource="*") -> dict:
    return allow(*actions, resource=resource, effect="deny")


def create_policy(client, document, name=None, description=None) -> int:
    fields = {"PolicyName": name or unique("iamp"), "PolicyDocument": document}
    if description is not None:
        fields["Description"] = description
    r = client.CreatePolicy(mk(cam.CreatePolicyRequest, **fields))
    assert is_int(raw("CreatePolicy")["PolicyId"]), raw("CreatePolicy")
    return r.PolicyId


def attach(kp, uin, policy_id):
    kp.cam().AttachUserPolicy(mk(cam.AttachUserPolicyRequest, PolicyId=policy_id, AttachUin=uin))


def detach(kp, uin, policy_id):
    kp.cam().DetachUserPolicy(mk(cam.DetachUserPolicyRequest, PolicyId=policy_id, DetachUin=uin))


def attached(client, uin, **paging) -> dict:
    r = client.ListAttachedUserPolicies(mk(cam.ListAttachedUserPoliciesRequest, TargetUin=uin, **paging))
    return {p.PolicyId: p for p in r.List}


def user_resource(kp, uin) -> str:
    return f"qcs::cam::uin/{kp.init.account_id}:uin/{uin}"


def apikeys_resource(kp, key_id="*") -> str:
    # API keys are not regional: the region segment is empty whatever X-TC-Region says.
    return f"qcs::apigw::uin/{kp.init.account_id}:apikey/{key_id}"


def assert_denied(call, permission: str, resource: str | None = None):
    """The call is refused with AuthFailure.UnauthorizedOperation naming `permission`
    (and `resource`, when given) in CAM's message format."""
    with raises_code(DENIED) as e:
        call()
    msg = e.exc.message
    assert msg.startswith(f"you are not authorized to perform operation ({permission})\nresource ("), msg
    if resource is not None:
        assert f"\nresource ({resource}) has no permission" in msg, msg


class Sub:
    """A sub-user's clients and the calls the authorization tests make."""

    def __init__(self, kp, user):
        self.kp, self.u = kp, user
        self.cam = kp.cam(cred=(user.secret_id, user.secret_key))
        self.gw = kp.apigw(cred=(user.secret_id, user.secret_key))

    def list_own_keys(self):
        return self.cam.ListAccessKeys(mk(cam.ListAccessKeysRequest))

    def list_keys_of(self, uin):
        return self.cam.ListAccessKeys(mk(cam.ListAccessKeysRequest, TargetUin=uin))

    def create_own_key(self):
        return self.cam.CreateAccessKey(mk(cam.CreateAccessKeyRequest))

    def describe_api_keys(self):
        return self.gw.DescribeApiKeysStatus(mk(gw.DescribeApiKeysStatusRequest, Limit=10, Offset=0))

    def create_api_key(self):
        r = self.gw.CreateApiKey(mk(gw.CreateApiKeyRequest, SecretName=unique("subgw"), AccessKeyType="auto"))
        harness.remember(r.Result.AccessKeySecret, "sub-user CreateApiKey")
        return r


@pytest.fixture
def root_api_key(kp):
    r = kp.apigw().CreateApiKey(mk(gw.CreateApiKeyRequest, SecretName=unique("iamgw"))).Result
    yield r.AccessKeyId
    kp.apigw().DeleteApiKey(mk(gw.DeleteApiKeyRequest, AccessKeyId=r.AccessKeyId))


# -- users -----------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["tc3-post", "v1-sha256-get"])
def test_cam_user_lifecycle(kp, variant):
    root = kp.cam(variant)
    name = unique("camu")
    r = add_user(root, name, Remark="made by AddUser", ConsoleLogin=0, UseApi=1, PhoneNum="18600001234",
                 CountryCode="86", Email="camu@example.com")
    body = raw("AddUser")
    assert set(body) == {"Uin", "Name", "Uid", "SecretId", "SecretKey", "RequestId"}, body
    assert is_int(body["Uin"]) and is_int(body["Uid"]) and body["Name"] == name, body
    assert body["Uin"] != kp.root_uin
    assert re.fullmatch(r"AKID[A-Za-z0-9]{32}", body["SecretId"]), body["SecretId"]
    assert re.fullmatch(r"[A-Za-z0-9]{32}", body["SecretKey"]), "SecretKey is not 32 alphanumerics"
    uin, sid, skey = r.Uin, r.SecretId, r.SecretKey

    g = get_user(root, name)
    body = raw("GetUser")
    assert set(body) == {"Uin", "Name", "Uid", "Remark", "ConsoleLogin", "PhoneNum", "CountryCode", "Email",
                         "RecentlyLoginIP", "RecentlyLoginTime", "RequestId"}, body
    assert (body["Uin"], body["Name"], body["Remark"], body["ConsoleLogin"], body["PhoneNum"],
            body["CountryCode"], body["Email"]) == \
        (uin, name, "made by AddUser", 0, "18600001234", "86", "camu@example.com"), body
    assert is_int(body["Uid"]) and is_int(body["ConsoleLogin"]) and g.Uin == uin

    users = list_users(root)
    body = raw("ListUsers")
    assert isinstance(body["Data"], list)
    assert name in users and users[name].Uin == uin
    assert kp.root_uin not in {u.Uin for u in users.values()}, "ListUsers shows the root"
    mine = next(d for d in body["Data"] if d["Name"] == name)
    assert set(mine) >= {"Uin", "Name", "Uid", "Remark", "ConsoleLogin", "PhoneNum", "CountryCode", "Email",
                         "CreateTime"}, mine
    assert is_int(mine["Uin"]) and is_int(mine["ConsoleLogin"]) and TIME_RE.match(mine["CreateTime"]), mine

    # the key from UseApi=1 is the user's and authenticates (the user may do nothing yet)
    assert set(k.AccessKeyId for k in root.ListAccessKeys(mk(cam.ListAccessKeysRequest, TargetUin=uin))
               .AccessKeys) == {sid}
    sub = kp.cam(variant, cred=(sid, skey))
    assert_denied(lambda: sub.ListAccessKeys(mk(cam.ListAccessKeysRequest)), "cam:ListAccessKeys",
                  user_resource(kp, uin))

    with raises_code("InvalidParameter.SubUserNameInUse"):
        add_user(root, name)
    with raises_code("OperationDenied.HaveKeys"):
        delete_user(root, name)
    with raises_code("OperationDenied.HaveKeys"):
        delete_user(root, name, force=0)
    assert get_user(root, name).Uin == uin, "a refused DeleteUser deleted the user"

    attach(kp, uin, READ_ONLY_ACCESS_ID)     # DeleteUser detaches the user's policies with it
    delete_user(root, name, force=1)
    assert set(raw("DeleteUser")) == {"RequestId"}
    with raises_code("ResourceNotFound.UserNotExist"):
        get_user(root, name)
    assert name not in list_users(root)
    with raises_code("AuthFailure.SecretIdNotFound"):
        sub.ListAccessKeys(mk(cam.ListAccessKeysRequest))
    with raises_code("ResourceNotFound.UserNotExist"):
        delete_user(root, name, force=1)
    # the name is free again
    again = add_user(root, name)
    assert again.Uin != uin and again.SecretId is None
    assert set(raw("AddUser")) == {"Uin", "Name", "Uid", "RequestId"}, "no keys without UseApi=1"
    delete_user(root, name)                   # no keys: Force=0 deletes


def test_cam_user_errors(kp):
    root = kp.cam()
    with raises_code("ResourceNotFound.UserNotExist"):
        get_user(root, unique("nobody"))
    with raises_code("ResourceNotFound.UserNotExist"):
        delete_user(root, unique("nobody"))
    with raises_code("InvalidParameter.UserNameIllegal"):
        add_user(root, "bad name!")
    with raises_code("MissingParameter"):
        root.AddUser(mk(cam.AddUserRequest))
    # Keyplane has no console: a password is refused (code not pinned), and nothing is created
    name = unique("pw")
    with raises_code(None):
        add_user(root, name, ConsoleLogin=1, Password="Secr3t!Passw0rd")
    assert name not in list_users(root)


def test_force_delete_needs_delete_api_key(kp):
    """DeleteUser Force=1 on a user with keys needs cam:DeleteApiKey too:
    UnauthorizedOperation.DeleteApiKey, and nothing is deleted."""
    admin = kp.new_user()
    attach(kp, admin.uin, create_policy(kp.cam(), cam_doc(allow("cam:DeleteUser", "cam:GetUser"))))
    a = kp.cam(cred=(admin.secret_id, admin.secret_key))
    victim = add_user(kp.cam(), UseApi=1)
    with raises_code("OperationDenied.HaveKeys"):
        delete_user(a, victim.Name)
    with raises_code("UnauthorizedOperation.DeleteApiKey"):
        delete_user(a, victim.Name, force=1)
    assert get_user(a, victim.Name).Uin == victim.Uin
    assert kp.cam().ListAccessKeys(mk(cam.ListAccessKeysRequest, TargetUin=victim.Uin)).AccessKeys
    attach(kp, admin.uin, create_policy(kp.cam(), cam_doc(allow("cam:DeleteApiKey"))))
    delete_user(a, victim.Name, force=1)
    with raises_code("ResourceNotFound.UserNotExist"):
        get_user(kp.cam(), victim.Name)
    with raises_code("AuthFailure.SecretIdNotFound"):
        kp.cam(cred=(victim.SecretId, victim.SecretKey)).ListAccessKeys(mk(cam.ListAccessKeysRequest))


def test_cam_user_visible_to_ims(kp):
    """A user made with CAM AddUser is an IMS user too (name@<account>.onaliyun.com)."""
    from alibabacloud_ims20190815 import models as im
    import aliyun_harness as A
    name = unique("x2ims")
    r = add_user(kp.cam(), name, Remark="from CAM", PhoneNum="13800001111", CountryCode="86",
                 Email="x2ims@example.com", UseApi=1)
    upn = f"{name}@{kp.init.account_id}.onaliyun.com"
    u = A.ims(kp).get_user(im.GetUserRequest(user_principal_name=upn)).body.user
    assert (u.user_principal_name, u.user_name, u.user_id) == (upn, name, str(r.Uin))
    assert (u.comments, u.email, u.mobile_phone) == ("from CAM", "x2ims@example.com", "86-13800001111")
    listed = A.ims(kp).list_users(im.ListUsersRequest()).body.users.user
    assert upn in {x.user_principal_name for x in listed}
    # its Tencent key blocks IMS DeleteUser as an Alibaba key would
    with A.ali_raises("DeleteConflict.User.AccessKey", 409):
        A.ims(kp).delete_user(im.DeleteUserRequest(user_principal_name=upn))
    delete_user(kp.cam(), name, force=1)
    assert upn not in {x.user_principal_name for x in A.ims(kp).list_users(im.ListUsersRequest()).body.users.user}


# -- policies ----------------------------------------------------------------------

def test_cam_create_attach_detach_list(kp):
    root = kp.cam()
    u = kp.new_user(with_key=False, manage_own_keys=False)
    assert attached(root, u.uin) == {}
    assert raw("ListAttachedUserPolicies")["TotalNum"] == 0 and raw("ListAttachedUserPolicies")["List"] == []

    name = unique("camp")
    pid = create_policy(root, cam_doc(allow("name/cam:ListAccessKeys", resource=user_resource(kp, u.uin))),
                        name=name, description="lists its keys")
    with raises_code("FailedOperation.PolicyNameInUse"):
        create_policy(root, cam_doc(allow("cam:ListUsers")), name=name)
    with raises_code("InvalidParameter.PolicyNameError"):
        create_policy(root, cam_doc(allow("cam:ListUsers")), name="bad name")
    with raises_code("InvalidParameter.DescriptionLengthOverlimit"):
        create_policy(root, cam_doc(allow("cam:ListUsers")), description="d" * 301)

    attach(kp, u.uin, pid)
    attach(kp, u.uin, pid)                                  # idempotent
    attach(kp, u.uin, READ_ONLY_ACCESS_ID)
    got = attached(root, u.uin)
    body = raw("ListAttachedUserPolicies")
    assert body["TotalNum"] == 2 and set(got) == {pid, READ_ONLY_ACCESS_ID}, body
    custom = next(p for p in body["List"] if p["PolicyId"] == pid)
    assert (custom["PolicyName"], custom["PolicyType"], custom["CreateMode"], custom["Remark"]) == \
        (name, "User", 2, "lists its keys"), custom
    assert TIME_RE.match(custom["AddTime"]), custom
    system = next(p for p in body["List"] if p["PolicyId"] == READ_ONLY_ACCESS_ID)
    assert (system["PolicyName"], system["PolicyType"]) == ("ReadOnlyAccess", "QCS"), system
    for p in body["List"]:
        assert is_int(p["PolicyId"]) and is_int(p["CreateMode"]), p

    # paging
    p1, p2 = attached(root, u.uin, Page=1, Rp=1), attached(root, u.uin, Page=2, Rp=1)
    assert raw("ListAttachedUserPolicies")["TotalNum"] == 2
    assert len(p1) == len(p2) == 1 and set(p1) | set(p2) == {pid, READ_ONLY_ACCESS_ID}
    assert attached(root, u.uin, Page=3, Rp=1) == {}

    detach(kp, u.uin, pid)
    assert set(attached(root, u.uin)) == {READ_ONLY_ACCESS_ID}
    detach(kp, u.uin, pid)                                  # idempotent
    detach(kp, u.uin, READ_ONLY_ACCESS_ID)
    assert attached(root, u.uin) == {}

    with raises_code("ResourceNotFound.PolicyIdNotFound"):
        attach(kp, u.uin, 987654321)
    with raises_code("ResourceNotFound.UserNotExist"):
        attach(kp, 999999999999, pid)
    with raises_code("ResourceNotFound.UserNotExist"):
        attached(root, 999999999999)


MALFORMED_CAM = {
    "not-json": '{"version":"2.0","statement":[',
    "not-an-object": '["version", "2.0"]',
    "wrong-version": json.dumps({"version": "1.0", "statement": [allow("cam:ListUsers")]}),
    "ram-syntax": json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ram:ListUsers",
                                                             "Resource": "*"}]}),
    "bad-effect": json.dumps({"version": "2.0", "statement": [allow("cam:ListUsers", effect="permit")]}),
    "missing-action": json.dumps({"version": "2.0", "statement": [{"effect": "allow", "resource": ["*"]}]}),
    "no-statement": json.dumps({"version": "2.0", "statement": []}),
    "unknown-operator": cam_doc(allow("cam:ListUsers", condition={"ip_sort_of": {"qcs:ip": "10.0.0.0/8"}})),
    "bad-ip": cam_doc(allow("cam:ListUsers", condition={"ip_equal": {"qcs:ip": "10.0.0.300/8"}})),
    "principal": json.dumps({"version": "2.0", "statement": [dict(allow("cam:ListUsers"),
                                                                  principal={"qcs": ["qcs::cam::uin/1:root"]})]}),
    "duplicate-field": '{"version":"2.0","statement":[{"effect":"deny","effect":"allow",'
                       '"action":["cam:ListUsers"],"resource":["*"]}]}',
}


@pytest.mark.parametrize("kind", list(MALFORMED_CAM))
def test_cam_malformed_policy_document(kp, kind):
    name = unique("bad")
    with raises_code("InvalidParameter.PolicyDocumentError"):
        create_policy(kp.cam(), MALFORMED_CAM[kind], name=name)
    # nothing was created: the name is still free
    create_policy(kp.cam(), cam_doc(allow("cam:ListUsers")), name=name)


# -- authorization ----------------------------------------------------------------

def test_user_without_policies_can_do_nothing_then_exactly_what_its_policy_says(kp, root_api_key):
    """The issue's acceptance, Tencent side."""
    u = kp.new_user(manage_own_keys=False)
    other = kp.new_user(with_key=False, manage_own_keys=False)
    s = Sub(kp, u)
    acct, me = kp.init.account_id, user_resource(kp, u.uin)
    refused = {
        "ListAccessKeys": (s.list_own_keys, "cam:ListAccessKeys", me),
        "ListAccessKeys other": (lambda: s.list_keys_of(other.uin), "cam:ListAccessKeys",
                                 user_resource(kp, other.uin)),
        "CreateAccessKey": (s.create_own_key, "cam:CreateAccessKey", me),
        "UpdateAccessKey": (lambda: s.cam.UpdateAccessKey(mk(cam.UpdateAccessKeyRequest, AccessKeyId=u.secret_id,
                                                              Status="Inactive")), "cam:UpdateAccessKey", me),
        "DeleteAccessKey": (lambda: s.cam.DeleteAccessKey(mk(cam.DeleteAccessKeyRequest,
                                                              AccessKeyId=u.secret_id)), "cam:DeleteAccessKey", me),
        "GetSecurityLastUsed": (lambda: s.cam.GetSecurityLastUsed(mk(cam.GetSecurityLastUsedRequest,
                                                                     SecretIdList=[u.secret_id])),
                                "cam:GetSecurityLastUsed", me),
        "AddUser": (lambda: add_user(s.cam), "cam:AddUser", "*"),
        "GetUser": (lambda: get_user(s.cam, u.name), "cam:GetUser", "*"),
        "ListUsers": (lambda: list_users(s.cam), "cam:ListUsers", "*"),
        "DeleteUser": (lambda: delete_user(s.cam, other.name), "cam:DeleteUser", "*"),
        "CreatePolicy": (lambda: create_policy(s.cam, cam_doc(allow("*"))), "cam:CreatePolicy", "*"),
        # no privilege escalation: it may not give itself AdministratorAccess
        "AttachUserPolicy": (lambda: s.cam.AttachUserPolicy(mk(cam.AttachUserPolicyRequest,
                                                               PolicyId=ADMINISTRATOR_ACCESS_ID, AttachUin=u.uin)),
                             "cam:AttachUserPolicy", "*"),
        "ListAttachedUserPolicies": (lambda: attached(s.cam, u.uin), "cam:ListAttachedUserPolicies", "*"),
        "CreateApiKey": (s.create_api_key, "apigw:CreateApiKey", apikeys_resource(kp)),
        "DescribeApiKeysStatus": (s.describe_api_keys, "apigw:DescribeApiKeysStatus", apikeys_resource(kp)),
        "DescribeApiKey": (lambda: s.gw.DescribeApiKey(mk(gw.DescribeApiKeyRequest, AccessKeyId=root_api_key)),
                           "apigw:DescribeApiKey", apikeys_resource(kp, root_api_key)),
        "DisableApiKey": (lambda: s.gw.DisableApiKey(mk(gw.DisableApiKeyRequest, AccessKeyId=root_api_key)),
                          "apigw:DisableApiKey", apikeys_resource(kp, root_api_key)),
        "DeleteApiKey": (lambda: s.gw.DeleteApiKey(mk(gw.DeleteApiKeyRequest, AccessKeyId=root_api_key)),
                         "apigw:DeleteApiKey", apikeys_resource(kp, root_api_key)),
    }
    for what, (call, permission, resource) in refused.items():
        try:
            assert_denied(call, permission, resource)
        except AssertionError as e:
            raise AssertionError(f"{what}: {e}") from None
    # nothing changed
    root = kp.cam()
    assert attached(root, u.uin) == {}
    keys = root.ListAccessKeys(mk(cam.ListAccessKeysRequest, TargetUin=u.uin)).AccessKeys
    assert [(k.AccessKeyId, k.Status) for k in keys] == [(u.secret_id, "Active")]
    assert get_user(root, other.name).Uin == other.uin
    assert kp.apigw().DescribeApiKey(mk(gw.DescribeApiKeyRequest, AccessKeyId=root_api_key)).Result.Status == 1

    # exactly what the policy allows
    allowed = create_policy(root, cam_doc(allow("cam:ListAccessKeys", resource=me),
                                          allow("apigw:DescribeApiKeysStatus")))
    attach(kp, u.uin, allowed)
    assert [k.AccessKeyId for k in s.list_own_keys().AccessKeys] == [u.secret_id]
    assert root_api_key in {k.AccessKeyId for k in s.describe_api_keys().Result.ApiKeySet}
    assert_denied(lambda: s.list_keys_of(other.uin), "cam:ListAccessKeys", user_resource(kp, other.uin))
    assert_denied(s.create_own_key, "cam:CreateAccessKey", me)
    assert_denied(lambda: list_users(s.cam), "cam:ListUsers", "*")
    assert_denied(s.create_api_key, "apigw:CreateApiKey", apikeys_resource(kp))
    assert_denied(lambda: s.gw.DescribeApiKey(mk(gw.DescribeApiKeyRequest, AccessKeyId=root_api_key)),
                  "apigw:DescribeApiKey", apikeys_resource(kp, root_api_key))

    # an explicit deny in a second policy overrides the allow
    denying = create_policy(root, cam_doc(deny("cam:ListAccessKeys")))
    attach(kp, u.uin, denying)
    assert_denied(s.list_own_keys, "cam:ListAccessKeys", me)
    s.describe_api_keys()                                   # the rest of the allow still holds
    # detaching takes effect at once, both ways
    detach(kp, u.uin, denying)
    s.list_own_keys()
    detach(kp, u.uin, allowed)
    assert_denied(s.list_own_keys, "cam:ListAccessKeys", me)
    assert_denied(s.describe_api_keys, "apigw:DescribeApiKeysStatus", apikeys_resource(kp))


def test_wildcards_and_the_own_user_variable(kp):
    """Action wildcards (`cam:List*`) and resource wildcards (`uin/*`), and
    ManageOwnAccessKeys (PolicyId 3) reaching the caller's own keys only."""
    u = kp.new_user(manage_own_keys=False)
    other = kp.new_user(with_key=False, manage_own_keys=False)
    s = Sub(kp, u)
    attach(kp, u.uin, create_policy(kp.cam(), cam_doc(
        allow("cam:List*", resource=f"qcs::cam::uin/{kp.init.account_id}:uin/*"))))
    s.list_own_keys()
    s.list_keys_of(other.uin)
    assert_denied(lambda: list_users(s.cam), "cam:ListUsers", "*")      # resource `*` is not uin/*
    assert_denied(s.create_own_key, "cam:CreateAccessKey")

    v = kp.new_user(manage_own_keys=True)
    sv = Sub(kp, v)
    assert [k.AccessKeyId for k in sv.list_own_keys().AccessKeys] == [v.secret_id]
    assert_denied(lambda: sv.list_keys_of(other.uin), "cam:ListAccessKeys", user_resource(kp, other.uin))
    assert_denied(lambda: sv.list_keys_of(u.uin), "cam:ListAccessKeys", user_resource(kp, u.uin))


def test_manage_own_access_keys_covers_get_security_last_used(kp, user):
    """GetSecurityLastUsed is asked on the caller's own user, so ManageOwnAccessKeys grants it;
    a sub-user sees the last use of its own keys only."""
    sub = kp.cam(cred=(user.secret_id, user.secret_key))
    rows = sub.GetSecurityLastUsed(mk(cam.GetSecurityLastUsedRequest, SecretIdList=[user.secret_id]))
    assert [r.SecretId for r in rows.SecretIdLastUsedRows] == [user.secret_id]
    assert rows.SecretIdLastUsedRows[0].LastUsedDate


@pytest.mark.parametrize("condition, allowed", [
    ({"ip_equal": {"qcs:ip": "10.0.0.0/8"}}, False),
    ({"ip_equal": {"qcs:ip": ["192.168.0.0/16", "127.0.0.1/32"]}}, True),
    ({"ip_not_equal": {"qcs:ip": "127.0.0.0/8"}}, False),
    ({"date_less_than": {"qcs:current_time": "2020-01-01T00:00:00Z"}}, False),
    ({"date_greater_than": {"qcs:current_time": "2020-01-01T00:00:00Z"}}, True),
    ({"date_less_than": {"qcs:current_time": "2020-01-01T00:00:00Z"},
      "ip_equal": {"qcs:ip": "127.0.0.1"}}, False),
], ids=["ip-10/8", "ip-127.0.0.1/32", "not-ip-127/8", "time-before-2020", "time-after-2020", "time-and-ip"])
def test_conditions(kp, condition, allowed):
    u = kp.new_user(manage_own_keys=False)
    s = Sub(kp, u)
    attach(kp, u.uin, create_policy(kp.cam(), cam_doc(allow("cam:ListAccessKeys", condition=condition))))
    if allowed:
        assert [k.AccessKeyId for k in s.list_own_keys().AccessKeys] == [u.secret_id]
    else:
        assert_denied(s.list_own_keys, "cam:ListAccessKeys", user_resource(kp, u.uin))


def test_read_only_access(kp, root_api_key):
    u = kp.new_user(manage_own_keys=False)
    other = kp.new_user(manage_own_keys=False)
    attach(kp, u.uin, READ_ONLY_ACCESS_ID)
    s = Sub(kp, u)
    # Get*, List*, Describe*: on everything...
    assert [k.AccessKeyId for k in s.list_own_keys().AccessKeys] == [u.secret_id]
    assert [k.AccessKeyId for k in s.list_keys_of(other.uin).AccessKeys] == [other.secret_id]
    assert {u.name, other.name} <= set(list_users(s.cam))
    assert get_user(s.cam, other.name).Uin == other.uin
    assert set(attached(s.cam, u.uin)) == {READ_ONLY_ACCESS_ID}
    s.cam.GetSecurityLastUsed(mk(cam.GetSecurityLastUsedRequest, SecretIdList=[u.secret_id]))
    # ...except API Gateway keys, whose descriptions carry their secrets
    assert_denied(s.describe_api_keys, "apigw:DescribeApiKeysStatus", apikeys_resource(kp))
    assert_denied(lambda: s.gw.DescribeApiKey(mk(gw.DescribeApiKeyRequest, AccessKeyId=root_api_key)),
                  "apigw:DescribeApiKey", apikeys_resource(kp, root_api_key))
    # nothing else
    assert_denied(s.create_own_key, "cam:CreateAccessKey")
    assert_denied(lambda: add_user(s.cam), "cam:AddUser", "*")
    assert_denied(lambda: create_policy(s.cam, cam_doc(allow("*"))), "cam:CreatePolicy", "*")
    assert_denied(lambda: s.cam.AttachUserPolicy(mk(cam.AttachUserPolicyRequest, PolicyId=ADMINISTRATOR_ACCESS_ID,
                                                    AttachUin=u.uin)), "cam:AttachUserPolicy", "*")
    assert_denied(lambda: delete_user(s.cam, other.name, force=1), "cam:DeleteUser", "*")
    assert_denied(s.create_api_key, "apigw:CreateApiKey")
    assert_denied(lambda: s.gw.DisableApiKey(mk(gw.DisableApiKeyRequest, AccessKeyId=root_api_key)),
                  "apigw:DisableApiKey")
    # detached: nothing at all, at once
    detach(kp, u.uin, READ_ONLY_ACCESS_ID)
    assert_denied(lambda: list_users(s.cam), "cam:ListUsers", "*")


def test_administrator_access(kp):
    u = kp.new_user(manage_own_keys=False)
    attach(kp, u.uin, ADMINISTRATOR_ACCESS_ID)
    s = Sub(kp, u)
    made = add_user(s.cam, UseApi=1)
    pid = create_policy(s.cam, cam_doc(allow("cam:ListUsers")))
    s.cam.AttachUserPolicy(mk(cam.AttachUserPolicyRequest, PolicyId=pid, AttachUin=made.Uin))
    assert set(attached(s.cam, made.Uin)) == {pid}
    assert made.Name in list_users(kp.cam(cred=(made.SecretId, made.SecretKey)))
    r = s.create_api_key().Result
    s.gw.DeleteApiKey(mk(gw.DeleteApiKeyRequest, AccessKeyId=r.AccessKeyId))
    delete_user(s.cam, made.Name, force=1)
    with raises_code("ResourceNotFound.UserNotExist"):
        get_user(kp.cam(), made.Name)
    detach(kp, u.uin, ADMINISTRATOR_ACCESS_ID)
    assert_denied(lambda: add_user(s.cam), "cam:AddUser", "*")


# -- tccli ------------------------------------------------------------------------

def test_tccli_users_and_policies(kp, tccli_home):
    name = unique("tcciu")
    added = ok_json(tccli(kp, tccli_home, "cam", "AddUser", "--Name", name, "--UseApi", 1, "--Remark", "via tccli"),
                    "AddUser")
    assert added["Name"] == name and is_int(added["Uin"]) and added["SecretId"].startswith("AKID")
    harness.remember(added["SecretKey"], "tccli AddUser")
    uin, cred = added["Uin"], (added["SecretId"], added["SecretKey"])

    listed = ok_json(tccli(kp, tccli_home, "cam", "ListUsers"), "ListUsers")
    assert name in {u["Name"] for u in listed["Data"]}

    fails_with(tccli(kp, tccli_home, "cam", "ListAccessKeys", cred=cred), DENIED, "a user without policies")

    document = cam_doc(allow("cam:ListAccessKeys", resource=user_resource(kp, uin)))
    created = ok_json(tccli(kp, tccli_home, "cam", "CreatePolicy", "--PolicyName", unique("tccp"),
                            "--PolicyDocument", document, "--Description", "tccli policy"), "CreatePolicy")
    pid = created["PolicyId"]
    assert is_int(pid)
    fails_with(tccli(kp, tccli_home, "cam", "CreatePolicy", "--PolicyName", unique("tccp"),
                     "--PolicyDocument", '{"version":"2.0"'), "InvalidParameter.PolicyDocumentError",
               "malformed document")

    ok_json(tccli(kp, tccli_home, "cam", "AttachUserPolicy", "--PolicyId", pid, "--AttachUin", uin),
            "AttachUserPolicy")
    pols = ok_json(tccli(kp, tccli_home, "cam", "ListAttachedUserPolicies", "--TargetUin", uin),
                   "ListAttachedUserPolicies")
    assert pols["TotalNum"] == 1 and [p["PolicyId"] for p in pols["List"]] == [pid]
    own = ok_json(tccli(kp, tccli_home, "cam", "ListAccessKeys", cred=cred), "ListAccessKeys (allowed)")
    assert [k["AccessKeyId"] for k in own["AccessKeys"]] == [cred[0]]

    fails_with(tccli(kp, tccli_home, "cam", "DeleteUser", "--Name", name), "OperationDenied.HaveKeys",
               "DeleteUser with keys")
    ok_json(tccli(kp, tccli_home, "cam", "DeleteUser", "--Name", name, "--Force", 1), "DeleteUser Force=1")
    fails_with(tccli(kp, tccli_home, "cam", "ListAccessKeys", cred=cred), "AuthFailure.SecretIdNotFound",
               "the deleted user's key")


def test_cam_get_and_delete_policy(kp):
    """GetPolicy shows the document in CAM syntax (also a preset policy's); DeletePolicy takes a
    list of ids, detaches the policy from its users (who lose what it granted at once) and
    refuses a preset policy."""
    root = kp.cam()
    u = kp.new_user(manage_own_keys=False)
    document = cam_doc(allow("cam:ListAccessKeys", condition={"ip_equal": {"qcs:ip": "127.0.0.1"}}))
    policy_id = create_policy(root, document, description="list keys from here")
    attach(kp, u.uin, policy_id)
    got = root.GetPolicy(mk(cam.GetPolicyRequest, PolicyId=policy_id))
    assert got.Type == 1 and got.Description == "list keys from here", got
    body = raw("GetPolicy")
    assert {"PolicyName", "Description", "Type", "AddTime", "UpdateTime", "PolicyDocument"} <= set(body), body
    doc = json.loads(got.PolicyDocument)
    assert doc["version"] == "2.0"
    assert doc["statement"][0]["action"] == ["cam:ListAccessKeys"]
    assert doc["statement"][0]["condition"] == {"ip_equal": {"qcs:ip": ["127.0.0.1"]}}
    preset = root.GetPolicy(mk(cam.GetPolicyRequest, PolicyId=READ_ONLY_ACCESS_ID))
    assert (preset.PolicyName, preset.Type) == ("ReadOnlyAccess", 2)

    sub = kp.cam(cred=(u.secret_id, u.secret_key))
    sub.ListAccessKeys(mk(cam.ListAccessKeysRequest))
    root.DeletePolicy(mk(cam.DeletePolicyRequest, PolicyId=[policy_id]))
    with raises_code("AuthFailure.UnauthorizedOperation"):
        sub.ListAccessKeys(mk(cam.ListAccessKeysRequest))
    assert attached(root, u.uin) == {}
    with raises_code("ResourceNotFound.PolicyIdNotFound"):
        root.GetPolicy(mk(cam.GetPolicyRequest, PolicyId=policy_id))
    with raises_code("InvalidParameter.PolicyIdError"):
        root.DeletePolicy(mk(cam.DeletePolicyRequest, PolicyId=[ADMINISTRATOR_ACCESS_ID]))


def test_cam_list_policies(kp):
    """ListPolicies: the preset policies (Scope=QCS, Type 2) and the account's own (Scope=Local,
    Type 1, with their Attachments), Keyword and Page/Rp."""
    root = kp.cam()
    u = kp.new_user(manage_own_keys=False)
    name = unique("listed")
    policy_id = create_policy(root, cam_doc(allow("cam:GetUser")), name=name)
    attach(kp, u.uin, policy_id)
    preset = root.ListPolicies(mk(cam.ListPoliciesRequest, Scope="QCS"))
    assert {p.PolicyName for p in preset.List} == {"AdministratorAccess", "ReadOnlyAccess", "ManageOwnAccessKeys"}
    assert {p.Type for p in preset.List} == {2}
    mine = root.ListPolicies(mk(cam.ListPoliciesRequest, Scope="Local", Keyword=name))
    assert mine.TotalNum == 1, raw("ListPolicies")
    (listed,) = mine.List
    assert (listed.PolicyId, listed.PolicyName, listed.Type, listed.Attachments) == (policy_id, name, 1, 1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", listed.AddTime), listed.AddTime
    everything = root.ListPolicies(mk(cam.ListPoliciesRequest))
    first = root.ListPolicies(mk(cam.ListPoliciesRequest, Rp=1, Page=1))
    assert first.TotalNum == everything.TotalNum and len(first.List) == 1
    with raises_code("InvalidParameterValue"):
        root.ListPolicies(mk(cam.ListPoliciesRequest, Rp=201))
