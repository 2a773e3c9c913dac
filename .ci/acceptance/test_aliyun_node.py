"""The Node `@alicloud/pop-core` RPCClient (pinned in package.json /
package-lock.json) against the server: RPC v1 HMAC-SHA1 with `method: 'POST'`
(every parameter in an application/x-www-form-urlencoded body, no query) and,
for good measure, GET.  The scripts in node/ali_*.js print one JSON line; the
assertions are made here.

pop-core throws for any reply whose body has a `Code` (whatever the status)
and names the error `<Code>Error`; the server's success bodies must therefore
never carry a top-level Code (protocols.md D.3).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

import harness
from aliyun_harness import ERROR_FIELDS, ali_harvest, new_ali_user, root_cred
from harness import HERE, unique

AWKWARD = "pop-core: 迁移 任务 ~*!'()&=+%/?#[]@$,;"
NODE = os.environ.get("NODE") or shutil.which("node") or "node"
METHODS = ["POST", "GET"]


@pytest.fixture(scope="module", autouse=True)
def _pop_core_installed():
    if not (HERE / "node_modules" / "@alicloud" / "pop-core" / "package.json").exists():
        pytest.fail("node_modules missing: run `npm ci` in .ci/acceptance (run.sh does)", pytrace=False)


def run_node(script: str, cfg: dict, timeout: float = 120) -> dict:
    cp = subprocess.run([NODE, str(HERE / "node" / script)], cwd=HERE, capture_output=True, text=True,
                        timeout=timeout, env=harness.child_env({"KP_CFG": json.dumps(cfg)}))
    lines = [ln for ln in cp.stdout.splitlines() if ln.strip()]
    assert lines, f"node {script} printed nothing (exit {cp.returncode})\nstderr:\n{cp.stderr}"
    try:
        doc = json.loads(lines[-1])
    except ValueError:
        raise AssertionError(f"node {script}: last line is not JSON:\n{cp.stdout[-2000:]}\nstderr:\n{cp.stderr}")
    ali_harvest(doc, f"node {script}")
    assert doc.get("ok"), f"node {script} failed: {json.dumps(doc.get('error'), indent=1)}\nstderr:\n{cp.stderr}"
    assert cp.returncode == 0, f"node {script} exit code {cp.returncode}\nstderr:\n{cp.stderr}"
    # the Alibaba envelope of every reply pop-core received
    problems = []
    for r in doc["responses"]:
        body, status = r["response"], r["status"]
        if status is None or status >= 400:
            missing = [f for f in ERROR_FIELDS if not isinstance(body.get(f), str) or not body.get(f)]
            if missing or not (status and 400 <= status < 600):
                problems.append(f"{r['action']}: HTTP {status}, missing {missing}: {body}")
        elif status != 200 or "Code" in body or not body.get("RequestId"):
            problems.append(f"{r['action']}: HTTP {status} success body {body}")
    assert not problems, "\n".join(problems)
    return doc["result"]


def test_pop_core_version():
    js = "console.log(JSON.stringify({v: require('@alicloud/pop-core/package.json').version," \
         " rpc: typeof require('@alicloud/pop-core').RPCClient}))"
    cp = subprocess.run([NODE, "-e", js], cwd=HERE, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert json.loads(cp.stdout) == {"v": "1.8.0", "rpc": "function"}


def failed(o: dict, code: str, status: int):
    assert o["ok"] is False, f"expected {code}, the call succeeded: {o}"
    assert o["code"] == code and o["name"] == f"{code}Error", o
    assert o["status"] == status, f"{code}: HTTP {o['status']}, expected {status}"


@pytest.mark.parametrize("method", METHODS)
def test_pop_core_ims(kp, method):
    u, other = new_ali_user(kp, with_key=False), kp.user_create()
    ak, sk = root_cred(kp)
    r = run_node("ali_ims_flow.js", {
        "port": kp.port, "method": method, "root": {"accessKeyId": ak, "accessKeySecret": sk},
        "principal": u.principal, "otherPrincipal": other.principal,
        "unknownPrincipal": f"{unique('ghost')}@{kp.init.account_id}.onaliyun.com",
        "unknownKeyId": "LTAI" + "7" * 20,
    })
    k = r["created"]["AccessKey"]
    assert re.fullmatch(r"LTAI[A-Za-z0-9]{20}", k["AccessKeyId"]) and len(k["AccessKeySecret"]) == 30
    assert k["Status"] == "Active" and r["created"]["RequestId"]
    assert [x["AccessKeyId"] for x in r["listForUser"]["AccessKeys"]["AccessKey"]] == [k["AccessKeyId"]]
    assert k["AccessKeySecret"] not in json.dumps(r["listForUser"])
    assert [x["AccessKeyId"] for x in r["subListOwn"]["AccessKeys"]["AccessKey"]] == [k["AccessKeyId"]]
    assert set(r["deactivate"]) == {"RequestId"}
    failed(r["useWhileInactive"], "InvalidAccessKeyId.Inactive", 400)
    assert r["useAfterReactivate"]["ok"] is True, r["useAfterReactivate"]
    assert r["ownSecond"]["AccessKey"]["AccessKeyId"].startswith("LTAI")
    failed(r["third"], "LimitExceeded.User.AccessKey", 409)
    assert r["lastUsed"]["AccessKeyLastUsed"]["LastUsedDate"], r["lastUsed"]
    failed(r["unknownUser"], "EntityNotExist.User", 404)
    failed(r["noPermission"], "NoPermission", 403)
    failed(r["missingParameter"], "MissingParameter", 400)
    assert "Status" in r["missingParameter"]["data"]["Message"]
    failed(r["invalidParameter"], "InvalidParameter", 400)
    failed(r["signatureMismatch"], "SignatureDoesNotMatch", 400)
    assert "server string to sign is:" + method + "&%2F&" in r["signatureMismatch"]["data"]["Message"]
    failed(r["unknownKey"], "InvalidAccessKeyId.NotFound", 404)
    failed(r["unknownAction"], "InvalidAction.NotFound", 404)
    assert set(r["delete"]) == {"RequestId"}
    failed(r["useAfterDelete"], "InvalidAccessKeyId.NotFound", 404)
    assert r["listAfterDelete"]["AccessKeys"]["AccessKey"] == []


@pytest.mark.parametrize("method", METHODS)
def test_pop_core_smc(kp, method):
    u = new_ali_user(kp)
    ak, sk = root_cred(kp)
    name = unique("pop").replace("x", "_")
    r = run_node("ali_smc_flow.js", {
        "port": kp.port, "method": method, "root": {"accessKeyId": ak, "accessKeySecret": sk},
        "sub": {"accessKeyId": u.ali_id, "accessKeySecret": u.ali_secret}, "name": name,
        # pop-core's own percent-encoding of !'()* and non-ASCII must agree with the server's
        "description": AWKWARD,
    })
    a, b = r["created"], r["defaults"]
    for t in (a, b):
        assert re.fullmatch(r"at-[a-z0-9]+", t["AccessTokenId"]) and t["AccessTokenCode"] and t["RequestId"]
    by_ids = {t["AccessTokenId"]: t for t in r["listByIds"]["AccessTokens"]["AccessToken"]}
    assert set(by_ids) == {a["AccessTokenId"], b["AccessTokenId"]}
    ta, tb = by_ids[a["AccessTokenId"]], by_ids[b["AccessTokenId"]]
    assert (ta["Count"], ta["TimeToLiveInDays"], ta["Description"]) == ("2", "7", AWKWARD)
    assert (tb["Count"], tb["TimeToLiveInDays"], tb["Status"]) == ("100", "30", "unactivated")
    assert a["AccessTokenCode"] not in json.dumps(r["listByIds"])
    assert r["listByName"]["TotalCount"] == 2
    assert set(r["disable"]) == {"RequestId"}
    assert [t["AccessTokenId"] for t in r["listExpired"]["AccessTokens"]["AccessToken"]] == [a["AccessTokenId"]]
    assert [t["AccessTokenId"] for t in r["listUnactivated"]["AccessTokens"]["AccessToken"]] == [b["AccessTokenId"]]
    failed(r["invalidCount"], "InvalidParameter", 400)
    assert "Count" in r["invalidCount"]["data"]["Message"]
    failed(r["invalidName"], "InvalidParameter", 400)
    assert "Name" in r["invalidName"]["data"]["Message"]
    failed(r["invalidDays"], "InvalidParameter", 400)
    assert "TimeToLiveInDays" in r["invalidDays"]["data"]["Message"]
    # SMC refuses with Forbidden.RAM (RAM's own NoPermission is for IMS/RAM), with its AccessDeniedDetail
    failed(r["noPermission"], "Forbidden.RAM", 403)
    detail = r["noPermission"]["data"]["AccessDeniedDetail"]
    assert (detail["AuthAction"], detail["NoPermissionType"]) == ("smc:CreateAccessToken", "ImplicitDeny"), detail
    failed(r["deleteAgain"], "InvalidAccessTokenId.NotFound", 404)
    assert r["listAfterDelete"]["TotalCount"] == 0
