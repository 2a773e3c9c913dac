"""Secrets at rest.  Runs last (conftest moves `at_rest` tests to the end):
every server the session started is stopped with SIGTERM, then no secret the
suite was ever given (root secrets from init, every SecretAccessKey, every API
Gateway AccessKeySecret incl. manual, refused and rotated ones, every Alibaba
AccessKeySecret and every SMC AccessTokenCode, whether it came through the tea
SDK, the legacy core in JSON or XML, pop-core or a registration header) may
occur as bytes in any file of any data directory, in `keyplane audit` output,
or in the server logs.

The whole data directory is scanned, the master-key file included: it holds no
credential secret, so scanning it cannot produce a false positive.
"""

from __future__ import annotations

import base64
import json

import pytest
from alibabacloud_ims20190815 import models as ims_m
from alibabacloud_smc20190601 import models as smc_m
from tencentcloud.apigateway.v20180808 import models as gw
from tencentcloud.cam.v20190116 import models as cam

import aliyun_harness as ali
import harness
from harness import SECRETS, mk, raises_code, unique

pytestmark = pytest.mark.at_rest


@pytest.fixture(scope="module")
def stopped(kp):
    """A small workload of its own (so that this file is meaningful when run
    alone), a scan while the servers still run, then SIGTERM everything."""
    info = {}
    u = kp.new_user()
    root_c, g = kp.cam(), kp.apigw()
    k2 = root_c.CreateAccessKey(mk(cam.CreateAccessKeyRequest, TargetUin=u.uin, Description="atrest")).AccessKey
    harness.remember(k2.SecretAccessKey, "at-rest CAM key")
    kp.cam(cred=(k2.AccessKeyId, k2.SecretAccessKey)).ListAccessKeys(mk(cam.ListAccessKeysRequest))
    auto = g.CreateApiKey(mk(gw.CreateApiKeyRequest, SecretName=unique("atrest"))).Result
    harness.remember(auto.AccessKeySecret, "at-rest auto API key")
    rotated = g.UpdateApiKey(mk(gw.UpdateApiKeyRequest, AccessKeyId=auto.AccessKeyId)).Result
    harness.remember(rotated.AccessKeySecret, "at-rest rotated API key")
    mid, msec = unique("atrest_"), "AtRest_secret_" + unique("")
    harness.remember(msec, "at-rest manual API key")
    g.CreateApiKey(mk(gw.CreateApiKeyRequest, SecretName=unique("atrestm"), AccessKeyType="manual",
                      AccessKeyId=mid, AccessKeySecret=msec))
    msec2 = "AtRest_rotated_" + unique("")
    harness.remember(msec2, "at-rest manual API key, rotated")
    g.UpdateApiKey(mk(gw.UpdateApiKeyRequest, AccessKeyId=mid, AccessKeySecret=msec2))
    with raises_code("AuthFailure.SignatureFailure"):
        wrong = ("Z" if u.secret_key[0] != "Z" else "Y") + u.secret_key[1:]
        kp.cam(cred=(u.secret_id, wrong)).ListAccessKeys(mk(cam.ListAccessKeysRequest))
    info["cam_key_id"], info["api_key_id"], info["manual_id"] = k2.AccessKeyId, auto.AccessKeyId, mid
    # a rotated-away secret and a deleted key's secret must not linger either
    root_c.DeleteAccessKey(mk(cam.DeleteAccessKeyRequest, AccessKeyId=k2.AccessKeyId, TargetUin=u.uin))

    # Alibaba: IMS keys (one used, then deleted), SMC codes (one redeemed, one deleted)
    au = ali.new_ali_user(kp)
    a2 = ali.ims(kp).create_access_key(ims_m.CreateAccessKeyRequest(user_principal_name=au.principal)).body.access_key
    ali.ims(kp, "rpc-v1", (a2.access_key_id, a2.access_key_secret)).list_access_keys(ims_m.ListAccessKeysRequest())
    with ali.ali_raises("SignatureDoesNotMatch", 400):
        ali.ims(kp, cred=(au.ali_id, au.ali_secret[::-1])).list_access_keys(ims_m.ListAccessKeysRequest())
    ali.ims(kp).delete_access_key(ims_m.DeleteAccessKeyRequest(user_access_key_id=a2.access_key_id,
                                                              user_principal_name=au.principal))
    s = ali.smc(kp)
    t1 = s.create_access_token(smc_m.CreateAccessTokenRequest(name="atrest_kept", count="5")).body
    t2 = s.create_access_token(smc_m.CreateAccessTokenRequest(name="atrest_deleted")).body
    reg = ali.register(kp.port, t1.access_token_id, t1.access_token_code)
    assert reg.status == 201, reg.body
    assert ali.register(kp.port, t1.access_token_id, t1.access_token_code[::-1]).status == 401
    s.delete_access_token(smc_m.DeleteAccessTokenRequest(access_token_id=t2.access_token_id))
    info["ali_key_id"], info["token_id"], info["source_id"] = a2.access_key_id, t1.access_token_id, reg.doc["SourceId"]

    info["running_findings"] = []
    for d in harness.DEPLOYMENTS:
        info["running_findings"] += [f"[{d.label}] {f}" for f in
                                     harness.scan_for_secrets(harness.files_under(d.data_dir), SECRETS)]
    harness.stop_all()
    return info


def test_servers_stop_cleanly_on_sigterm(stopped):
    bad = [f"[{d.label}] exit code {d.returncode}" + (f", {d.stop_problem}" if d.stop_problem else "")
           for d in harness.DEPLOYMENTS if d.returncode != 0 or d.stop_problem]
    assert not bad, "servers did not stop cleanly on SIGTERM: " + "; ".join(bad)


def test_secrets_were_collected(stopped):
    assert len(SECRETS) >= 8, f"only {len(SECRETS)} secrets collected - the harvesting is broken"


def test_alibaba_secrets_were_collected(stopped):
    """Every Alibaba AccessKeySecret and AccessTokenCode seen is among the
    secrets the scans below look for."""
    assert len(ali.ALI_KEY_SECRETS) >= 10, f"only {len(ali.ALI_KEY_SECRETS)} Alibaba AccessKeySecrets collected"
    assert len(ali.ALI_TOKEN_CODES) >= 10, f"only {len(ali.ALI_TOKEN_CODES)} AccessTokenCodes collected"
    missing = [harness.describe_secret(x) for x in ali.ALI_KEY_SECRETS | ali.ALI_TOKEN_CODES if x not in SECRETS]
    assert not missing, missing


def test_database_files_exist(stopped):
    for d in harness.DEPLOYMENTS:
        assert (d.data_dir / "keyplane.db").is_file(), f"[{d.label}] no keyplane.db in {d.data_dir}"


def test_no_secret_in_data_dir_while_running(stopped):
    assert not stopped["running_findings"], \
        "secrets found in data files while the server ran:\n  " + "\n  ".join(stopped["running_findings"])


def test_no_secret_in_data_dir_after_shutdown(stopped):
    findings, scanned = [], []
    for d in harness.DEPLOYMENTS:
        files = harness.files_under(d.data_dir)
        scanned += [f"[{d.label}] {p.relative_to(d.data_dir)}" for p in files]
        findings += [f"[{d.label}] {f}" for f in harness.scan_for_secrets(files, SECRETS)]
    assert scanned
    assert not findings, f"secrets found at rest ({len(SECRETS)} secrets, files: {scanned}):\n  " + \
        "\n  ".join(findings)


def test_no_trivially_encoded_secret_at_rest(stopped):
    """hex or base64 of a secret is plaintext too."""
    encoded = {}
    for s in SECRETS:
        b = s.encode()
        for form in (b.hex(), b.hex().upper(), base64.b64encode(b).decode().rstrip("="),
                     base64.urlsafe_b64encode(b).decode().rstrip("=")):
            encoded[form] = f"encoded {harness.describe_secret(s)}"
    findings = []
    for d in harness.DEPLOYMENTS:
        for p in harness.files_under(d.data_dir):
            data = p.read_bytes()
            findings += [f"[{d.label}] {p.name}: {why}" for form, why in encoded.items() if form.encode() in data]
    assert not findings, "\n  ".join(findings)


def test_audit_output_has_no_secret(stopped):
    for d in harness.DEPLOYMENTS:
        cp = d.audit()
        assert cp.returncode == 0, f"[{d.label}] keyplane audit exit {cp.returncode}: {cp.stderr}"
        lines = [ln for ln in cp.stdout.splitlines() if ln.strip()]
        for ln in lines:
            assert isinstance(json.loads(ln), dict), f"[{d.label}] audit line is not a JSON object: {ln[:200]}"
        leaked = [harness.describe_secret(s) for s in SECRETS if s in cp.stdout or s in cp.stderr]
        assert not leaked, f"[{d.label}] keyplane audit shows secrets: {leaked}"


def test_audit_records_the_workload(stopped, kp):
    cp = kp.audit()
    text = cp.stdout
    assert "CreateAccessKey" in text
    assert "CreateApiKey" in text
    assert stopped["cam_key_id"] in text, "the created access key id is not in the audit records"
    assert stopped["api_key_id"] in text, "the created API key id is not in the audit records"
    for action in ("CreateAccessToken", "DeleteAccessToken", "RegisterSourceServer", "DeleteAccessKey"):
        assert action in text, f"no {action} in the audit records"
    assert stopped["ali_key_id"] in text, "the created Alibaba access key id is not in the audit records"
    assert stopped["token_id"] in text, "the access token id is not in the audit records"
    assert stopped["source_id"] in text, "the registered source server is not in the audit records"


def test_server_logs_have_no_secret(stopped):
    for d in harness.DEPLOYMENTS:
        log = d.log_text()
        leaked = [harness.describe_secret(s) for s in SECRETS if s.encode() in log]
        assert not leaked, f"[{d.label}] server stdout/stderr shows secrets: {leaked}"
