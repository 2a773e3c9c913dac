"""Signature and envelope errors of the Alibaba dialect, produced through the
SDKs themselves (protocols.md B.3-B.7), for each Python client: the tea SDK in
ACS3 mode and in RPC v1 mode, and the legacy aliyun-python-sdk-core.  The SDKs'
clock and nonce helpers are monkeypatched where a bad timestamp or a repeated
nonce is needed (aliyun_harness.tea_clock / legacy_clock).
"""

from __future__ import annotations

import re
import secrets

import pytest
from alibabacloud_ims20190815 import models as m

import aliyun_harness as A
from aliyun_harness import IMS_VERSION, SMC_VERSION, ali_raises, fresh_nonce, iso_utc

CLIENTS = ["tea-acs3", "tea-rpc-v1", "legacy"]


def list_keys(kp, client: str, cred=None, timestamp=None, nonce=None, version=IMS_VERSION,
              action="ListAccessKeys"):
    """One call through `client`; returns the decoded reply."""
    ak, sk = cred or A.root_cred(kp)
    if client.startswith("tea-"):
        c = A.ims_client(kp.port, ak, sk, client[4:])
        with A.tea_clock(timestamp, nonce):
            if (version, action) == (IMS_VERSION, "ListAccessKeys"):
                return c.list_access_keys(m.ListAccessKeysRequest()).body.to_map()
            return A.tea_call(c, version, action)["body"]
    lc = A.legacy_client(ak, sk)
    with A.legacy_clock(timestamp, nonce):
        return A.legacy_json(lc, A.legacy_request(kp.port, version, action))


def message_of(e: ali_raises) -> str:
    return e.data["Message"] if e.data else e.message


@pytest.mark.parametrize("client", CLIENTS)
def test_signature_does_not_match(kp, client):
    ak, sk = A.root_cred(kp)
    wrong = ("Z" if sk[0] != "Z" else "Y") + sk[1:]
    if client == "legacy":
        lc = A.legacy_client(ak, wrong)
        req = A.legacy_request(kp.port, IMS_VERSION, "ListAccessKeys")
        with ali_raises("SignatureDoesNotMatch", 400) as e:
            A.legacy_json(lc, req)
        client_sts = [req.request.string_to_sign]
    else:
        with A.tea_strings_to_sign() as client_sts:
            with ali_raises("SignatureDoesNotMatch", 400) as e:
                list_keys(kp, client, (ak, wrong))
    msg = message_of(e)
    assert msg.startswith("Specified signature is not matched with our calculation."), msg
    server_sts = A.server_string_to_sign(msg)
    # the server's string to sign is exactly the one the client signed
    assert client_sts and server_sts == client_sts[-1], (server_sts, client_sts)
    if client == "tea-acs3":
        assert re.fullmatch(r"ACS3-HMAC-SHA256\n[0-9a-f]{64}", server_sts), server_sts
    else:
        assert server_sts.startswith("POST&%2F&") and f"AccessKeyId%3D{ak}" in server_sts, server_sts


@pytest.mark.parametrize("client", CLIENTS)
def test_timestamp_window(kp, client):
    """15 minutes either way: 16 minutes off is InvalidTimeStamp.Expired, 10 is fine."""
    for offset in (-10 * 60, 10 * 60):
        assert "AccessKeys" in list_keys(kp, client, timestamp=iso_utc(offset))
    for offset in (-16 * 60, 16 * 60, -86400 * 365):
        with ali_raises("InvalidTimeStamp.Expired", 400) as e:
            list_keys(kp, client, timestamp=iso_utc(offset))
        assert message_of(e) == "Specified time stamp or date value is expired."


@pytest.mark.parametrize("client", CLIENTS)
def test_timestamp_format(kp, client):
    for bad in ("yesterday", "2026-13-45T99:00:00Z", "1700000000", ""):
        with ali_raises("InvalidTimeStamp.Format", 400):
            list_keys(kp, client, timestamp=bad)


@pytest.mark.parametrize("client", CLIENTS)
def test_signature_nonce_used(kp, client):
    nonce = fresh_nonce()
    assert "AccessKeys" in list_keys(kp, client, nonce=nonce)
    with ali_raises("SignatureNonceUsed", 400) as e:
        list_keys(kp, client, nonce=nonce)
    assert message_of(e) == "Specified signature nonce was used already."
    # also across clients and actions
    other = [c for c in CLIENTS if c != client][0]
    with ali_raises("SignatureNonceUsed", 400):
        list_keys(kp, other, nonce=nonce)
    with ali_raises("SignatureNonceUsed", 400):
        list_keys(kp, client, nonce=nonce, version=SMC_VERSION, action="ListAccessTokens")
    # a nonce is per access key: another key may use the same one
    u = A.new_ali_user(kp)
    assert "AccessKeys" in list_keys(kp, client, (u.ali_id, u.ali_secret), nonce=nonce)


@pytest.mark.parametrize("client", CLIENTS)
def test_unknown_access_key(kp, client):
    unknown = "LTAI" + "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(20))
    with ali_raises("InvalidAccessKeyId.NotFound", 404) as e:
        list_keys(kp, client, (unknown, "x" * 30))
    assert message_of(e) == "Specified access key is not found."
    with ali_raises("InvalidAccessKeyId.NotFound", 404):
        list_keys(kp, client, ("not-an-id!", "x" * 30))


@pytest.mark.parametrize("client", CLIENTS)
def test_missing_parameter(kp, client):
    with ali_raises("MissingParameter", 400) as e:
        list_keys(kp, client, nonce="")
    assert message_of(e) == "SignatureNonce is mandatory for this action."
    if client == "tea-rpc-v1":
        # the tea SDK leaves out a query parameter whose value is None
        with ali_raises("MissingParameter", 400) as e:
            list_keys(kp, client, timestamp=lambda: None)
        assert message_of(e) == "Timestamp is mandatory for this action."


@pytest.mark.parametrize("client", CLIENTS)
def test_unknown_action_and_version(kp, client):
    with ali_raises("InvalidAction.NotFound", 404) as e:
        list_keys(kp, client, action="FrobnicateAccessKeys")
    if e.data:
        assert e.data["HostId"] == "ims.aliyuncs.com"
    with ali_raises("InvalidAction.NotFound", 404):
        list_keys(kp, client, version=SMC_VERSION, action="CreateAccessKey")
    with ali_raises("InvalidVersion", 400):
        list_keys(kp, client, version="2099-01-01")


@pytest.mark.parametrize("mode", list(A.TEA_MODES))
def test_security_token_is_refused(kp, mode):
    from alibabacloud_ims20190815.client import Client
    cfg = A.tea_config(kp.port, *A.root_cred(kp), mode=mode)
    cfg.security_token = "CAIS-not-issued-by-keyplane"
    with ali_raises("InvalidSecurityToken.MismatchWithAccessKey", 400):
        Client(cfg).list_access_keys(m.ListAccessKeysRequest())


def test_legacy_methods(kp):
    """The legacy core signs GET (parameters in the query) as well as POST;
    other methods are UnsupportedHTTPMethod."""
    lc = A.legacy_client(*A.root_cred(kp))
    for method in ("GET", "POST"):
        r = A.legacy_json(lc, A.legacy_request(kp.port, IMS_VERSION, "ListAccessKeys", method=method))
        assert kp.init.aliyun_id in [k["AccessKeyId"] for k in r["AccessKeys"]["AccessKey"]]
    for method in ("PUT", "DELETE"):
        with ali_raises("UnsupportedHTTPMethod", 400):
            A.legacy_json(lc, A.legacy_request(kp.port, IMS_VERSION, "ListAccessKeys", method=method))


def test_acs3_unsigned_header_and_body_hash(kp, monkeypatch):
    """ACS3 through the tea SDK with its signer tweaked: an x-acs-* header left
    out of SignedHeaders, or an x-acs-content-sha256 that is not the body's
    hash, is IncompleteSignature (protocols.md B.4)."""
    import hashlib
    from alibabacloud_tea_openapi import utils as tea_utils
    c = A.ims_client(kp.port, *A.root_cred(kp))
    original = tea_utils.get_canonicalized_headers

    def without_nonce(headers):
        return original({k: v for k, v in headers.items() if k.lower() != "x-acs-signature-nonce"})

    monkeypatch.setattr(tea_utils, "get_canonicalized_headers", without_nonce)
    with ali_raises("IncompleteSignature", 400) as e:
        c.list_access_keys(m.ListAccessKeysRequest())
    assert "x-acs-signature-nonce" in message_of(e)
    monkeypatch.setattr(tea_utils, "get_canonicalized_headers", original)

    monkeypatch.setattr(tea_utils.Utils, "hash", staticmethod(lambda raw, sign_type: hashlib.sha256(b"x").digest()))
    with ali_raises("IncompleteSignature", 400) as e:
        c.list_access_keys(m.ListAccessKeysRequest())
    assert "x-acs-content-sha256" in message_of(e)


def test_rate_limits_apply_to_the_alibaba_actions(kp_factory):
    """`--rate-limit ims:ListAccessKeys=2` throttles IMS with Throttling.User
    (400) through every client; the window passes."""
    import time
    d = kp_factory("ali-throttle", "--rate-limit", "ims:ListAccessKeys=2", "--rate-limit",
                   "smc:CreateAccessToken=2")
    for client in CLIENTS:
        time.sleep(1.1)
        outcomes = []
        for _ in range(6):
            try:
                list_keys(d, client)
                outcomes.append("ok")
            except Exception as exc:  # noqa: BLE001
                with ali_raises("Throttling.User", 400):
                    raise exc
                outcomes.append("throttled")
        assert "throttled" in outcomes and outcomes[0] == "ok", (client, outcomes)
        assert outcomes.count("ok") <= 4, (client, outcomes)
    time.sleep(1.1)
    from alibabacloud_smc20190601 import models as sm
    s = A.smc_client(d.port, *A.root_cred(d))
    codes = []
    for _ in range(5):
        try:
            codes.append(s.create_access_token(sm.CreateAccessTokenRequest(name="thr_tok")).body.access_token_id)
        except Exception as exc:  # noqa: BLE001
            with ali_raises("Throttling.User", 400):
                raise exc
    assert 1 <= len(codes) <= 4, codes
    time.sleep(1.1)
    assert "AccessKeys" in list_keys(d, "tea-acs3")     # recovered


AWKWARD = "迁移 任务 ~*!'()&=+%/?#[]@$,;:\"<>^`{|}"


@pytest.mark.parametrize("client", CLIENTS + ["legacy-get"])
def test_awkward_characters_are_signed_alike(kp, client):
    """Every character class the RFC 3986 canonical forms treat specially
    (space, `*`, `~`, reserved and non-ASCII characters) survives the client's
    encoding and the server's canonicalisation, and comes back unchanged."""
    from alibabacloud_smc20190601 import models as sm
    name = "awk_" + secrets.token_hex(4)
    if client.startswith("tea-"):
        c = A.smc_client(kp.port, *A.root_cred(kp), mode=client[4:])
        t = c.create_access_token(sm.CreateAccessTokenRequest(name=name, description=AWKWARD)).body
        [got] = c.list_access_tokens(sm.ListAccessTokensRequest(access_token_id=[t.access_token_id],
                                                                 name=name)).body.access_tokens.access_token
        description = got.description
    else:
        lc = A.legacy_client(*A.root_cred(kp))
        method = "GET" if client == "legacy-get" else "POST"
        t = A.legacy_json(lc, A.legacy_request(kp.port, SMC_VERSION, "CreateAccessToken",
                                               {"Name": name, "Description": AWKWARD}, method))
        listed = A.legacy_json(lc, A.legacy_request(kp.port, SMC_VERSION, "ListAccessTokens",
                                                    {"AccessTokenId.1": t["AccessTokenId"], "Name": name}, method))
        [got] = listed["AccessTokens"]["AccessToken"]
        description = got["Description"]
    assert description == AWKWARD


@pytest.mark.parametrize("mode", list(A.TEA_MODES))
def test_endpoint_with_scheme(kp, mode):
    """`endpoint="http://127.0.0.1:PORT"` also works with the tea SDK; the scheme
    then ends up in the Host header and in the signed host (protocols.md D.21)."""
    from alibabacloud_ims20190815.client import Client
    cfg = A.tea_config(kp.port, *A.root_cred(kp), mode=mode)
    cfg.endpoint = f"http://127.0.0.1:{kp.port}"
    keys = Client(cfg).list_access_keys(m.ListAccessKeysRequest()).body.access_keys.access_key
    assert kp.init.aliyun_id in [k.access_key_id for k in keys]


def test_replies_were_observed_and_checked():
    """The transport hooks saw the Alibaba replies (so the envelope checks ran)."""
    seen = {(o.client, o.status >= 400) for o in A.ALI_OBSERVED}
    assert {("tea", False), ("tea", True), ("legacy", False), ("legacy", True)} <= seen, seen
