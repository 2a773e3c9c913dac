"""The SMC agent's side of activation codes: a migration source registers itself
with `POST /smc/v1/source-servers` (plain HTTP, headers
X-Keyplane-Access-Token-Id / X-Keyplane-Access-Token-Code, JSON body
{name, hostname, os, fingerprint}).  The codes are minted, and the effect of
registrations is read back, through the tea SDK's ListAccessTokens.

201 new registration; 200 with the same SourceId for a fingerprint already
registered with the code; 409 AccessToken.Exhausted; 403 AccessToken.Disabled;
401 InvalidAccessToken for a deleted/unknown code or a wrong code.  A refusal
consumes nothing.
"""

from __future__ import annotations

import http.client
import re

import pytest
from alibabacloud_smc20190601 import models as m

from aliyun_harness import ERROR_FIELDS, TEA_MODES, Registration, register, smc
from harness import unique

ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
SUCCESS_FIELDS = {"RequestId", "SourceId", "AccessTokenId", "Name", "Hostname", "Os", "RegisteredAt",
                  "AlreadyRegistered"}


def new_token(kp, count: str | None = None, mode: str = "acs3"):
    req = m.CreateAccessTokenRequest(name=unique("reg").replace("x", "_"))
    if count:
        req.count = count
    return smc(kp, mode).create_access_token(req).body


def state(kp, token_id: str, mode: str = "acs3") -> tuple[str, str]:
    got = smc(kp, mode).list_access_tokens(m.ListAccessTokensRequest(access_token_id=[token_id])).body
    [t] = got.access_tokens.access_token
    return t.status, t.registered_count


def assert_error(r: Registration, code: str, status: int):
    assert r.status == status, f"expected HTTP {status} {code}, got {r.status}: {r.body[:300]!r}"
    assert (r.content_type or "").startswith("application/json"), r.content_type
    doc = r.doc
    assert doc.get("Code") == code, doc
    missing = [f for f in ERROR_FIELDS if not isinstance(doc.get(f), str) or not doc[f]]
    assert not missing, f"registration error lacks {missing}: {doc}"


@pytest.mark.parametrize("mode", list(TEA_MODES))
def test_register_and_register_again(kp, mode):
    t = new_token(kp, count="3", mode=mode)
    assert state(kp, t.access_token_id, mode) == ("unactivated", "0")
    body = {"name": "web-01", "hostname": "web-01.corp.example", "os": "CentOS 7.9",
            "fingerprint": "fp-" + unique("")}
    r = register(kp.port, t.access_token_id, t.access_token_code, body)
    assert r.status == 201, r.body
    assert (r.content_type or "").startswith("application/json")
    doc = r.doc
    assert set(doc) == SUCCESS_FIELDS, doc
    assert doc["AlreadyRegistered"] is False
    assert doc["AccessTokenId"] == t.access_token_id
    assert (doc["Name"], doc["Hostname"], doc["Os"]) == (body["name"], body["hostname"], body["os"])
    assert doc["SourceId"] and doc["RequestId"]
    assert ISO.fullmatch(doc["RegisteredAt"]), doc["RegisteredAt"]
    assert t.access_token_code not in r.body.decode()
    assert state(kp, t.access_token_id, mode) == ("activated", "1")

    again = register(kp.port, t.access_token_id, t.access_token_code, dict(body, name="web-01-renamed"))
    assert again.status == 200, again.body
    assert again.doc["AlreadyRegistered"] is True
    assert again.doc["SourceId"] == doc["SourceId"]
    assert again.doc["RegisteredAt"] == doc["RegisteredAt"]
    assert state(kp, t.access_token_id, mode) == ("activated", "1"), "a second registration consumed a use"


def test_exhausted_code(kp):
    t = new_token(kp, count="2")
    first_body = {"name": "db-01", "hostname": "db-01.example", "os": "Ubuntu 22.04",
                  "fingerprint": "fp-first-" + unique("")}
    first = register(kp.port, t.access_token_id, t.access_token_code, first_body)
    second = register(kp.port, t.access_token_id, t.access_token_code)
    assert (first.status, second.status) == (201, 201), (first.body, second.body)
    assert first.doc["SourceId"] != second.doc["SourceId"]
    assert state(kp, t.access_token_id) == ("activated", "2")
    assert_error(register(kp.port, t.access_token_id, t.access_token_code), "AccessToken.Exhausted", 409)
    assert state(kp, t.access_token_id) == ("activated", "2")
    # a source already registered still gets its registration back
    again = register(kp.port, t.access_token_id, t.access_token_code, first_body)
    assert again.status == 200 and again.doc["SourceId"] == first.doc["SourceId"], again.body
    assert again.doc["AlreadyRegistered"] is True
    assert state(kp, t.access_token_id) == ("activated", "2")


def test_count_one(kp):
    t = new_token(kp, count="1")
    fp = "fp-only-" + unique("")
    body = {"name": "only", "hostname": "only.example", "os": "Windows Server 2019", "fingerprint": fp}
    r = register(kp.port, t.access_token_id, t.access_token_code, body)
    assert r.status == 201, r.body
    assert_error(register(kp.port, t.access_token_id, t.access_token_code), "AccessToken.Exhausted", 409)
    again = register(kp.port, t.access_token_id, t.access_token_code, body)
    assert again.status == 200 and again.doc["SourceId"] == r.doc["SourceId"], again.body
    assert state(kp, t.access_token_id) == ("activated", "1")


def test_disabled_code(kp):
    t = new_token(kp)
    c = smc(kp)
    assert register(kp.port, t.access_token_id, t.access_token_code).status == 201
    c.disable_access_token(m.DisableAccessTokenRequest(access_token_id=t.access_token_id))
    assert state(kp, t.access_token_id) == ("expired", "1")
    r = register(kp.port, t.access_token_id, t.access_token_code)
    assert_error(r, "AccessToken.Disabled", 403)
    assert r.doc["HostId"] == "smc.aliyuncs.com"
    assert state(kp, t.access_token_id) == ("expired", "1"), "a refused registration consumed a use"


def test_deleted_unknown_and_wrong_codes(kp):
    t = new_token(kp)
    c = smc(kp)
    wrong = t.access_token_code[:-1] + ("A" if t.access_token_code[-1] != "A" else "B")
    assert_error(register(kp.port, t.access_token_id, wrong), "InvalidAccessToken", 401)
    assert_error(register(kp.port, t.access_token_id, t.access_token_code + "x"), "InvalidAccessToken", 401)
    assert_error(register(kp.port, "at-unknown00000000000", t.access_token_code), "InvalidAccessToken", 401)
    other = new_token(kp)
    assert_error(register(kp.port, t.access_token_id, other.access_token_code), "InvalidAccessToken", 401)
    assert state(kp, t.access_token_id) == ("unactivated", "0"), "a refused registration consumed a use"
    c.delete_access_token(m.DeleteAccessTokenRequest(access_token_id=t.access_token_id))
    assert_error(register(kp.port, t.access_token_id, t.access_token_code), "InvalidAccessToken", 401)


def test_malformed_registrations(kp):
    t = new_token(kp)
    assert_error(register(kp.port, None, t.access_token_code), "MissingParameter", 400)
    assert_error(register(kp.port, t.access_token_id, None), "MissingParameter", 400)
    assert_error(register(kp.port, t.access_token_id, t.access_token_code, raw_body=b"not json"),
                 "InvalidParameter", 400)
    assert_error(register(kp.port, t.access_token_id, t.access_token_code, {"name": "only-name"}),
                 "InvalidParameter", 400)
    for field, value in (("fingerprint", "short"), ("fingerprint", "x" * 257), ("name", ""),
                         ("hostname", "h" * 256), ("os", "Linux\n")):
        body = {"name": "n", "hostname": "h.example", "os": "Linux", "fingerprint": "fp-" + unique(""),
                field: value}
        r = register(kp.port, t.access_token_id, t.access_token_code, body)
        assert_error(r, "InvalidParameter", 400)
        assert field in r.doc["Message"], r.doc
    conn = http.client.HTTPConnection("127.0.0.1", kp.port, timeout=30)
    conn.request("GET", "/smc/v1/source-servers", headers={"X-Keyplane-Access-Token-Id": t.access_token_id,
                                                           "X-Keyplane-Access-Token-Code": t.access_token_code})
    resp = conn.getresponse()
    assert_error(Registration(resp.status, resp.getheader("Content-Type"), resp.read()), "UnsupportedHTTPMethod", 400)
    conn.close()
    assert state(kp, t.access_token_id) == ("unactivated", "0")
