"""The official Node SDK (tencentcloud-sdk-nodejs, pinned in package.json /
package-lock.json) against the server.  The scripts in node/ print one JSON
line; the assertions are made here.

Node specifics the server must cope with (protocols.md A.3): the credential
scope service is "127" (endpoint.split(".")[0]) and the signed host has no
port; v1 nonces are small.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

import harness
from harness import HERE, unique

NODE = os.environ.get("NODE") or shutil.which("node") or "node"
NODE_VARIANTS = {
    "tc3-post": ("TC3-HMAC-SHA256", "POST"),
    "tc3-get": ("TC3-HMAC-SHA256", "GET"),
    "v1-sha256-post": ("HmacSHA256", "POST"),
    "v1-sha1-get": ("HmacSHA1", "GET"),
}


@pytest.fixture(scope="module", autouse=True)
def _node_sdk_installed():
    if not (HERE / "node_modules" / "tencentcloud-sdk-nodejs" / "package.json").exists():
        pytest.fail("node_modules missing: run `npm ci` in .ci/acceptance (run.sh does)", pytrace=False)


def run_node(script: str, cfg: dict, variant: str = "tc3-post", timeout: float = 180) -> dict:
    sign, method = NODE_VARIANTS[variant]
    cfg = dict(cfg, signMethod=sign, reqMethod=method)
    cp = subprocess.run([NODE, str(HERE / "node" / script)], cwd=HERE, capture_output=True, text=True,
                        timeout=timeout, env=harness.child_env({"KP_CFG": json.dumps(cfg)}))
    lines = [ln for ln in cp.stdout.splitlines() if ln.strip()]
    assert lines, f"node {script} printed nothing (exit {cp.returncode})\nstderr:\n{cp.stderr}"
    try:
        doc = json.loads(lines[-1])
    except ValueError:
        raise AssertionError(f"node {script}: last line is not JSON:\n{cp.stdout[-2000:]}\nstderr:\n{cp.stderr}")
    harness.harvest(doc, f"node {script}")
    assert doc.get("ok"), f"node {script} failed: {json.dumps(doc.get('error'), indent=1)}\nstderr:\n{cp.stderr}"
    assert cp.returncode == 0, f"node {script} exit code {cp.returncode}\nstderr:\n{cp.stderr}"
    return doc["result"]


def root_cfg(kp) -> dict:
    sid, skey = kp.root_cred()
    return {"port": kp.port, "root": {"secretId": sid, "secretKey": skey, "uin": kp.root_uin}}


def test_node_sdk_import_path():
    """The import paths the scripts use."""
    js = ("const t=require('tencentcloud-sdk-nodejs');"
          "const {CommonClient}=require('tencentcloud-sdk-nodejs/tencentcloud/common/common_client');"
          "const v=require('tencentcloud-sdk-nodejs/package.json').version;"
          "console.log(JSON.stringify({v, cam: typeof t.cam.v20190116.Client,"
          " gw: typeof t.apigateway.v20180808.Client, common: typeof CommonClient}));")
    cp = subprocess.run([NODE, "-e", js], cwd=HERE, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert json.loads(cp.stdout) == {"v": "4.1.313", "cam": "function", "gw": "function", "common": "function"}


@pytest.mark.parametrize("variant", list(NODE_VARIANTS))
def test_node_cam_flow(kp, variant):
    u = kp.new_user(with_key=False)
    desc = f"node-{variant}"
    r = run_node("cam_flow.js", dict(root_cfg(kp), targetUin=u.uin, description=desc), variant)

    ak = r["created"]["AccessKey"]
    assert r["created"]["RequestId"]
    assert ak["AccessKeyId"].startswith("AKID") and ak["SecretAccessKey"]
    assert ak["Status"] == "Active"
    assert ak.get("Description") == desc
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", ak["CreateTime"])

    listed = {k["AccessKeyId"]: k for k in r["listAfterCreate"]["AccessKeys"]}
    assert set(listed) == {ak["AccessKeyId"]} and listed[ak["AccessKeyId"]]["Status"] == "Active"
    assert ak["SecretAccessKey"] not in json.dumps(r["listAfterCreate"]), "ListAccessKeys leaks the secret"
    assert ak["AccessKeyId"] in [k["AccessKeyId"] for k in r["subListOwn"]["AccessKeys"]]

    assert r["deactivate"]["RequestId"]
    assert [k["Status"] for k in r["listAfterDeactivate"]["AccessKeys"]] == ["Inactive"]
    assert r["useWhileInactive"]["ok"] is False
    assert r["useWhileInactive"]["code"] == "AuthFailure.SecretIdNotFound", r["useWhileInactive"]
    assert r["useAfterReactivate"]["ok"] is True, r["useAfterReactivate"]

    assert r["delete"]["RequestId"]
    assert r["listAfterDelete"]["AccessKeys"] == []
    assert r["useAfterDelete"]["code"] == "AuthFailure.SecretIdNotFound", r["useAfterDelete"]

    rows = r["lastUsed"]["SecretIdLastUsedRows"]
    assert [row["SecretId"] for row in rows] == [kp.init.secret_id]


@pytest.mark.parametrize("variant", list(NODE_VARIANTS))
def test_node_apigw_flow(kp, variant):
    name = unique("nodegw")
    tags = [{"Key": "env", "Value": "dev test"}, {"Key": "by", "Value": "node"}]
    manual_id, manual_secret, new_secret = unique("node_m_"), "Node_secret_" + unique(""), "Node_new_" + unique("")
    for s in (manual_secret, new_secret):
        harness.remember(s, "node manual secret")
    r = run_node("apigw_flow.js", dict(root_cfg(kp), name=name, tags=tags, manualId=manual_id,
                                       manualSecret=manual_secret, newSecret=new_secret), variant)

    auto = r["auto"]["Result"]
    assert re.fullmatch(r"AKID[A-Za-z0-9]{36}", auto["AccessKeyId"]), auto["AccessKeyId"]
    assert auto["AccessKeySecret"] and auto["AccessKeyType"] == "auto" and auto["SecretName"] == name
    assert auto["Status"] == 1 and type(auto["Status"]) is int
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", auto["CreatedTime"])
    assert sorted((t["Key"], t["Value"]) for t in auto["Tags"]) == sorted((t["Key"], t["Value"]) for t in tags)

    assert r["describeAuto"]["Result"]["AccessKeySecret"] == auto["AccessKeySecret"]
    assert r["disable"]["Result"] is True and r["describeDisabled"]["Result"]["Status"] == 0
    assert r["enable"]["Result"] is True and r["describeEnabled"]["Result"]["Status"] == 1
    rotated = r["rotateAuto"]["Result"]
    assert rotated["AccessKeyId"] == auto["AccessKeyId"]
    assert rotated["AccessKeySecret"] and rotated["AccessKeySecret"] != auto["AccessKeySecret"]

    m = r["manual"]["Result"]
    assert (m["AccessKeyId"], m["AccessKeySecret"], m["AccessKeyType"]) == (manual_id, manual_secret, "manual")
    assert sorted((t["Key"], t["Value"]) for t in m["Tags"]) == sorted((t["Key"], t["Value"]) for t in tags)
    assert r["updateManual"]["Result"]["AccessKeySecret"] == new_secret

    st = r["status"]["Result"]
    assert st["TotalCount"] == 2
    assert sorted(k["AccessKeyId"] for k in st["ApiKeySet"]) == sorted([auto["AccessKeyId"], manual_id])

    assert r["deleteAuto"]["Result"] is True and r["deleteManual"]["Result"] is True
    assert r["describeDeleted"]["code"] == "ResourceNotFound.InvalidAccessKeyId", r["describeDeleted"]


def test_node_error_paths(kp):
    u = kp.new_user()
    dup = unique("node_dup_")
    for s in ("Dup_secret_01", "Dup_secret_02", "Secret_0123"):
        harness.remember(s, "node errors.js")
    other = kp.new_user(with_key=False)
    cfg = dict(root_cfg(kp), user={"uin": u.uin, "secretId": u.secret_id, "secretKey": u.secret_key},
               otherUin=other.uin,
               unknownUin=999999999999, unknownSecretId="AKID" + "N0de" * 8, dupId=dup)
    r = run_node("errors.js", cfg)
    expected = {
        "signatureFailure": "AuthFailure.SignatureFailure",
        "secretIdNotFound": "AuthFailure.SecretIdNotFound",
        "userNotExist": "InvalidParameter.UserNotExist",
        "invalidAction": "InvalidAction",
        "noSuchVersion": "NoSuchVersion",
        "unknownParameter": "UnknownParameter",
        "missingParameter": "MissingParameter",
        "invalidParameterValue": "InvalidParameterValue",
        # a sub-user with ManageOwnAccessKeys has no permission on the root's keys (issue 6)
        "subUin": "AuthFailure.UnauthorizedOperation",
        "subListRoot": "AuthFailure.UnauthorizedOperation",
        "subListOther": "AuthFailure.UnauthorizedOperation",
        "subApiGateway": "AuthFailure.UnauthorizedOperation",
        "formatError": "InvalidParameter.FormatError",
        "accessKeyExist": "FailedOperation.AccessKeyExist",
        "notFound": "ResourceNotFound.InvalidAccessKeyId",
    }
    got = {k: r[k].get("code") for k in expected}
    assert got == expected
    for k in expected:
        assert r[k]["ok"] is False and r[k]["requestId"], f"{k}: {r[k]}"
        assert r[k]["httpCode"] is None, f"{k}: HTTP {r[k]['httpCode']} (errors must be HTTP 200)"
