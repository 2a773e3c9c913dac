"""PAI-EAS Workbench end to end: tokens from the official Python SDK
(`alibabacloud_eas20210701` 6.17.0, ACS3), then what the URLs open.

* `WorkbenchUrl` in headless Chromium (Debian's /usr/bin/chromium driven by
  playwright-core, node/workbench_browser.js): the confirmation page (what the
  URL opens; nothing spent), its button's redirect to the token-free page with
  the session cookie, `echo hello-$((6*7))` typed into xterm.js and
  `hello-42` read back from the terminal's buffer, a screenshot, and a second
  opening of the same URL refused with an HTML page and no terminal.  Skipped
  (with the reason) only when Chromium is not installed; run.sh installs it.
  KEYPLANE_UPDATE_SCREENSHOT=1 copies the screenshot to docs/workbench.png.
* `Url` from a Python WebSocket client (websocket-client): the same command,
  a resize, the close, and the URL refused the second time; `StreamlogUrl`
  streams the log command's stdout and stderr and closes normally.
* Each session is audited when it ends (`keyplane audit`).

The service's exec template is a local shell and its log template prints two
lines: operator configuration, never client input.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import websocket

import harness
from aliyun_harness import root_cred, tea_config
from harness import HERE, REPO, run_cli

NODE = os.environ.get("NODE") or shutil.which("node") or "node"
CHROMIUM = Path(os.environ.get("KEYPLANE_CHROMIUM", "/usr/bin/chromium"))
CLUSTER, SERVICE, INSTANCE, WORKER = "cn-shanghai", "workbench-svc", "workbench-svc-1", "worker0"
LOG_COMMAND = "/bin/sh -c 'echo log-line-1; echo log-line-2 >&2'"


@pytest.fixture(scope="module")
def eas(kp_factory):
    deployment = kp_factory("eas-workbench")
    data_dir = str(deployment.data_dir)
    for args in (
        ["eas", "service", "create", "--data-dir", data_dir, "--cluster", CLUSTER, "--name", SERVICE,
         "--exec", "/bin/bash --norc --noprofile -i", "--log", LOG_COMMAND],
        ["eas", "instance", "add", "--data-dir", data_dir, "--cluster", CLUSTER, "--service", SERVICE,
         "--name", INSTANCE, "--worker", WORKER],
    ):
        cp = run_cli(args)
        assert cp.returncode == 0, f"{args}: {cp.stderr}"
    return deployment


def create_token(deployment):
    """CreateServiceInstanceToken through the official SDK; the response body model."""
    from alibabacloud_eas20210701 import models as eas_models
    from alibabacloud_eas20210701.client import Client as Eas
    client = Eas(tea_config(deployment.port, *root_cred(deployment)))
    response = client.create_service_instance_token(
        CLUSTER, SERVICE, INSTANCE,
        eas_models.CreateServiceInstanceTokenRequest(worker_name=WORKER, action_type="WorkBench"))
    body = response.body
    base = f"127.0.0.1:{deployment.port}"
    assert body.workbench_url.startswith(f"http://{base}/eas/workbench?token="), body.workbench_url
    assert body.url.startswith(f"ws://{base}/eas/v1/terminal?token="), body.url
    assert body.streamlog_url.startswith(f"ws://{base}/eas/v1/streamlog?token="), body.streamlog_url
    assert body.token and body.url.endswith(body.token)
    return body


def read_until(socket, needle: bytes, seconds: float = 15) -> bytes:
    seen = b""
    deadline = time.monotonic() + seconds
    while needle not in seen:
        assert time.monotonic() < deadline, f"no {needle!r} within {seconds} s: {seen!r}"
        opcode, data = socket.recv_data()
        assert opcode != websocket.ABNF.OPCODE_CLOSE, f"closed before {needle!r}: {seen!r}"
        seen += data
    return seen


def audited(deployment, action: str, count: int) -> list[dict]:
    deadline = time.monotonic() + 10
    while True:
        cp = deployment.audit()
        assert cp.returncode == 0, cp.stderr
        lines = [json.loads(line) for line in cp.stdout.splitlines() if line.strip()]
        sessions = [line for line in lines if line["action"] == action]
        if len(sessions) >= count or time.monotonic() > deadline:
            return sessions
        time.sleep(0.2)


def test_terminal_and_log_websockets_from_python(eas):
    body = create_token(eas)
    socket = websocket.create_connection(body.url, timeout=15)
    try:
        socket.send("echo hello-$((6*7))\n")
        read_until(socket, b"hello-42\r\n")
        socket.send('\x1e{"type":"resize","cols":101,"rows":33}')
        socket.send("stty size\n")
        read_until(socket, b"33 101\r\n")
        socket.send_binary("echo 漢字-ünïcode\n".encode())
        read_until(socket, "漢字-ünïcode\r\n".encode())
        socket.send("exit 0\n")
        deadline = time.monotonic() + 15
        while True:
            assert time.monotonic() < deadline, "the socket did not close after exit"
            opcode, data = socket.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                assert int.from_bytes(data[:2], "big") == 1000, data
                assert b"process exited with status 0" in data, data
                break
    finally:
        socket.close()

    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(body.url, timeout=15)
    assert refused.value.status_code == 403
    assert b"InstanceToken.AlreadyUsed" in (refused.value.resp_body or b"")

    log = websocket.create_connection(body.streamlog_url, timeout=15)
    output = b""
    try:
        while True:
            opcode, data = log.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                assert int.from_bytes(data[:2], "big") == 1000, data
                break
            output += data
    finally:
        log.close()
    assert b"log-line-1\n" in output and b"log-line-2\n" in output, output

    for action in ("TerminalSession", "StreamlogSession"):
        sessions = audited(eas, action, 1)
        assert sessions, f"no {action} audit record"
        session = sessions[-1]
        assert session["product"] == "eas"
        assert session["target"] == f"{CLUSTER}/{SERVICE}/{INSTANCE}/{WORKER}"
        assert session["key_id"] == root_cred(eas)[0]
        assert "bytes_from_client=" in session["detail"] and "bytes_to_client=" in session["detail"]


def test_workbench_url_in_headless_chromium(eas):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (run.sh installs Debian's chromium with apt-get; "
                    "it could not here)")
    if not (HERE / "node_modules" / "playwright-core" / "package.json").exists():
        pytest.fail("node_modules missing: run `npm ci` in .ci/acceptance (run.sh does)", pytrace=False)
    body = create_token(eas)
    work = Path(tempfile.mkdtemp(prefix="keyplane-acc-chromium-"))
    screenshot = work / "workbench.png"
    config = {"url": body.workbench_url, "screenshot": str(screenshot),
              "userDataDir": str(work / "profile"), "executablePath": str(CHROMIUM)}
    cp = subprocess.run([NODE, str(HERE / "node" / "workbench_browser.js")], cwd=HERE,
                        capture_output=True, text=True, timeout=180,
                        env=harness.child_env({"KP_CFG": json.dumps(config)}))
    lines = [line for line in cp.stdout.splitlines() if line.strip()]
    assert lines, f"workbench_browser.js printed nothing (exit {cp.returncode})\n{cp.stderr[-3000:]}"
    document = json.loads(lines[-1])
    assert document.get("ok"), f"{document.get('error')}\n{cp.stderr[-3000:]}"
    result = document["result"]

    # The token URL showed what it opens, set no session yet, and its button (a same-origin
    # POST) redirected to the token-free page and set the session cookie.
    assert result["confirmationStatus"] == 200
    for shown in (f"{CLUSTER}/{SERVICE}", INSTANCE, WORKER):
        assert shown in result["confirmationText"], result["confirmationText"]
    assert "keyplane_workbench" not in result["cookiesBeforeConfirmation"]
    assert result["firstStatus"] == 200
    assert result["landedOn"] == f"http://127.0.0.1:{eas.port}/eas/workbench/terminal"
    cookie = next(c for c in result["cookies"] if c["name"] == "keyplane_workbench")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/eas"
    assert cookie["expires"] > time.time()
    # The command ran in the terminal: its output is a line of its own.
    terminal_lines = [line.strip() for line in result["terminalText"].splitlines()]
    assert "hello-42" in terminal_lines, result["terminalText"]
    assert any("echo hello-$((6*7))" in line for line in terminal_lines), result["terminalText"]
    assert "hello-42" in result["rowsText"]
    assert not result["consoleErrors"], result["consoleErrors"]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("KEYPLANE_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(screenshot, REPO / "docs" / "workbench.png")

    # The URL cannot be used twice: a page that says so, no terminal.
    assert result["secondStatus"] == 403
    assert result["secondUrl"] == body.workbench_url
    assert "already been used" in result["secondText"]
    assert not result["secondHasTerminal"]
    shutil.rmtree(work, ignore_errors=True)
