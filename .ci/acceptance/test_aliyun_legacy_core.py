"""The legacy `aliyun-python-sdk-core` (AcsClient + CommonRequest, RPC v1
HMAC-SHA1, RegionId and an empty SignatureType among the signed parameters):
IMS and SMC in JSON (do_action_with_exception, POST and GET), and in XML
(set_accept_format('XML') + do_action), where the shapes are pinned: the root
is <{Action}Response>, lists are a wrapper plus one repeated element per item
(<AccessKeys><AccessKey>...</AccessKey></AccessKeys>), and errors are
<Error><RequestId/><HostId/><Code/><Message/><Recommend/></Error> with a 4xx.
"""

from __future__ import annotations

import pytest

import harness
from aliyun_harness import (IMS_VERSION, SMC_VERSION, ali_raises, ali_remember, legacy_client, legacy_json,
                            legacy_request, legacy_xml, new_ali_user, root_cred)
from harness import unique

ERROR_TAGS = ["RequestId", "HostId", "Code", "Message", "Recommend"]


def caller(kp, cred=None, method="POST"):
    lc = legacy_client(*(cred or root_cred(kp)))

    def call(version, action, **params):
        return legacy_json(lc, legacy_request(kp.port, version, action, params, method))

    return call


def xml_caller(kp, cred=None):
    lc = legacy_client(*(cred or root_cred(kp)))

    def call(version, action, **params):
        return legacy_xml(lc, legacy_request(kp.port, version, action, params))

    return call


def key_ids(doc) -> list[str]:
    return [k["AccessKeyId"] for k in doc["AccessKeys"]["AccessKey"]]


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_legacy_json_ims_flow(kp, method):
    u = new_ali_user(kp, with_key=False)
    root = caller(kp, method=method)
    created = root(IMS_VERSION, "CreateAccessKey", UserPrincipalName=u.principal)
    assert created["RequestId"] and "Code" not in created
    k = created["AccessKey"]
    assert k["AccessKeyId"].startswith("LTAI") and len(k["AccessKeySecret"]) == 30 and k["Status"] == "Active"
    assert key_ids(root(IMS_VERSION, "ListAccessKeys", UserPrincipalName=u.principal)) == [k["AccessKeyId"]]

    sub = caller(kp, (k["AccessKeyId"], k["AccessKeySecret"]), method)
    assert key_ids(sub(IMS_VERSION, "ListAccessKeys")) == [k["AccessKeyId"]]

    def last_used():
        v = root(IMS_VERSION, "GetAccessKeyLastUsed", UserAccessKeyId=k["AccessKeyId"],
                 UserPrincipalName=u.principal)["AccessKeyLastUsed"]
        return v if v["LastUsedDate"] else None

    assert harness.poll(last_used, timeout=10), "no last use recorded"

    root(IMS_VERSION, "UpdateAccessKey", UserAccessKeyId=k["AccessKeyId"], Status="Inactive",
         UserPrincipalName=u.principal)
    with ali_raises("InvalidAccessKeyId.Inactive", 400):
        sub(IMS_VERSION, "ListAccessKeys")
    root(IMS_VERSION, "UpdateAccessKey", UserAccessKeyId=k["AccessKeyId"], Status="Active",
         UserPrincipalName=u.principal)
    assert key_ids(sub(IMS_VERSION, "ListAccessKeys")) == [k["AccessKeyId"]]

    # the sub-user's own second key (default = caller), then the limit
    k2 = sub(IMS_VERSION, "CreateAccessKey")["AccessKey"]
    with ali_raises("LimitExceeded.User.AccessKey", 409):
        sub(IMS_VERSION, "CreateAccessKey")
    sub(IMS_VERSION, "DeleteAccessKey", UserAccessKeyId=k2["AccessKeyId"])

    other = kp.user_create()
    with ali_raises("NoPermission", 403):
        sub(IMS_VERSION, "ListAccessKeys", UserPrincipalName=other.principal)
    with ali_raises("EntityNotExist.User", 404):
        root(IMS_VERSION, "CreateAccessKey", UserPrincipalName=f"{unique('ghost')}@{kp.init.account_id}.onaliyun.com")

    deleted = root(IMS_VERSION, "DeleteAccessKey", UserAccessKeyId=k["AccessKeyId"], UserPrincipalName=u.principal)
    assert set(deleted) == {"RequestId"}
    with ali_raises("InvalidAccessKeyId.NotFound", 404):
        sub(IMS_VERSION, "ListAccessKeys")
    assert key_ids(root(IMS_VERSION, "ListAccessKeys", UserPrincipalName=u.principal)) == []


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_legacy_json_smc_flow(kp, method):
    root = caller(kp, method=method)
    name = unique("legacy").replace("x", "_")
    made = [root(SMC_VERSION, "CreateAccessToken", Name=name, Description="legacy core", Count="5",
                 TimeToLiveInDays="9") for _ in range(3)]
    ids = [t["AccessTokenId"] for t in made]
    assert all(t["AccessTokenCode"] for t in made)

    listed = root(SMC_VERSION, "ListAccessTokens", **{"AccessTokenId.1": ids[0], "AccessTokenId.2": ids[2]})
    assert {t["AccessTokenId"] for t in listed["AccessTokens"]["AccessToken"]} == {ids[0], ids[2]}
    t0 = listed["AccessTokens"]["AccessToken"][0]
    assert (t0["Count"], t0["TimeToLiveInDays"], t0["RegisteredCount"], t0["Status"]) == ("5", "9", "0",
                                                                                          "unactivated")
    assert t0["Name"] == name and t0["Description"] == "legacy core"

    # paging (the tea model has no PageNumber/PageSize; the legacy core sends anything)
    pages = [root(SMC_VERSION, "ListAccessTokens", Name=name, PageSize="2", PageNumber=str(n)) for n in (1, 2, 3)]
    assert [p["TotalCount"] for p in pages] == [3, 3, 3]
    assert [int(p["PageSize"]) for p in pages] == [2, 2, 2] and [int(p["PageNumber"]) for p in pages] == [1, 2, 3]
    seen = [t["AccessTokenId"] for p in pages for t in p["AccessTokens"]["AccessToken"]]
    assert sorted(seen) == sorted(ids) and [len(p["AccessTokens"]["AccessToken"]) for p in pages] == [2, 1, 0]
    for bad in ({"PageSize": "0"}, {"PageSize": "51"}, {"PageNumber": "0"}, {"PageNumber": "x"}):
        with ali_raises("InvalidParameter", 400) as e:
            root(SMC_VERSION, "ListAccessTokens", **bad)
        assert list(bad)[0] in e.message

    root(SMC_VERSION, "DisableAccessToken", AccessTokenId=ids[1])
    expired = root(SMC_VERSION, "ListAccessTokens", Name=name, Status="expired")
    assert [t["AccessTokenId"] for t in expired["AccessTokens"]["AccessToken"]] == [ids[1]]
    for i in ids:
        assert set(root(SMC_VERSION, "DeleteAccessToken", AccessTokenId=i)) == {"RequestId"}
    with ali_raises("InvalidAccessTokenId.NotFound", 404):
        root(SMC_VERSION, "DeleteAccessToken", AccessTokenId=ids[0])
    with ali_raises("InvalidParameter", 400) as e:
        root(SMC_VERSION, "CreateAccessToken", Name=name, Count="1001")
    assert "Count" in e.message
    assert root(SMC_VERSION, "ListAccessTokens", Name=name)["TotalCount"] == 0


def tags(elem) -> list[str]:
    return [c.tag for c in elem]


def response(result, action: str):
    """A 200 XML success: root <{action}Response>, <RequestId> first."""
    status, root, body = result
    assert status == 200, f"HTTP {status}: {body[:300]!r}"
    assert root.tag == f"{action}Response", body[:300]
    assert tags(root)[0] == "RequestId" and root.findtext("RequestId"), body[:300]
    return root


def assert_xml_error(result, code: str, status: int, host: str | None = "ims.aliyuncs.com",
                     denied: bool = False):
    """`denied`: an authorization refusal, which carries <AccessDeniedDetail> after <Recommend>."""
    got_status, root, body = result
    assert got_status == status, f"HTTP {got_status}, expected {status}: {body[:300]!r}"
    assert root.tag == "Error", body[:300]
    want = ERROR_TAGS + (["AccessDeniedDetail"] if denied else [])
    assert tags(root) == want, f"XML error elements {tags(root)}, expected {want}"
    assert root.findtext("Code") == code, body[:300]
    assert all(root.findtext(t) for t in ERROR_TAGS), body[:300]
    if host:
        assert root.findtext("HostId") == host
    assert code in root.findtext("Recommend") and root.findtext("RequestId") in root.findtext("Recommend")
    return root


def test_legacy_xml_ims(kp):
    u = new_ali_user(kp, with_key=False)
    call = xml_caller(kp)
    root = response(call(IMS_VERSION, "CreateAccessKey", UserPrincipalName=u.principal), "CreateAccessKey")
    assert tags(root) == ["RequestId", "AccessKey"]
    ak = root.find("AccessKey")
    assert sorted(tags(ak)) == ["AccessKeyId", "AccessKeySecret", "CreateDate", "Status"]
    first_id, first_secret = ak.findtext("AccessKeyId"), ak.findtext("AccessKeySecret")
    assert first_id.startswith("LTAI") and len(first_secret) == 30 and ak.findtext("Status") == "Active"
    ali_remember(first_secret, "XML CreateAccessKey")
    second = call(IMS_VERSION, "CreateAccessKey", UserPrincipalName=u.principal)[1].find("AccessKey")

    result = call(IMS_VERSION, "ListAccessKeys", UserPrincipalName=u.principal)
    root, body = response(result, "ListAccessKeys"), result[2]
    assert tags(root) == ["RequestId", "AccessKeys"]
    wrapper = root.find("AccessKeys")
    assert tags(wrapper) == ["AccessKey", "AccessKey"], "list is not <AccessKeys><AccessKey/>...</AccessKeys>"
    assert {k.findtext("AccessKeyId") for k in wrapper} == {first_id, second.findtext("AccessKeyId")}
    for k in wrapper:
        assert sorted(tags(k)) == ["AccessKeyId", "CreateDate", "Status", "UpdateDate"]
    assert first_secret.encode() not in body

    status, root, _ = call(IMS_VERSION, "UpdateAccessKey", UserAccessKeyId=first_id, Status="Inactive",
                           UserPrincipalName=u.principal)
    assert status == 200 and root.tag == "UpdateAccessKeyResponse" and tags(root) == ["RequestId"]
    status, root, _ = call(IMS_VERSION, "GetAccessKeyLastUsed", UserAccessKeyId=first_id,
                           UserPrincipalName=u.principal)
    assert root.tag == "GetAccessKeyLastUsedResponse"
    assert sorted(tags(root.find("AccessKeyLastUsed"))) == ["LastUsedDate", "ServiceName"]

    # errors in XML
    assert_xml_error(call(IMS_VERSION, "CreateAccessKey", UserPrincipalName=u.principal),
                     "LimitExceeded.User.AccessKey", 409)
    assert_xml_error(call(IMS_VERSION, "ListAccessKeys",
                          UserPrincipalName=f"{unique('ghost')}@{kp.init.account_id}.onaliyun.com"),
                     "EntityNotExist.User", 404)
    assert_xml_error(call(IMS_VERSION, "UpdateAccessKey", UserAccessKeyId=first_id, UserPrincipalName=u.principal),
                     "MissingParameter", 400)
    assert_xml_error(call(IMS_VERSION, "FrobnicateAccessKeys"), "InvalidAction.NotFound", 404)
    assert_xml_error(call("2099-01-01", "ListAccessKeys"), "InvalidVersion", 400, host=None)
    assert_xml_error(xml_caller(kp, (first_id, first_secret))(IMS_VERSION, "ListAccessKeys"),
                     "InvalidAccessKeyId.Inactive", 400)
    wrong = xml_caller(kp, (kp.init.aliyun_id, "W" * 30))(IMS_VERSION, "ListAccessKeys")
    err = assert_xml_error(wrong, "SignatureDoesNotMatch", 400)
    assert "server string to sign is:POST&%2F&" in err.findtext("Message")
    assert_xml_error(xml_caller(kp, ("LTAI" + "9" * 20, "x" * 30))(IMS_VERSION, "ListAccessKeys"),
                     "InvalidAccessKeyId.NotFound", 404)

    for k in (first_id, second.findtext("AccessKeyId")):
        status, root, _ = call(IMS_VERSION, "DeleteAccessKey", UserAccessKeyId=k, UserPrincipalName=u.principal)
        assert status == 200 and root.tag == "DeleteAccessKeyResponse"
    status, root, _ = call(IMS_VERSION, "ListAccessKeys", UserPrincipalName=u.principal)
    assert status == 200 and root.find("AccessKeys") is not None and tags(root.find("AccessKeys")) == []


def test_legacy_xml_smc(kp):
    call = xml_caller(kp)
    name = unique("smcxml").replace("x", "_")
    root = response(call(SMC_VERSION, "CreateAccessToken", Name=name, Count="3"), "CreateAccessToken")
    assert sorted(tags(root)) == ["AccessTokenCode", "AccessTokenId", "RequestId"]
    token_id = root.findtext("AccessTokenId")
    ali_remember(root.findtext("AccessTokenCode"), "XML CreateAccessToken", "code")
    call(SMC_VERSION, "CreateAccessToken", Name=name)

    root = response(call(SMC_VERSION, "ListAccessTokens", Name=name), "ListAccessTokens")
    assert sorted(tags(root)) == ["AccessTokens", "PageNumber", "PageSize", "RequestId", "TotalCount"]
    assert root.findtext("TotalCount") == "2"
    wrapper = root.find("AccessTokens")
    assert tags(wrapper) == ["AccessToken", "AccessToken"]
    for t in wrapper:
        assert sorted(tags(t)) == sorted(["AccessTokenId", "Name", "Description", "Count", "RegisteredCount",
                                          "TimeToLiveInDays", "CreationTime", "Status"])
    assert token_id in {t.findtext("AccessTokenId") for t in wrapper}

    assert_xml_error(call(SMC_VERSION, "DeleteAccessToken", AccessTokenId="at-nothere0000000000"),
                     "InvalidAccessTokenId.NotFound", 404, host="smc.aliyuncs.com")
    assert_xml_error(call(SMC_VERSION, "CreateAccessToken", Name="1bad"), "InvalidParameter", 400,
                     host="smc.aliyuncs.com")
    u = new_ali_user(kp)
    denial = assert_xml_error(xml_caller(kp, (u.ali_id, u.ali_secret))(SMC_VERSION, "ListAccessTokens"),
                              "Forbidden.RAM", 403, host="smc.aliyuncs.com", denied=True)
    detail = denial.find("AccessDeniedDetail")
    assert detail.findtext("AuthAction") == "smc:ListAccessTokens"
    assert detail.findtext("NoPermissionType") == "ImplicitDeny"
    assert detail.findtext("AuthPrincipalType") == "SubUser"
    for t in wrapper:
        status, root, _ = call(SMC_VERSION, "DeleteAccessToken", AccessTokenId=t.findtext("AccessTokenId"))
        assert status == 200 and root.tag == "DeleteAccessTokenResponse" and tags(root) == ["RequestId"]
