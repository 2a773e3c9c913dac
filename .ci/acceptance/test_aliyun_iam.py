"""RAM users (IMS 2019-08-15) and policies (RAM 2015-05-01), and authorization on
every action (issue 6), through the tea Python SDKs (`alibabacloud_ims20190815`,
`alibabacloud_ram20150501`, `alibabacloud_smc20190601`), each test in ACS3 and in RPC v1
mode, and the legacy `aliyun-python-sdk-core` CommonRequest for RAM.

* Users: CreateUser (UserPrincipalName name@<account>.onaliyun.com), GetUser (by
  UserPrincipalName, UserId or UserAccessKeyId), ListUsers (Marker/MaxItems), DeleteUser
  (409 DeleteConflict.User.AccessKey / .Policy while the user has keys / policies).
* Policies: CreatePolicy (RAM syntax; malformed -> 400 MalformedPolicyDocument),
  AttachPolicyToUser / DetachPolicyFromUser (System | Custom), ListPoliciesForUser.
* One user model: users and policies made in either dialect are seen by the other.
* Authorization: a sub-user with no policy may do nothing (IMS/RAM: 403 NoPermission,
  SMC: 403 Forbidden.RAM, with an AccessDeniedDetail naming AuthAction, AuthResource and
  NoPermissionType); with a policy exactly what it allows; an explicit Deny wins
  (ExplicitDeny); acs:SourceIp and acs:CurrentTime conditions; ReadOnlyAccess and
  AdministratorAccess; detaching takes effect at once.

Field names and JSON types are checked on the raw replies (aliyun_harness.last_observed).
"""

from __future__ import annotations

import base64
import json
import re

import pytest
from alibabacloud_ims20190815 import models as im
from alibabacloud_ram20150501 import models as rm
from alibabacloud_smc20190601 import models as sm
from tencentcloud.cam.v20190116 import models as cam

import harness
from aliyun_harness import (RAM_VERSION, TEA_MODES, ali_raises, ali_remember, attach_ram_policy, ims,
                            last_observed, legacy_client, legacy_json, legacy_request, new_ali_user, ram, smc)
from harness import mk, raises_code, unique

MODES = list(TEA_MODES)
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


# -- helpers -------------------------------------------------------------------

def raw(action: str) -> dict:
    return last_observed(action, "tea").json()


def upn(kp, name: str) -> str:
    return f"{name}@{kp.init.account_id}.onaliyun.com"


def create_user(client, kp, name=None, **fields):
    name = name or unique("aliu")
    fields.setdefault("display_name", f"DN {name[-6:]}")
    return client.create_user(im.CreateUserRequest(user_principal_name=upn(kp, name), **fields)).body.user


def all_users(client) -> dict:
    return {u.user_principal_name: u for u in client.list_users(im.ListUsersRequest()).body.users.user}


def ram_doc(*statements) -> str:
    return json.dumps({"Version": "1", "Statement": list(statements)})


def allow(*actions, resource="*", condition=None, effect="Allow") -> dict:
    st = {"Effect": effect, "Action": list(actions), "Resource": resource}
    if condition:
        st["Condition"] = condition
    return st


def deny(*actions, resource="*") -> dict:
    return allow(*actions, resource=resource, effect="Deny")


def create_policy(client, document, name=None, description=None):
    return client.create_policy(rm.CreatePolicyRequest(policy_name=name or unique("alip"),
                                                       policy_document=document,
                                                       description=description)).body.policy


def attach(kp, user_name, policy_name, policy_type="Custom", mode="acs3"):
    ram(kp, mode).attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type=policy_type, policy_name=policy_name,
                                                                     user_name=user_name))


def detach(kp, user_name, policy_name, policy_type="Custom", mode="acs3"):
    ram(kp, mode).detach_policy_from_user(rm.DetachPolicyFromUserRequest(
        policy_type=policy_type, policy_name=policy_name, user_name=user_name))


def grant(kp, user, *statements) -> str:
    """A custom policy of `statements`, attached to `user`; returns its name."""
    name = create_policy(ram(kp), ram_doc(*statements)).policy_name
    attach(kp, user.name, name)
    return name


def policies_of(client, user_name) -> dict:
    r = client.list_policies_for_user(rm.ListPoliciesForUserRequest(user_name=user_name))
    return {(p.policy_type, p.policy_name): p for p in r.body.policies.policy}


def user_arn(kp, name) -> str:
    return f"acs:ram::{kp.init.account_id}:user/{name}"


def policy_arn(kp, name) -> str:
    return f"acs:ram::{kp.init.account_id}:policy/{name}"


def assert_denied(kp, user, call, action: str, resource: str | tuple | None = None, *,
                  kind: str = "ImplicitDeny", code: str = "NoPermission"):
    """Refused with 403 `code` and an AccessDeniedDetail naming `action`, `resource`
    (one of them, for a tuple) and `kind`; the encoded diagnosis says the same."""
    with ali_raises(code, 403) as e:
        call()
    assert "not authorized" in e.data["Message"], e.data
    d = e.data.get("AccessDeniedDetail")
    assert isinstance(d, dict), f"{action}: no AccessDeniedDetail object: {e.data}"
    assert d["AuthAction"] == action, d
    if resource is not None:
        want = resource if isinstance(resource, tuple) else (resource,)
        assert d["AuthResource"] in want, f"{action}: AuthResource {d['AuthResource']}, expected {want}"
    assert d["NoPermissionType"] == kind, d
    assert d["AuthPrincipalType"] == "SubUser", d
    assert d["AuthPrincipalOwnerId"] == str(kp.init.account_id), d
    assert d["AuthPrincipalDisplayName"] == str(user.uin), d   # the UID, as on Alibaba
    assert d["PolicyType"] == "AccountLevelIdentityBasedPolicy", d
    diag = json.loads(base64.b64decode(d["EncodedDiagnosticMessage"]))
    assert diag["AuthAction"] == action and diag.get("AuthResource") == d["AuthResource"], diag
    assert diag["AuthPrincipal"]["AuthPrincipalName"] == user.name, diag
    return d


class Sub:
    """A sub-user's tea clients and the calls the authorization tests make."""

    def __init__(self, kp, user, mode="acs3"):
        self.kp, self.u = kp, user
        cred = (user.ali_id, user.ali_secret)
        self.ims, self.ram, self.smc = ims(kp, mode, cred), ram(kp, mode, cred), smc(kp, mode, cred)

    def list_own_keys(self):
        return [k.access_key_id for k in
                self.ims.list_access_keys(im.ListAccessKeysRequest()).body.access_keys.access_key]

    def list_keys_of(self, principal):
        return self.ims.list_access_keys(im.ListAccessKeysRequest(user_principal_name=principal))

    def create_own_key(self):
        k = self.ims.create_access_key(im.CreateAccessKeyRequest()).body.access_key
        ali_remember(k.access_key_secret, "sub-user CreateAccessKey")
        return k

    def list_tokens(self):
        return self.smc.list_access_tokens(sm.ListAccessTokensRequest())

    def create_token(self):
        return self.smc.create_access_token(sm.CreateAccessTokenRequest(name="t" + unique("iam")))


# -- users -----------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_ims_user_lifecycle(kp, mode):
    root = ims(kp, mode)
    name = unique("imsu")
    u = create_user(root, kp, name, display_name="Ims User", mobile_phone="86-18600001234",
                    email="imsu@example.com", comments="made by CreateUser")
    body = raw("CreateUser")
    assert set(body) == {"RequestId", "User"}, body
    user = body["User"]
    assert set(user) >= {"UserPrincipalName", "DisplayName", "UserId", "Comments", "Email", "MobilePhone",
                         "CreateDate", "UpdateDate"}, user
    assert (user["UserPrincipalName"], user["DisplayName"], user["Comments"], user["Email"],
            user["MobilePhone"]) == (upn(kp, name), "Ims User", "made by CreateUser", "imsu@example.com",
                                     "86-18600001234"), user
    assert isinstance(user["UserId"], str) and user["UserId"].isdigit(), user
    assert ISO.fullmatch(user["CreateDate"]) and ISO.fullmatch(user["UpdateDate"]), user
    assert "UserName" not in user
    uid = u.user_id

    by_upn = root.get_user(im.GetUserRequest(user_principal_name=upn(kp, name))).body.user
    got = raw("GetUser")["User"]
    assert got["UserName"] == name and got["UserId"] == uid and got["UserPrincipalName"] == upn(kp, name), got
    assert root.get_user(im.GetUserRequest(user_id=uid)).body.user.user_principal_name == upn(kp, name)
    assert by_upn.display_name == "Ims User"

    # a key: GetUser by UserAccessKeyId, and DeleteUser refused while the key exists
    k = root.create_access_key(im.CreateAccessKeyRequest(user_principal_name=upn(kp, name))).body.access_key
    assert root.get_user(im.GetUserRequest(user_access_key_id=k.access_key_id)).body.user.user_id == uid

    listed = all_users(root)
    body = raw("ListUsers")
    assert body["IsTruncated"] is False and isinstance(body["Users"]["User"], list), body.keys()
    assert upn(kp, name) in listed and listed[upn(kp, name)].user_id == uid
    assert str(kp.root_uin) not in {x.user_id for x in listed.values()}, "ListUsers shows the root"

    with ali_raises("EntityAlreadyExists.User", 409):
        create_user(root, kp, name)
    with ali_raises("DeleteConflict.User.AccessKey", 409):
        root.delete_user(im.DeleteUserRequest(user_principal_name=upn(kp, name)))
    root.delete_access_key(im.DeleteAccessKeyRequest(user_access_key_id=k.access_key_id,
                                                     user_principal_name=upn(kp, name)))
    attach(kp, name, "ReadOnlyAccess", "System", mode)
    with ali_raises("DeleteConflict.User.Policy", 409):
        root.delete_user(im.DeleteUserRequest(user_id=uid))
    assert root.get_user(im.GetUserRequest(user_id=uid)).body.user.user_id == uid, "a refused delete deleted"
    detach(kp, name, "ReadOnlyAccess", "System", mode)
    r = root.delete_user(im.DeleteUserRequest(user_principal_name=upn(kp, name)))
    assert set(raw("DeleteUser")) == {"RequestId"} and r.body.request_id
    with ali_raises("EntityNotExist.User", 404):
        root.get_user(im.GetUserRequest(user_principal_name=upn(kp, name)))
    with ali_raises("EntityNotExist.User", 404):
        root.delete_user(im.DeleteUserRequest(user_id=uid))
    assert upn(kp, name) not in all_users(root)


@pytest.mark.parametrize("mode", MODES)
def test_ims_user_errors_and_paging(kp, mode):
    root = ims(kp, mode)
    with ali_raises("MissingParameter", 400):
        root.create_user(im.CreateUserRequest(user_principal_name=upn(kp, unique("nodn"))))
    with ali_raises("EntityNotExist.User", 404):
        root.get_user(im.GetUserRequest(user_principal_name=upn(kp, unique("ghost"))))
    with ali_raises("EntityNotExist.User", 404):
        root.get_user(im.GetUserRequest(user_id="999999999999"))
    bad = {
        "other domain": dict(user_principal_name=f"{unique('x')}@1{kp.init.account_id}.onaliyun.com"),
        "no domain": dict(user_principal_name=unique("x")),
        "bad chars": dict(user_principal_name=upn(kp, "a b!")),
        "bad phone": dict(user_principal_name=upn(kp, unique("x")), mobile_phone="phone"),
        "long display name": dict(user_principal_name=upn(kp, unique("x")), display_name="d" * 25),
    }
    for what, fields in bad.items():
        fields.setdefault("display_name", "x")
        with ali_raises(("InvalidParameter", "InvalidParameter.UserPrincipalName.Format",
                         "InvalidParameter.UserName.InvalidChars", "InvalidParameter.MobilePhone.Format",
                         "InvalidParameter.DisplayName.Length"), 400) as e:
            root.create_user(im.CreateUserRequest(**fields))
        assert e.got.startswith("InvalidParameter"), what

    a, b = create_user(root, kp), create_user(root, kp)
    seen, marker = [], None
    while True:
        r = root.list_users(im.ListUsersRequest(max_items=1, marker=marker)).body
        assert len(r.users.user) <= 1
        seen += [x.user_principal_name for x in r.users.user]
        if not r.is_truncated:
            break
        assert r.marker
        marker = r.marker
    assert len(seen) == len(set(seen)) and {a.user_principal_name, b.user_principal_name} <= set(seen)
    assert set(seen) == set(all_users(root))
    for x in (a, b):
        root.delete_user(im.DeleteUserRequest(user_principal_name=x.user_principal_name))


def test_ims_user_visible_to_cam_and_cam_force_delete(kp):
    """A user made with IMS CreateUser is a CAM user too; CAM DeleteUser Force=1 removes
    it with its Alibaba key, which then fails with InvalidAccessKeyId.NotFound."""
    name = unique("x2cam")
    u = create_user(ims(kp), kp, name, display_name="Cross", mobile_phone="86-13900002222",
                    email="x2cam@example.com", comments="from IMS")
    c = kp.cam()
    g = c.GetUser(mk(cam.GetUserRequest, Name=name))
    assert (g.Uin, g.Name, g.Remark, g.Email, g.CountryCode, g.PhoneNum) == \
        (int(u.user_id), name, "from IMS", "x2cam@example.com", "86", "13900002222")
    listed = {x.Name: x for x in c.ListUsers(mk(cam.ListUsersRequest)).Data}
    assert listed[name].Uin == int(u.user_id) and listed[name].NickName == "Cross"

    k = ims(kp).create_access_key(im.CreateAccessKeyRequest(user_principal_name=upn(kp, name))).body.access_key
    attach(kp, name, "ManageOwnAccessKeys", "System")
    assert Sub(kp, harness.User(uin=int(u.user_id), name=name, ali_id=k.access_key_id,
                                ali_secret=k.access_key_secret)).list_own_keys() == [k.access_key_id]
    with raises_code("OperationDenied.HaveKeys"):
        c.DeleteUser(mk(cam.DeleteUserRequest, Name=name))
    c.DeleteUser(mk(cam.DeleteUserRequest, Name=name, Force=1))
    with ali_raises("EntityNotExist.User", 404):
        ims(kp).get_user(im.GetUserRequest(user_principal_name=upn(kp, name)))
    with ali_raises("InvalidAccessKeyId.NotFound", 404):
        ims(kp, cred=(k.access_key_id, k.access_key_secret)).list_access_keys(im.ListAccessKeysRequest())


# -- policies ----------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_ram_create_attach_detach_list(kp, mode):
    r = ram(kp, mode)
    u = new_ali_user(kp, with_key=False, manage_own_keys=False)
    assert policies_of(r, u.name) == {}
    assert raw("ListPoliciesForUser")["Policies"]["Policy"] == []

    name = unique("ramp")
    p = create_policy(r, ram_doc(allow("ram:ListAccessKeys", resource=user_arn(kp, u.name))), name,
                      "lists its keys")
    body = raw("CreatePolicy")
    assert set(body) == {"RequestId", "Policy"}, body
    assert set(body["Policy"]) == {"PolicyName", "PolicyType", "Description", "DefaultVersion", "CreateDate"}, body
    assert (p.policy_name, p.policy_type, p.description, p.default_version) == \
        (name, "Custom", "lists its keys", "v1")
    assert ISO.fullmatch(p.create_date), p.create_date
    with ali_raises("EntityAlreadyExists.Policy", 409):
        create_policy(r, ram_doc(allow("ram:ListUsers")), name)
    with ali_raises("InvalidParameter.PolicyName.InvalidChars", 400):
        create_policy(r, ram_doc(allow("ram:ListUsers")), "bad_name")
    with ali_raises("InvalidParameter.PolicyName.Length", 400):
        create_policy(r, ram_doc(allow("ram:ListUsers")), "p" * 129)
    with ali_raises("InvalidParameter.Description.Length", 400):
        create_policy(r, ram_doc(allow("ram:ListUsers")), description="d" * 1025)

    attach(kp, u.name, name, "Custom", mode)
    attach(kp, u.name, "ReadOnlyAccess", "System", mode)
    with ali_raises("EntityAlreadyExists.User.Policy", 409):
        attach(kp, u.name, name, "Custom", mode)
    got = policies_of(r, u.name)
    assert set(got) == {("Custom", name), ("System", "ReadOnlyAccess")}
    listed = raw("ListPoliciesForUser")["Policies"]["Policy"]
    for item in listed:
        assert set(item) == {"PolicyName", "PolicyType", "Description", "DefaultVersion", "AttachDate"}, item
        assert ISO.fullmatch(item["AttachDate"]), item
    assert got[("Custom", name)].description == "lists its keys"

    nobody = unique("ghost")
    with ali_raises("EntityNotExist.User", 404):
        attach(kp, nobody, name, "Custom", mode)
    with ali_raises("EntityNotExist.User", 404):
        policies_of(r, nobody)
    with ali_raises("EntityNotExist.Policy", 404):
        attach(kp, u.name, unique("nopolicy"), "Custom", mode)
    with ali_raises("EntityNotExist.Policy", 404):
        attach(kp, u.name, "NoSuchSystemPolicy", "System", mode)
    with ali_raises("InvalidParameter.PolicyType", 400):
        attach(kp, u.name, name, "Managed", mode)

    detach(kp, u.name, name, "Custom", mode)
    with ali_raises("EntityNotExist.User.Policy", 404):
        detach(kp, u.name, name, "Custom", mode)
    assert set(policies_of(r, u.name)) == {("System", "ReadOnlyAccess")}
    detach(kp, u.name, "ReadOnlyAccess", "System", mode)
    assert policies_of(r, u.name) == {}


MALFORMED_RAM = {
    "not-json": '{"Version":"1","Statement":[',
    "not-an-object": '"Version"',
    "wrong-version": json.dumps({"Version": "2", "Statement": [allow("ram:ListUsers")]}),
    "cam-syntax": json.dumps({"version": "2.0", "statement": [{"effect": "allow", "action": ["cam:ListUsers"],
                                                               "resource": ["*"]}]}),
    "bad-effect": json.dumps({"Version": "1", "Statement": [allow("ram:ListUsers", effect="allow")]}),
    "missing-action": json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Resource": "*"}]}),
    "no-statement": json.dumps({"Version": "1", "Statement": []}),
    "unknown-operator": ram_doc(allow("ram:ListUsers", condition={"IpAddressish": {"acs:SourceIp": "10.0.0.0/8"}})),
    "bad-date": ram_doc(allow("ram:ListUsers", condition={"DateLessThan": {"acs:CurrentTime": "yesterday"}})),
    "principal": json.dumps({"Version": "1", "Statement": [dict(allow("ram:ListUsers"),
                                                                Principal={"RAM": ["acs:ram::1:root"]})]}),
    "duplicate-field": '{"Version":"1","Statement":[{"Effect":"Deny","Effect":"Allow",'
                       '"Action":"ram:ListUsers","Resource":"*"}]}',
}


@pytest.mark.parametrize("kind", list(MALFORMED_RAM))
def test_ram_malformed_policy_document(kp, kind):
    name = unique("bad")
    with ali_raises("MalformedPolicyDocument", 400) as e:
        create_policy(ram(kp), MALFORMED_RAM[kind], name)
    assert e.data["HostId"] == "ram.aliyuncs.com", e.data
    create_policy(ram(kp), ram_doc(allow("ram:ListUsers")), name)      # the name is still free


def test_ram_policy_document_length(kp):
    filler = "ram:" + "x" * 6200
    with ali_raises(("InvalidParameter.PolicyDocument.Length", "MalformedPolicyDocument"), 400):
        create_policy(ram(kp), ram_doc(allow(filler)))


def test_policies_of_either_syntax_attach_to_the_same_user(kp):
    """A CAM policy attaches through RAM by name, a RAM policy shows up in CAM's
    ListAttachedUserPolicies, and both apply to the user's Alibaba key."""
    u = new_ali_user(kp, manage_own_keys=False)
    s = Sub(kp, u)
    c = kp.cam()
    cam_name = unique("camdoc")
    c.CreatePolicy(mk(cam.CreatePolicyRequest, PolicyName=cam_name, PolicyDocument=json.dumps(
        {"version": "2.0", "statement": [{"effect": "allow", "action": ["ram:ListAccessKeys"],
                                          "resource": [user_arn(kp, u.name)]}]})))
    attach(kp, u.name, cam_name)
    ram_name = grant(kp, u, allow("smc:ListAccessTokens"))
    assert set(policies_of(ram(kp), u.name)) == {("Custom", cam_name), ("Custom", ram_name)}
    listed = c.ListAttachedUserPolicies(mk(cam.ListAttachedUserPoliciesRequest, TargetUin=u.uin))
    assert listed.TotalNum == 2
    assert {(p.PolicyName, p.PolicyType) for p in listed.List} == {(cam_name, "User"), (ram_name, "User")}
    assert s.list_own_keys() == [u.ali_id]
    s.list_tokens()
    # detached through CAM, by id: gone at once
    ram_id = next(p.PolicyId for p in listed.List if p.PolicyName == ram_name)
    c.DetachUserPolicy(mk(cam.DetachUserPolicyRequest, PolicyId=ram_id, DetachUin=u.uin))
    assert_denied(kp, u, s.list_tokens, "smc:ListAccessTokens", "*", code="Forbidden.RAM")
    assert set(policies_of(ram(kp), u.name)) == {("Custom", cam_name)}


def test_legacy_core_ram_actions(kp):
    """aliyun-python-sdk-core CommonRequest (RPC v1) on RAM 2015-05-01."""
    lc = legacy_client(kp.init.aliyun_id, kp.init.aliyun_secret)

    def call(action, method="POST", **params):
        return legacy_json(lc, legacy_request(kp.port, RAM_VERSION, action, params, method))

    u = new_ali_user(kp, with_key=False, manage_own_keys=False)
    name = unique("legp")
    doc = ram_doc(allow("ram:GetUser", "ram:ListUsers", resource=f"acs:ram::{kp.init.account_id}:user/*"))
    p = call("CreatePolicy", PolicyName=name, PolicyDocument=doc, Description="legacy core")["Policy"]
    assert (p["PolicyName"], p["PolicyType"], p["DefaultVersion"]) == (name, "Custom", "v1")
    assert set(call("AttachPolicyToUser", PolicyType="Custom", PolicyName=name, UserName=u.name)) == {"RequestId"}
    got = call("ListPoliciesForUser", "GET", UserName=u.name)["Policies"]["Policy"]
    assert [(x["PolicyName"], x["PolicyType"]) for x in got] == [(name, "Custom")]
    with ali_raises("MalformedPolicyDocument", 400):
        call("CreatePolicy", PolicyName=unique("legbad"), PolicyDocument='{"Version":"1"}')
    with ali_raises("EntityAlreadyExists.User.Policy", 409):
        call("AttachPolicyToUser", PolicyType="Custom", PolicyName=name, UserName=u.name)
    call("DetachPolicyFromUser", "GET", PolicyType="Custom", PolicyName=name, UserName=u.name)
    with ali_raises("EntityNotExist.User.Policy", 404):
        call("DetachPolicyFromUser", PolicyType="Custom", PolicyName=name, UserName=u.name)


# -- authorization ----------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_user_without_policies_can_do_nothing_then_exactly_what_its_policy_says(kp, mode):
    """The issue's acceptance, Alibaba side."""
    u = new_ali_user(kp, manage_own_keys=False)
    other = new_ali_user(kp, manage_own_keys=False)
    s = Sub(kp, u, mode)
    me, them = user_arn(kp, u.name), user_arn(kp, other.name)
    token = smc(kp).create_access_token(sm.CreateAccessTokenRequest(name="t" + unique("iamroot"))).body
    pname = unique("target")
    create_policy(ram(kp), ram_doc(allow("ram:ListUsers")), pname)
    refused = {
        "ListAccessKeys": (s.list_own_keys, "ram:ListAccessKeys", me),
        "ListAccessKeys other": (lambda: s.list_keys_of(other.principal), "ram:ListAccessKeys", them),
        "CreateAccessKey": (s.create_own_key, "ram:CreateAccessKey", me),
        "UpdateAccessKey": (lambda: s.ims.update_access_key(im.UpdateAccessKeyRequest(
            user_access_key_id=u.ali_id, status="Inactive")), "ram:UpdateAccessKey", me),
        "DeleteAccessKey": (lambda: s.ims.delete_access_key(im.DeleteAccessKeyRequest(user_access_key_id=u.ali_id)),
                            "ram:DeleteAccessKey", me),
        "GetAccessKeyLastUsed": (lambda: s.ims.get_access_key_last_used(im.GetAccessKeyLastUsedRequest(
            user_access_key_id=u.ali_id)), "ram:GetAccessKeyLastUsed", me),
        "GetUser": (lambda: s.ims.get_user(im.GetUserRequest(user_principal_name=u.principal)), "ram:GetUser", me),
        "ListUsers": (lambda: s.ims.list_users(im.ListUsersRequest()), "ram:ListUsers", user_arn(kp, "*")),
        "CreateUser": (lambda: create_user(s.ims, kp, "made"), "ram:CreateUser", user_arn(kp, "made")),
        "DeleteUser": (lambda: s.ims.delete_user(im.DeleteUserRequest(user_principal_name=other.principal)),
                       "ram:DeleteUser", them),
        "CreatePolicy": (lambda: create_policy(s.ram, ram_doc(allow("*")), "mine"), "ram:CreatePolicy",
                         policy_arn(kp, "mine")),
        # no privilege escalation
        "AttachPolicyToUser": (lambda: s.ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(
            policy_type="System", policy_name="AdministratorAccess", user_name=u.name)), "ram:AttachPolicyToUser",
            (me, "acs:ram::system:policy/AdministratorAccess")),
        "AttachPolicyToUser custom": (lambda: s.ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(
            policy_type="Custom", policy_name=pname, user_name=other.name)), "ram:AttachPolicyToUser",
            (them, policy_arn(kp, pname))),
        "ListPoliciesForUser": (lambda: policies_of(s.ram, u.name), "ram:ListPoliciesForUser", me),
    }
    smc_refused = {
        "ListAccessTokens": (s.list_tokens, "smc:ListAccessTokens"),
        "CreateAccessToken": (s.create_token, "smc:CreateAccessToken"),
        "DisableAccessToken": (lambda: s.smc.disable_access_token(sm.DisableAccessTokenRequest(
            access_token_id=token.access_token_id)), "smc:DisableAccessToken"),
        "DeleteAccessToken": (lambda: s.smc.delete_access_token(sm.DeleteAccessTokenRequest(
            access_token_id=token.access_token_id)), "smc:DeleteAccessToken"),
    }
    for what, (call, action, resource) in refused.items():
        try:
            assert_denied(kp, u, call, action, resource)
        except AssertionError as e:
            raise AssertionError(f"{what}: {e}") from None
    for what, (call, action) in smc_refused.items():
        try:
            assert_denied(kp, u, call, action, "*", code="Forbidden.RAM")
        except AssertionError as e:
            raise AssertionError(f"{what}: {e}") from None
    # nothing changed
    root = ims(kp)
    assert {k.access_key_id: k.status for k in root.list_access_keys(im.ListAccessKeysRequest(
        user_principal_name=u.principal)).body.access_keys.access_key} == {u.ali_id: "Active"}
    assert policies_of(ram(kp), u.name) == {} and policies_of(ram(kp), other.name) == {}
    assert upn(kp, "made") not in all_users(root) and other.principal in all_users(root)
    assert smc(kp).list_access_tokens(sm.ListAccessTokensRequest(
        access_token_id=[token.access_token_id])).body.access_tokens.access_token[0].status == "unactivated"

    # exactly what the policy allows
    allowed = grant(kp, u, allow("ram:ListAccessKeys", resource=me), allow("smc:ListAccessTokens"))
    assert s.list_own_keys() == [u.ali_id]
    assert token.access_token_id in {t.access_token_id for t in s.list_tokens().body.access_tokens.access_token}
    assert_denied(kp, u, lambda: s.list_keys_of(other.principal), "ram:ListAccessKeys", them)
    assert_denied(kp, u, s.create_own_key, "ram:CreateAccessKey", me)
    assert_denied(kp, u, lambda: s.ims.list_users(im.ListUsersRequest()), "ram:ListUsers")
    assert_denied(kp, u, s.create_token, "smc:CreateAccessToken", "*", code="Forbidden.RAM")

    # an explicit Deny in a second policy overrides the Allow
    denying = grant(kp, u, deny("smc:ListAccessTokens"))
    assert_denied(kp, u, s.list_tokens, "smc:ListAccessTokens", "*", kind="ExplicitDeny", code="Forbidden.RAM")
    assert s.list_own_keys() == [u.ali_id]                   # the rest of the Allow still holds
    # detaching takes effect at once, both ways
    detach(kp, u.name, denying)
    s.list_tokens()
    detach(kp, u.name, allowed)
    assert_denied(kp, u, s.list_own_keys, "ram:ListAccessKeys", me)
    assert_denied(kp, u, s.list_tokens, "smc:ListAccessTokens", "*", code="Forbidden.RAM")
    smc(kp).delete_access_token(sm.DeleteAccessTokenRequest(access_token_id=token.access_token_id))


def test_explicit_deny_on_ims(kp):
    """An explicit Deny on an IMS action: NoPermission with NoPermissionType ExplicitDeny,
    even with AdministratorAccess attached."""
    u = new_ali_user(kp, manage_own_keys=False)
    attach(kp, u.name, "AdministratorAccess", "System")
    grant(kp, u, deny("ram:Create*", resource=user_arn(kp, "*")))
    s = Sub(kp, u)
    assert_denied(kp, u, s.create_own_key, "ram:CreateAccessKey", user_arn(kp, u.name), kind="ExplicitDeny")
    assert_denied(kp, u, lambda: create_user(s.ims, kp, "denied"), "ram:CreateUser", user_arn(kp, "denied"),
                  kind="ExplicitDeny")
    assert s.list_own_keys() == [u.ali_id]
    s.create_token()                                          # everything else: allowed


def test_manage_own_access_keys(kp):
    """ManageOwnAccessKeys (the `${UserName}` variable) reaches the caller's own keys only."""
    u, other = new_ali_user(kp), new_ali_user(kp, with_key=False)
    s = Sub(kp, u)
    assert s.list_own_keys() == [u.ali_id]
    s.ims.get_access_key_last_used(im.GetAccessKeyLastUsedRequest(user_access_key_id=u.ali_id))
    assert_denied(kp, u, lambda: s.list_keys_of(other.principal), "ram:ListAccessKeys", user_arn(kp, other.name))
    assert_denied(kp, u, lambda: s.ims.get_user(im.GetUserRequest(user_principal_name=u.principal)),
                  "ram:GetUser", user_arn(kp, u.name))


def test_policy_variables_and_users_named_by_id_or_key(kp):
    """A custom policy on `acs:ram:*:{account}:user/${UserName}` (region `*`, the
    caller's own name); GetUser names its user by UserId or UserAccessKeyId too, and
    authorization looks the user up: the caller itself is allowed; another user is
    refused naming only the id or key the caller sent, never that user's name (as for an
    id that selects nobody)."""
    u, other = new_ali_user(kp, manage_own_keys=False), new_ali_user(kp, manage_own_keys=False)
    grant(kp, u, allow("ram:ListAccessKeys", "ram:GetUser",
                       resource=f"acs:ram:*:{kp.init.account_id}:user/${{UserName}}"))
    s = Sub(kp, u)
    assert s.list_own_keys() == [u.ali_id]
    assert s.ims.get_user(im.GetUserRequest(user_id=str(u.uin))).body.user.user_name == u.name
    assert s.ims.get_user(im.GetUserRequest(user_access_key_id=u.ali_id)).body.user.user_name == u.name
    assert_denied(kp, u, lambda: s.list_keys_of(other.principal), "ram:ListAccessKeys", user_arn(kp, other.name))
    assert_denied(kp, u, lambda: s.ims.get_user(im.GetUserRequest(user_id=str(other.uin))), "ram:GetUser",
                  user_arn(kp, str(other.uin)))
    assert_denied(kp, u, lambda: s.ims.get_user(im.GetUserRequest(user_access_key_id=other.ali_id)),
                  "ram:GetUser", user_arn(kp, other.ali_id))
    assert_denied(kp, u, lambda: s.ims.get_user(im.GetUserRequest(user_id="1999999999999")), "ram:GetUser",
                  user_arn(kp, "1999999999999"))


@pytest.mark.parametrize("condition, allowed", [
    ({"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}, False),
    ({"IpAddress": {"acs:SourceIp": ["192.168.0.0/16", "127.0.0.1/32"]}}, True),
    ({"NotIpAddress": {"acs:SourceIp": "127.0.0.0/8"}}, False),
    ({"DateLessThan": {"acs:CurrentTime": "2020-01-01T00:00:00Z"}}, False),
    ({"DateGreaterThan": {"acs:CurrentTime": "2020-01-01T08:00:00+08:00"}}, True),
    ({"DateLessThan": {"acs:CurrentTime": "2020-01-01T00:00:00Z"}, "IpAddress": {"acs:SourceIp": "127.0.0.1"}},
     False),
], ids=["ip-10/8", "ip-127.0.0.1/32", "not-ip-127/8", "time-before-2020", "time-after-2020", "time-and-ip"])
@pytest.mark.parametrize("mode", MODES)
def test_conditions(kp, mode, condition, allowed):
    u = new_ali_user(kp, manage_own_keys=False)
    s = Sub(kp, u, mode)
    grant(kp, u, allow("ram:ListAccessKeys", resource=user_arn(kp, u.name), condition=condition),
          allow("smc:ListAccessTokens", condition=condition))
    if allowed:
        assert s.list_own_keys() == [u.ali_id]
        s.list_tokens()
    else:
        assert_denied(kp, u, s.list_own_keys, "ram:ListAccessKeys", user_arn(kp, u.name))
        assert_denied(kp, u, s.list_tokens, "smc:ListAccessTokens", "*", code="Forbidden.RAM")


def test_read_only_access(kp):
    u = new_ali_user(kp, manage_own_keys=False)
    other = new_ali_user(kp, manage_own_keys=False)
    attach(kp, u.name, "ReadOnlyAccess", "System")
    s = Sub(kp, u)
    # Get*, List*: on every user
    assert s.list_own_keys() == [u.ali_id]
    assert [k.access_key_id for k in s.list_keys_of(other.principal).body.access_keys.access_key] == [other.ali_id]
    assert {u.principal, other.principal} <= set(all_users(s.ims))
    assert s.ims.get_user(im.GetUserRequest(user_principal_name=other.principal)).body.user.user_name == other.name
    assert set(policies_of(s.ram, u.name)) == {("System", "ReadOnlyAccess")}
    s.ims.get_access_key_last_used(im.GetAccessKeyLastUsedRequest(user_access_key_id=other.ali_id,
                                                                  user_principal_name=other.principal))
    s.list_tokens()
    # nothing else
    assert_denied(kp, u, s.create_own_key, "ram:CreateAccessKey")
    assert_denied(kp, u, lambda: create_user(s.ims, kp), "ram:CreateUser")
    assert_denied(kp, u, lambda: create_policy(s.ram, ram_doc(allow("*"))), "ram:CreatePolicy")
    assert_denied(kp, u, lambda: s.ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(
        policy_type="System", policy_name="AdministratorAccess", user_name=u.name)), "ram:AttachPolicyToUser")
    assert_denied(kp, u, lambda: s.ims.update_access_key(im.UpdateAccessKeyRequest(
        user_access_key_id=other.ali_id, status="Inactive", user_principal_name=other.principal)),
        "ram:UpdateAccessKey", user_arn(kp, other.name))
    assert_denied(kp, u, s.create_token, "smc:CreateAccessToken", "*", code="Forbidden.RAM")
    detach(kp, u.name, "ReadOnlyAccess", "System")
    assert_denied(kp, u, lambda: s.ims.list_users(im.ListUsersRequest()), "ram:ListUsers")


@pytest.mark.parametrize("mode", MODES)
def test_administrator_access(kp, mode):
    u = new_ali_user(kp, manage_own_keys=False)
    attach(kp, u.name, "AdministratorAccess", "System", mode)
    s = Sub(kp, u, mode)
    made = create_user(s.ims, kp)
    made_name = made.user_principal_name.split("@")[0]
    p = create_policy(s.ram, ram_doc(allow("ram:ListUsers")))
    s.ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type="Custom", policy_name=p.policy_name,
                                                             user_name=made_name))
    assert set(policies_of(s.ram, made_name)) == {("Custom", p.policy_name)}
    t = s.create_token().body
    s.smc.delete_access_token(sm.DeleteAccessTokenRequest(access_token_id=t.access_token_id))
    with ali_raises("DeleteConflict.User.Policy", 409):
        s.ims.delete_user(im.DeleteUserRequest(user_principal_name=made.user_principal_name))
    s.ram.detach_policy_from_user(rm.DetachPolicyFromUserRequest(policy_type="Custom", policy_name=p.policy_name,
                                                                 user_name=made_name))
    s.ims.delete_user(im.DeleteUserRequest(user_principal_name=made.user_principal_name))
    detach(kp, u.name, "AdministratorAccess", "System", mode)
    assert_denied(kp, u, lambda: create_user(s.ims, kp, "late"), "ram:CreateUser", user_arn(kp, "late"))


@pytest.mark.parametrize("mode", MODES)
def test_ram_get_and_delete_policy(kp, mode):
    """GetPolicy shows the document in RAM syntax with its attachment count (a policy written
    in CAM syntax too); DeletePolicy is refused while the policy is attached
    (DeleteConflict.Policy.User, 409) and then deletes it."""
    client = ram(kp, mode)
    u = new_ali_user(kp, manage_own_keys=False)
    name = grant(kp, u, allow("ram:ListUsers", condition={"IpAddress": {"acs:SourceIp": "127.0.0.1"}}))
    got = client.get_policy(rm.GetPolicyRequest(policy_type="Custom", policy_name=name)).body
    assert got.policy.attachment_count == 1 and got.policy.default_version == "v1", got
    assert got.default_policy_version.is_default_version is True
    doc = json.loads(got.default_policy_version.policy_document)
    assert doc["Version"] == "1"
    assert doc["Statement"][0]["Condition"] == {"IpAddress": {"acs:SourceIp": ["127.0.0.1"]}}
    system = client.get_policy(rm.GetPolicyRequest(policy_type="System", policy_name="ReadOnlyAccess")).body
    assert system.policy.policy_type == "System"
    # A CAM-syntax policy reads back in RAM syntax.
    cam_id = kp.cam().CreatePolicy(mk(cam.CreatePolicyRequest, PolicyName=unique("camdoc"), PolicyDocument=json.dumps(
        {"version": "2.0", "statement": [{"effect": "deny", "action": "ram:*", "resource": "*"}]}))).PolicyId
    cam_name = kp.cam().GetPolicy(mk(cam.GetPolicyRequest, PolicyId=cam_id)).PolicyName
    as_ram = json.loads(client.get_policy(rm.GetPolicyRequest(policy_type="Custom", policy_name=cam_name))
                        .body.default_policy_version.policy_document)
    assert as_ram["Statement"][0]["Effect"] == "Deny" and as_ram["Statement"][0]["Action"] == ["ram:*"]

    with ali_raises("DeleteConflict.Policy.User", 409):
        client.delete_policy(rm.DeletePolicyRequest(policy_name=name))
    detach(kp, u.name, name)
    client.delete_policy(rm.DeletePolicyRequest(policy_name=name))
    with ali_raises("EntityNotExist.Policy", 404):
        client.get_policy(rm.GetPolicyRequest(policy_type="Custom", policy_name=name))


def test_ram_list_policies(kp):
    """ListPolicies: System and Custom with PolicyType, AttachmentCount, and MaxItems/Marker
    paging that visits every policy once."""
    client = ram(kp)
    u = new_ali_user(kp, manage_own_keys=False)
    name = grant(kp, u, allow("ram:GetUser"))
    system = client.list_policies(rm.ListPoliciesRequest(policy_type="System")).body
    assert {p.policy_name for p in system.policies.policy} == {
        "AdministratorAccess", "ReadOnlyAccess", "ManageOwnAccessKeys"}
    custom = {p.policy_name: p for p in client.list_policies(
        rm.ListPoliciesRequest(policy_type="Custom", max_items=1000)).body.policies.policy}
    assert custom[name].attachment_count == 1 and custom[name].policy_type == "Custom"
    seen, marker = [], None
    while True:
        page = client.list_policies(rm.ListPoliciesRequest(max_items=2, marker=marker)).body
        seen += [(p.policy_type, p.policy_name) for p in page.policies.policy]
        if not page.is_truncated:
            break
        marker = page.marker
    assert len(seen) == len(set(seen)) and ("Custom", name) in seen and len(seen) >= 4
