"""Common (envelope) errors of Tencent Cloud API 3.0, protocols.md A.3-A.5.

Off-model calls go through tencentcloud.common.common_client.CommonClient;
the malformed-Authorization and oversized-body cases use raw HTTP and check
the reply byte for byte: HTTP 200, Content-Type exactly application/json,
{"Response": {"Error": {"Code", "Message"}, "RequestId"}}.
"""

from __future__ import annotations

import json
import secrets
import time

import pytest
from tencentcloud.apigateway.v20180808 import models as gw
from tencentcloud.cam.v20190116 import models as cam
from tencentcloud.common import abstract_client

import harness
from harness import APIGW_REGION, APIGW_VERSION, CAM_VERSION, PY_VARIANTS, mk, raises_code, unique

VARIANTS = list(PY_VARIANTS)
GET_OR_V1 = [v for v in VARIANTS if v != "tc3-post"]


def assert_error_reply(rr: harness.RawResponse, code, what="reply"):
    problems = rr.envelope_problems(what)
    assert not problems, "\n".join(problems)
    got = rr.error_code()
    if isinstance(code, tuple):
        assert got in code, f"{what}: expected one of {code}, got {got}: {rr.body[:300]!r}"
    elif code.endswith("*"):
        assert got and got.startswith(code[:-1]), f"{what}: expected {code}, got {got}: {rr.body[:300]!r}"
    else:
        assert got == code, f"{what}: expected {code}, got {got}: {rr.body[:300]!r}"


# -- dispatch errors -----------------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANTS)
def test_invalid_action(kp, variant):
    with raises_code("InvalidAction"):
        kp.common(variant=variant).call_json("FrobnicateAccessKeys", {})


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_such_version(kp, variant):
    with raises_code("NoSuchVersion"):
        kp.common("cam", "2099-01-01", variant=variant).call_json("ListAccessKeys", {})
    with raises_code("NoSuchVersion"):
        kp.common("apigateway", "2099-01-01", region=APIGW_REGION, variant=variant) \
            .call_json("DescribeApiKeysStatus", {})


@pytest.mark.parametrize("variant", VARIANTS)
def test_missing_parameter(kp, user, variant):
    with raises_code("MissingParameter"):
        kp.common(variant=variant).call_json("UpdateAccessKey",
                                             {"AccessKeyId": user.secret_id, "TargetUin": user.uin})
    with raises_code("MissingParameter"):
        kp.common(variant=variant).call_json("DeleteAccessKey", {"TargetUin": user.uin})
    # nothing happened to the key
    assert kp.cam().ListAccessKeys(mk(cam.ListAccessKeysRequest, TargetUin=user.uin)) \
        .AccessKeys[0].Status == "Active"


@pytest.mark.parametrize("action", ["ListAccessKeys", "CreateAccessKey"])
@pytest.mark.parametrize("bad", ["abc", {"a": 1}, [1, 2], True], ids=["string", "object", "array", "bool"])
def test_invalid_parameter_type_json(kp, action, bad):
    before = kp.cam().ListAccessKeys(mk(cam.ListAccessKeysRequest)).AccessKeys
    with raises_code("InvalidParameter"):
        kp.common().call_json(action, {"TargetUin": bad})
    after = kp.cam().ListAccessKeys(mk(cam.ListAccessKeysRequest)).AccessKeys
    assert len(after) == len(before)


def test_invalid_parameter_type_status_number(kp, user):
    with raises_code("InvalidParameter"):
        kp.common().call_json("UpdateAccessKey", {"AccessKeyId": user.secret_id, "Status": 0,
                                                  "TargetUin": user.uin})


@pytest.mark.parametrize("variant", GET_OR_V1)
def test_invalid_parameter_type_flat(kp, variant):
    """GET / v1: integers arrive as strings; "abc" is still not an integer."""
    with raises_code("InvalidParameter"):
        kp.common(variant=variant).call_json("ListAccessKeys", {"TargetUin": "abc"})


@pytest.mark.parametrize("variant", VARIANTS)
def test_real_uin_works_in_every_encoding(kp, user, variant):
    """Sanity for the above: a real uin works in every encoding."""
    keys = kp.common(variant=variant).call_json("ListAccessKeys", {"TargetUin": user.uin})
    assert [k["AccessKeyId"] for k in keys["Response"]["AccessKeys"]] == [user.secret_id]


@pytest.mark.parametrize("variant", VARIANTS)
def test_invalid_parameter_value(kp, user, variant):
    with raises_code("InvalidParameterValue"):
        kp.common(variant=variant).call_json(
            "UpdateAccessKey", {"AccessKeyId": user.secret_id, "Status": "Sleeping", "TargetUin": user.uin})
    assert kp.cam().ListAccessKeys(mk(cam.ListAccessKeysRequest, TargetUin=user.uin)) \
        .AccessKeys[0].Status == "Active"


@pytest.mark.parametrize("variant", VARIANTS)
def test_unknown_parameter(kp, user, variant):
    with raises_code("UnknownParameter"):
        kp.common(variant=variant).call_json("ListAccessKeys", {"Bogus": 1})
    with raises_code("UnknownParameter"):
        kp.common(variant=variant).call_json("CreateAccessKey", {"TargetUin": user.uin, "Frobnicate": "x"})
    assert len(kp.cam().ListAccessKeys(mk(cam.ListAccessKeysRequest, TargetUin=user.uin)).AccessKeys) == 1
    with raises_code("UnknownParameter"):
        kp.common("apigateway", APIGW_VERSION, region=APIGW_REGION, variant=variant) \
            .call_json("CreateApiKey", {"SecretName": unique("unk"), "Colour": "blue"})


# -- authentication ------------------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANTS)
def test_signature_failure_wrong_secret(kp, variant):
    sid, skey = kp.root_cred()
    wrong = ("X" if skey[0] != "X" else "Y") + skey[1:]
    with raises_code("AuthFailure.SignatureFailure"):
        kp.cam(variant, cred=(sid, wrong)).ListAccessKeys(mk(cam.ListAccessKeysRequest))
    with raises_code("AuthFailure.SignatureFailure"):
        kp.apigw(variant, cred=(sid, wrong)).DescribeApiKeysStatus(mk(gw.DescribeApiKeysStatusRequest))


@pytest.mark.parametrize("variant", VARIANTS)
def test_secret_id_not_found(kp, variant):
    sid = "AKID" + "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
                           for _ in range(32))
    with raises_code("AuthFailure.SecretIdNotFound"):
        kp.cam(variant, cred=(sid, "x" * 32)).ListAccessKeys(mk(cam.ListAccessKeysRequest))


class _ShiftedClock:
    def __init__(self, delta):
        self.delta = delta

    def time(self):
        return time.time() + self.delta


@pytest.mark.parametrize("variant", ["tc3-post", "tc3-get", "v1-sha256-post", "v1-sha1-get"])
@pytest.mark.parametrize("delta", [-3600, -400, 400, 3600])
def test_signature_expire(kp, monkeypatch, variant, delta):
    """The SDK signs with time.time() of tencentcloud.common.abstract_client;
    shift it beyond the 5-minute window."""
    monkeypatch.setattr(abstract_client, "time", _ShiftedClock(delta))
    with raises_code("AuthFailure.SignatureExpire"):
        kp.cam(variant).ListAccessKeys(mk(cam.ListAccessKeysRequest))


@pytest.mark.parametrize("variant", ["tc3-post", "v1-sha256-post"])
@pytest.mark.parametrize("delta", [-200, 200])
def test_small_clock_skew_accepted(kp, monkeypatch, variant, delta):
    monkeypatch.setattr(abstract_client, "time", _ShiftedClock(delta))
    kp.cam(variant).ListAccessKeys(mk(cam.ListAccessKeysRequest))


def _signed(kp, action="ListAccessKeys", body=b"{}", **kw):
    sid, skey = kp.root_cred()
    return harness.tc3_headers(sid, skey, host=f"127.0.0.1:{kp.port}", service="cam",
                               action=action, version=CAM_VERSION, body=body, **kw)


def test_raw_hand_signed_success_envelope(kp):
    """Also validates the hand signer used below."""
    rr = harness.raw_request(kp.port, _signed(kp), b"{}")
    assert not rr.envelope_problems("ListAccessKeys"), rr.envelope_problems("ListAccessKeys")
    r = rr.json()["Response"]
    assert "Error" not in r, r
    assert kp.init.secret_id in [k["AccessKeyId"] for k in r["AccessKeys"]]


def test_raw_hand_signed_signature_expire(kp):
    rr = harness.raw_request(kp.port, _signed(kp, timestamp=int(time.time()) - 3600), b"{}")
    assert_error_reply(rr, "AuthFailure.SignatureExpire")


def test_raw_tampered_body(kp, user):
    signed_body = json.dumps({"TargetUin": user.uin}).encode()
    h = _signed(kp, "ListAccessKeys", signed_body)
    rr = harness.raw_request(kp.port, h, json.dumps({"TargetUin": kp.root_uin}).encode())
    assert_error_reply(rr, "AuthFailure.SignatureFailure")


def _auth_variants(kp):
    good = _signed(kp)["Authorization"]
    sid = kp.init.secret_id
    date = time.strftime("%Y-%m-%d", time.gmtime())
    return {
        "basic": "Basic Zm9vOmJhcg==",
        "garbage-after-algorithm": "TC3-HMAC-SHA256 garbage",
        "no-signature": f"TC3-HMAC-SHA256 Credential={sid}/{date}/cam/tc3_request, SignedHeaders=content-type;host",
        "no-credential": "TC3-HMAC-SHA256 SignedHeaders=content-type;host, Signature=" + "0" * 64,
        "credential-without-scope": f"TC3-HMAC-SHA256 Credential={sid}, SignedHeaders=content-type;host, "
                                    f"Signature={'0' * 64}",
        "unknown-algorithm": good.replace("TC3-HMAC-SHA256", "TC4-HMAC-SHA512", 1),
        "just-the-algorithm": "TC3-HMAC-SHA256",
    }


@pytest.mark.parametrize("case", ["basic", "garbage-after-algorithm", "no-signature", "no-credential",
                                  "credential-without-scope", "unknown-algorithm", "just-the-algorithm"])
def test_invalid_authorization(kp, case):
    h = _signed(kp)
    h["Authorization"] = _auth_variants(kp)[case]
    rr = harness.raw_request(kp.port, h, b"{}")
    assert_error_reply(rr, "AuthFailure.InvalidAuthorization", case)


def test_content_type_not_signed(kp):
    """The server must insist on content-type and host being signed (A.2); the
    code for this case is not pinned beyond AuthFailure.*."""
    h = _signed(kp)
    h["Authorization"] = h["Authorization"].replace("SignedHeaders=content-type;host", "SignedHeaders=host")
    rr = harness.raw_request(kp.port, h, b"{}")
    assert_error_reply(rr, "AuthFailure.*")


def test_no_authorization_at_all(kp):
    """Code not pinned: some AuthFailure.* or MissingParameter - never a success."""
    h = _signed(kp)
    del h["Authorization"]
    rr = harness.raw_request(kp.port, h, b"{}")
    assert not rr.envelope_problems(), rr.envelope_problems()
    code = rr.error_code() or ""
    assert code.startswith("AuthFailure.") or code == "MissingParameter", rr.body[:300]


def test_request_size_limit(kp):
    """TC3 POST bodies are limited to 10 MB (A.1)."""
    filler = "A" * (10 * 1024 * 1024 + 4096)
    body = json.dumps({"Description": filler}).encode()
    h = _signed(kp, "CreateAccessKey", body)
    rr = harness.raw_request_streaming(kp.port, h, body)
    assert_error_reply(rr, "RequestSizeLimitExceeded")
    # the server is still fine afterwards
    kp.cam().ListAccessKeys(mk(cam.ListAccessKeysRequest))


def test_sdk_replies_are_plain_json(kp, user):
    """Every SDK reply is checked by the autouse fixture in conftest.py; this
    test makes sure the hook actually sees replies (success and error)."""
    n = len(harness.OBSERVED)
    kp.cam().ListAccessKeys(mk(cam.ListAccessKeysRequest, TargetUin=user.uin))
    with raises_code("InvalidAction"):
        kp.common().call_json("NoSuchThing", {})
    seen = harness.OBSERVED[n:]
    assert [o.action for o in seen] == ["ListAccessKeys", "NoSuchThing"]
    for o in seen:
        assert o.status == 200 and o.content_type == "application/json"


# -- UNSIGNED-PAYLOAD ----------------------------------------------------------------

def _unsigned_payload_cam(port: int, cred: tuple[str, str], variant: str = "tc3-post"):
    """The SDK's own option: ClientProfile.unsignedPayload = True sends
    X-TC-Content-SHA256: UNSIGNED-PAYLOAD, so the body is not signed."""
    from tencentcloud.cam.v20190116 import cam_client
    p = harness.profile(port, variant)
    p.unsignedPayload = True
    return cam_client.CamClient(harness.credential(*cred), "", p)


@pytest.mark.parametrize("variant", ["tc3-post", "tc3-get"])
def test_unsigned_payload_refused_by_default(kp, variant):
    """Without a signed body a captured request is a bearer token for any body:
    refused unless the operator opts in, with a message saying how."""
    with raises_code("AuthFailure.SignatureFailure") as refused:
        _unsigned_payload_cam(kp.port, kp.root_cred(), variant).ListAccessKeys(mk(cam.ListAccessKeysRequest))
    assert "signed payload" in refused.exc.message
    assert "--allow-unsigned-payload" in refused.exc.message


def test_unsigned_payload_allowed_by_the_operator(kp_factory):
    d = kp_factory("unsigned-payload", "--allow-unsigned-payload")
    client = _unsigned_payload_cam(d.port, d.root_cred())
    keys = client.ListAccessKeys(mk(cam.ListAccessKeysRequest)).AccessKeys
    assert d.init.secret_id in [k.AccessKeyId for k in keys]
    # a signed request still works there
    d.cam().ListAccessKeys(mk(cam.ListAccessKeysRequest))
