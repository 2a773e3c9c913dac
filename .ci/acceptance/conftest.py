"""pytest fixtures for the Keyplane acceptance suite.

Servers are started on 127.0.0.1:0 in fresh temporary data directories; the
suite never builds anything (run.sh does `cargo build -p keyplane-server`).
Set KEYPLANE_BIN to test another binary.  KEYPLANE_KEEP_DATA=1 keeps the
temporary directories (kept anyway when a test failed; the paths are printed
at the end).
"""

from __future__ import annotations

import os
import shutil

import pytest

import aliyun_harness
import harness
from harness import Deployment, GENEROUS_RATE_LIMITS

harness.scrub_proxy_env()
harness.install_sdk_response_hook()
aliyun_harness.install_ali_hooks()


def pytest_collection_modifyitems(config, items):
    # The secrets-at-rest checks stop every server: they must run last.
    last = [i for i in items if i.get_closest_marker("at_rest")]
    rest = [i for i in items if not i.get_closest_marker("at_rest")]
    items[:] = rest + last


def pytest_report_header(config):
    return [f"keyplane binary: {harness.keyplane_bin()}"]


@pytest.fixture(scope="session")
def keyplane_binary():
    b = harness.keyplane_bin()
    if not b.exists():
        pytest.fail(f"keyplane binary not found at {b}: run `cargo build -p keyplane-server` "
                    f"(run.sh does) or set KEYPLANE_BIN", pytrace=False)
    return b


def _deployment(label: str, serve_args) -> Deployment:
    d = Deployment(label, serve_args)
    d.do_init()
    d.start()
    return d


@pytest.fixture(scope="session")
def kp(keyplane_binary):
    """The main server: generous rate limits so that functional tests are
    never throttled."""
    d = _deployment("main", [a for rl in GENEROUS_RATE_LIMITS for a in ("--rate-limit", rl)])
    yield d
    d.stop()


@pytest.fixture(scope="session")
def kp_factory(keyplane_binary):
    """Start extra servers with their own data directory and flags."""
    started = []

    def start(label: str, *serve_args: str) -> Deployment:
        d = _deployment(label, list(serve_args))
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()


@pytest.fixture
def user(kp):
    """A fresh sub-user of the main account with one access key (created by
    the root with CAM CreateAccessKey TargetUin=<uin>)."""
    return kp.new_user()


@pytest.fixture(autouse=True)
def _every_sdk_reply_is_a_proper_envelope():
    """Every reply the Tencent Python SDK receives during a test must be HTTP
    200 with Content-Type exactly application/json and a {"Response": {...,
    RequestId}} body (protocols.md A.5); every reply an Alibaba Python client
    (tea or legacy core) receives must be 200 with a top-level RequestId and no
    top-level Code, or 4xx/5xx with RequestId, HostId, Code, Message and
    Recommend, in JSON or (when asked for) XML (B.7).  Checked after each
    test."""
    start = len(harness.VIOLATIONS)
    yield
    new = harness.VIOLATIONS[start:]
    if new:
        pytest.fail("bad reply envelope(s):\n  " + "\n  ".join(new[:20]), pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    harness.stop_all()
    keep = os.environ.get("KEYPLANE_KEEP_DATA") == "1" or exitstatus != 0
    for d in harness.DEPLOYMENTS:
        if keep:
            print(f"\nkept {d.label}: {d.root}")
        else:
            shutil.rmtree(d.root, ignore_errors=True)
