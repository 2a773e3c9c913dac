"""tccli (pinned in requirements-tccli.txt, its own virtualenv) against the
server.  tccli has no plain-http switch: the scheme goes into --endpoint, and
then `http://127.0.0.1:PORT` is both the Host header and the signed host
(protocols.md A.3/A.6).  On an error tccli prints
`[TencentCloudSDKException] code:... message:... requestId:...` to stderr and
exits 255."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

import harness
from harness import HERE, unique

TCCLI = Path(os.environ.get("TCCLI") or HERE / ".venv-tccli" / "bin" / "tccli")


@pytest.fixture(scope="module")
def tccli_home(tmp_path_factory):
    if not TCCLI.exists():
        pytest.fail(f"tccli not found at {TCCLI}: run.sh creates .venv-tccli", pytrace=False)
    return tmp_path_factory.mktemp("tccli-home")   # no ~/.tccli profile can leak in


def tccli(kp, home, service, action, *params, cred=None):
    sid, skey = cred or kp.root_cred()
    cmd = [str(TCCLI), service, action,
           "--secretId", sid, "--secretKey", skey,
           "--region", "ap-guangzhou",
           "--endpoint", f"http://127.0.0.1:{kp.port}",
           *[str(p) for p in params]]
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                        env=harness.child_env({"HOME": str(home)}))
    return cp


def ok_json(cp, what):
    assert cp.returncode == 0, f"tccli {what}: exit {cp.returncode}\nstdout:\n{cp.stdout}\nstderr:\n{cp.stderr}"
    try:
        doc = json.loads(cp.stdout)
    except ValueError:
        raise AssertionError(f"tccli {what}: stdout is not JSON:\n{cp.stdout}\nstderr:\n{cp.stderr}")
    harness.harvest(doc, f"tccli {what}")
    return doc


def fails_with(cp, code, what):
    assert cp.returncode == 255, f"tccli {what}: exit {cp.returncode}, expected 255\n" \
                                 f"stdout:\n{cp.stdout}\nstderr:\n{cp.stderr}"
    m = re.search(r"\[TencentCloudSDKException\] code:(\S+)", cp.stderr)
    assert m, f"tccli {what}: no [TencentCloudSDKException] on stderr:\n{cp.stderr}"
    assert m.group(1) == code, f"tccli {what}: code {m.group(1)}, expected {code}\n{cp.stderr}"


def test_tccli_version():
    cp = subprocess.run([str(TCCLI), "--version"], capture_output=True, text=True, timeout=60,
                        env=harness.child_env())
    assert cp.stdout.strip() == "3.1.189.1", cp.stdout + cp.stderr


def test_tccli_cam_flow(kp, tccli_home):
    u = kp.new_user(with_key=False)
    created = ok_json(tccli(kp, tccli_home, "cam", "CreateAccessKey", "--TargetUin", u.uin,
                            "--Description", "tccli-key"), "CreateAccessKey")
    ak = created["AccessKey"]
    assert ak["AccessKeyId"].startswith("AKID") and ak["SecretAccessKey"] and ak["Status"] == "Active"
    assert created["RequestId"]
    kid = ak["AccessKeyId"]

    listed = ok_json(tccli(kp, tccli_home, "cam", "ListAccessKeys", "--TargetUin", u.uin), "ListAccessKeys")
    assert [k["AccessKeyId"] for k in listed["AccessKeys"]] == [kid]
    assert ak["SecretAccessKey"] not in json.dumps(listed)

    # the new key works through tccli too (signed host = "http://127.0.0.1:PORT")
    own = ok_json(tccli(kp, tccli_home, "cam", "ListAccessKeys", cred=(kid, ak["SecretAccessKey"])),
                  "ListAccessKeys (sub-user)")
    assert [k["AccessKeyId"] for k in own["AccessKeys"]] == [kid]

    ok_json(tccli(kp, tccli_home, "cam", "UpdateAccessKey", "--AccessKeyId", kid, "--Status", "Inactive",
                  "--TargetUin", u.uin), "UpdateAccessKey")
    fails_with(tccli(kp, tccli_home, "cam", "ListAccessKeys", cred=(kid, ak["SecretAccessKey"])),
               "AuthFailure.SecretIdNotFound", "ListAccessKeys with an inactive key")

    ok_json(tccli(kp, tccli_home, "cam", "DeleteAccessKey", "--AccessKeyId", kid, "--TargetUin", u.uin),
            "DeleteAccessKey")
    listed = ok_json(tccli(kp, tccli_home, "cam", "ListAccessKeys", "--TargetUin", u.uin), "ListAccessKeys")
    assert listed["AccessKeys"] == []


def test_tccli_apigw_create_api_key(kp, tccli_home):
    name = unique("tccligw")
    doc = ok_json(tccli(kp, tccli_home, "apigateway", "CreateApiKey", "--SecretName", name,
                        "--AccessKeyType", "auto", "--Tags", json.dumps([{"Key": "env", "Value": "ci"}])),
                  "CreateApiKey auto")
    r = doc["Result"]
    assert re.fullmatch(r"AKID[A-Za-z0-9]{36}", r["AccessKeyId"]) and r["AccessKeySecret"]
    assert r["SecretName"] == name and r["AccessKeyType"] == "auto" and r["Status"] == 1
    assert [(t["Key"], t["Value"]) for t in r["Tags"]] == [("env", "ci")]

    mid, msec = unique("tccli_m_"), "Tccli_secret_" + unique("")
    harness.remember(msec, "tccli manual")
    doc = ok_json(tccli(kp, tccli_home, "apigateway", "CreateApiKey", "--SecretName", name + "m",
                        "--AccessKeyType", "manual", "--AccessKeyId", mid, "--AccessKeySecret", msec),
                  "CreateApiKey manual")
    assert (doc["Result"]["AccessKeyId"], doc["Result"]["AccessKeySecret"]) == (mid, msec)

    fails_with(tccli(kp, tccli_home, "apigateway", "CreateApiKey", "--SecretName", name + "d",
                     "--AccessKeyType", "manual", "--AccessKeyId", mid, "--AccessKeySecret", "Other_secret_9"),
               "FailedOperation.AccessKeyExist", "duplicate manual id")
    harness.remember("Other_secret_9", "tccli refused manual")

    for kid in (r["AccessKeyId"], mid):
        d = ok_json(tccli(kp, tccli_home, "apigateway", "DeleteApiKey", "--AccessKeyId", kid), "DeleteApiKey")
        assert d["Result"] is True


def test_tccli_error_paths(kp, tccli_home):
    sid, skey = kp.root_cred()
    wrong = ("X" if skey[0] != "X" else "Y") + skey[1:]
    fails_with(tccli(kp, tccli_home, "cam", "ListAccessKeys", cred=(sid, wrong)),
               "AuthFailure.SignatureFailure", "wrong secret")
    fails_with(tccli(kp, tccli_home, "cam", "CreateAccessKey", "--TargetUin", 999999999999),
               "InvalidParameter.UserNotExist", "unknown TargetUin")
    fails_with(tccli(kp, tccli_home, "cam", "ListAccessKeys", cred=("AKID" + "Tcc1" * 8, "x" * 32)),
               "AuthFailure.SecretIdNotFound", "unknown SecretId")
