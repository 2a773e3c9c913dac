"""Per-account rate limits -> RequestLimitExceeded (HTTP 200 envelope).

These run on servers of their own: one with the default limits (cam
CreateAccessKey/UpdateAccessKey/DeleteAccessKey 5/s, ListAccessKeys 20/s,
apigateway CreateApiKey 20/s), one with low `--rate-limit` overrides, one with
`--disable-rate-limits`.  The main server (conftest.kp) uses generous
overrides so that no functional test is ever throttled.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from tencentcloud.apigateway.v20180808 import models as gw
from tencentcloud.cam.v20190116 import models as cam
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

import harness
from harness import mk, unique

THROTTLED = "RequestLimitExceeded"


@pytest.fixture(scope="module")
def default_limits(kp_factory):
    return kp_factory("throttle-default")


def burst(fn, n, threads=8):
    """Run fn() n times on `threads` threads (one SDK client per call);
    return (successes, throttled, other_errors)."""
    def one(_):
        try:
            fn()
            return "ok"
        except TencentCloudSDKException as e:
            return e.code if e.code == THROTTLED else f"{e.code}: {e.message}"
    with ThreadPoolExecutor(threads) as ex:
        results = list(ex.map(one, range(n)))
    ok = results.count("ok")
    thr = results.count(THROTTLED)
    other = [r for r in results if r not in ("ok", THROTTLED)]
    return ok, thr, other


def wait_for_quiet():
    time.sleep(1.5)


def test_default_limit_list_access_keys(default_limits):
    d = default_limits
    wait_for_quiet()
    ok, thr, other = burst(lambda: d.cam().ListAccessKeys(mk(cam.ListAccessKeysRequest)), 150)
    assert not other, f"unexpected errors: {other[:5]}"
    assert thr >= 1, f"150 concurrent ListAccessKeys (limit 20/s): none throttled ({ok} ok)"
    assert ok >= 1
    wait_for_quiet()
    d.cam().ListAccessKeys(mk(cam.ListAccessKeysRequest))     # recovered


def test_default_limit_create_delete_pairs(default_limits):
    d = default_limits
    u = d.new_user(with_key=False)
    root = d.cam()
    wait_for_quiet()
    throttled = 0
    outstanding = []
    for _ in range(30):
        try:
            r = root.CreateAccessKey(mk(cam.CreateAccessKeyRequest, TargetUin=u.uin))
            harness.remember(r.AccessKey.SecretAccessKey, "throttle test")
            outstanding.append(r.AccessKey.AccessKeyId)
        except TencentCloudSDKException as e:
            assert e.code == THROTTLED, f"CreateAccessKey: {e.code}: {e.message}"
            throttled += 1
        for kid in list(outstanding):
            try:
                root.DeleteAccessKey(mk(cam.DeleteAccessKeyRequest, AccessKeyId=kid, TargetUin=u.uin))
                outstanding.remove(kid)
            except TencentCloudSDKException as e:
                assert e.code == THROTTLED, f"DeleteAccessKey: {e.code}: {e.message}"
                throttled += 1
        if throttled >= 3:
            break
    assert throttled >= 1, "30 rapid CreateAccessKey/DeleteAccessKey pairs (limit 5/s): none throttled"
    # clean up once the window has passed
    wait_for_quiet()
    for kid in outstanding:
        root.DeleteAccessKey(mk(cam.DeleteAccessKeyRequest, AccessKeyId=kid, TargetUin=u.uin))
    r = root.CreateAccessKey(mk(cam.CreateAccessKeyRequest, TargetUin=u.uin))   # recovered
    harness.remember(r.AccessKey.SecretAccessKey, "throttle test")


def test_default_limit_create_api_key(default_limits):
    d = default_limits
    wait_for_quiet()
    ok, thr, other = burst(
        lambda: d.apigw().CreateApiKey(mk(gw.CreateApiKeyRequest, SecretName=unique("thr"))), 120)
    assert not other, f"unexpected errors: {other[:5]}"
    assert thr >= 1, f"120 concurrent CreateApiKey (limit 20/s): none throttled ({ok} ok)"


def test_throttled_reply_is_a_proper_envelope(default_limits):
    d = default_limits
    wait_for_quiet()
    sid, skey = d.root_cred()
    codes = []
    for _ in range(60):
        h = harness.tc3_headers(sid, skey, host=f"127.0.0.1:{d.port}", service="cam",
                                action="ListAccessKeys", version=harness.CAM_VERSION, body=b"{}")
        rr = harness.raw_request(d.port, h, b"{}")
        assert not rr.envelope_problems(), rr.envelope_problems()
        codes.append(rr.error_code())
        if rr.error_code() == THROTTLED:
            break
    assert THROTTLED in codes, f"60 back-to-back ListAccessKeys never throttled: {set(codes)}"


def test_rate_limit_override(kp_factory):
    d = kp_factory("throttle-override", "--rate-limit", "cam:ListAccessKeys=2",
                   "--rate-limit", "apigateway:CreateApiKey=2")
    wait_for_quiet()
    results = []
    for _ in range(12):
        try:
            d.cam().ListAccessKeys(mk(cam.ListAccessKeysRequest))
            results.append("ok")
        except TencentCloudSDKException as e:
            results.append(e.code)
    assert set(results) <= {"ok", THROTTLED}, results
    assert results.count(THROTTLED) >= 3, f"ListAccessKeys limited to 2/s: {results}"

    wait_for_quiet()
    results = []
    for _ in range(12):
        try:
            d.apigw().CreateApiKey(mk(gw.CreateApiKeyRequest, SecretName=unique("ovr")))
            results.append("ok")
        except TencentCloudSDKException as e:
            results.append(e.code)
    assert set(results) <= {"ok", THROTTLED}, results
    assert results.count(THROTTLED) >= 3, f"CreateApiKey limited to 2/s: {results}"


def test_disable_rate_limits(kp_factory):
    d = kp_factory("throttle-disabled", "--disable-rate-limits")
    ok, thr, other = burst(lambda: d.cam().ListAccessKeys(mk(cam.ListAccessKeysRequest)), 150)
    assert (thr, other) == (0, []), f"--disable-rate-limits: {thr} throttled, errors {other[:5]}"
    u = d.new_user(with_key=False)
    root = d.cam()
    for _ in range(15):
        r = root.CreateAccessKey(mk(cam.CreateAccessKeyRequest, TargetUin=u.uin))
        root.DeleteAccessKey(mk(cam.DeleteAccessKeyRequest, AccessKeyId=r.AccessKey.AccessKeyId,
                                TargetUin=u.uin))
