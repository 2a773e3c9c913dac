"""Shared machinery for the Keyplane official-SDK acceptance suite.

Everything here is plain Python; pytest fixtures live in conftest.py.

* Deployment: one data directory (``keyplane init``) plus one ``keyplane serve``
  process listening on 127.0.0.1:<ephemeral port>.
* SECRETS: every credential secret the suite has been given, for the
  secrets-at-rest checks at the end of the run.  Filled automatically from
  every Python-SDK response/request (see install_sdk_response_hook), from the
  Node / tccli outputs (harvest()) and explicitly by the tests.
* SDK client factories for the signing variants, a hand-rolled TC3 signer and
  a raw-HTTP helper for the envelope tests.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets as _secrets
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Iterable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

CAM_VERSION = "2019-01-16"
APIGW_VERSION = "2018-08-08"
APIGW_REGION = "ap-guangzhou"

# The built-in system policies, by CAM PolicyId (their RAM names are the same).
ADMINISTRATOR_ACCESS_ID = 1
READ_ONLY_ACCESS_ID = 2
MANAGE_OWN_ACCESS_KEYS_ID = 3

# Generous per-second overrides for the "main" server so that the functional
# tests never trip the default per-account limits (5/s, 20/s).  The throttling
# tests run against servers of their own.
GENEROUS_RATE_LIMITS = [
    "cam:CreateAccessKey=100000",
    "cam:UpdateAccessKey=100000",
    "cam:DeleteAccessKey=100000",
    "cam:ListAccessKeys=100000",
    "apigateway:CreateApiKey=100000",
]

PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
              "all_proxy", "ALL_PROXY", "ftp_proxy", "FTP_PROXY")


def keyplane_bin() -> Path:
    env = os.environ.get("KEYPLANE_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or (REPO / "target"))
    if not target.is_absolute():
        target = REPO / target
    return target / "debug" / "keyplane"


# ---------------------------------------------------------------------------
# proxy hygiene
# ---------------------------------------------------------------------------

_NO_PROXY_ENTRIES = ["127.0.0.1", "localhost"]


def scrub_proxy_env(env: dict | None = None) -> dict:
    """Remove proxy variables and set NO_PROXY (protocols.md A.6: the Tencent
    Python SDK needs both 127.0.0.1 and 127.0.0.1:PORT in NO_PROXY; the Node
    SDK only looks at http_proxy and ignores NO_PROXY)."""
    env = os.environ if env is None else env
    for v in PROXY_VARS:
        env.pop(v, None)
    value = ",".join(_NO_PROXY_ENTRIES)
    env["NO_PROXY"] = value
    env["no_proxy"] = value
    return env


def add_no_proxy_port(port: int) -> None:
    entry = f"127.0.0.1:{port}"
    if entry not in _NO_PROXY_ENTRIES:
        _NO_PROXY_ENTRIES.append(entry)
    scrub_proxy_env()


def child_env(extra: dict | None = None) -> dict:
    env = scrub_proxy_env(dict(os.environ))
    for k in list(env):
        # KEYPLANE_*: the server reads its settings from the environment too
        # (KEYPLANE_DATA_DIR, KEYPLANE_RATE_LIMITS, KEYPLANE_DISABLE_RATE_LIMITS, ...);
        # only the command line given by the tests may configure it.
        if k.startswith(("TENCENTCLOUD_", "ALIBABA_CLOUD_", "KEYPLANE_")):
            env.pop(k)
    if extra:
        env.update(extra)
    return env


# ---------------------------------------------------------------------------
# secrets registry
# ---------------------------------------------------------------------------

SECRETS: dict[str, str] = {}          # secret -> where it came from
SECRET_FIELD_NAMES = {"SecretAccessKey", "AccessKeySecret", "secret_key",
                      "access_key_secret", "secretKey", "accessKeySecret",
                      "AccessTokenCode", "SecretKey"}


def remember(secret: Any, origin: str) -> None:
    if isinstance(secret, str) and secret:
        SECRETS.setdefault(secret, origin)


def harvest(obj: Any, origin: str) -> None:
    """Walk a decoded JSON value and remember every secret-looking field."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in SECRET_FIELD_NAMES and isinstance(v, str):
                remember(v, f"{origin}:{k}")
            else:
                harvest(v, origin)
    elif isinstance(obj, list):
        for v in obj:
            harvest(v, origin)


def describe_secret(s: str) -> str:
    return f"{s[:4]}…(len {len(s)}) from {SECRETS.get(s, '?')}"


# ---------------------------------------------------------------------------
# watching every response the Python SDK receives
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class Observed:
    action: str
    method: str
    status: int
    content_type: str | None
    body: bytes


OBSERVED: list[Observed] = []
VIOLATIONS: list[str] = []


def check_envelope(status: int, content_type: str | None, body: bytes, what: str) -> list[str]:
    """Return a list of problems with a Tencent API 3.0 reply (empty = fine)."""
    problems = []
    if status != 200:
        problems.append(f"{what}: HTTP status {status}, expected 200")
    if content_type != "application/json":
        problems.append(f"{what}: Content-Type {content_type!r}, expected exactly 'application/json'")
    try:
        doc = json.loads(body)
    except Exception as e:  # noqa: BLE001
        problems.append(f"{what}: body is not JSON ({e}): {body[:200]!r}")
        return problems
    if not isinstance(doc, dict) or list(doc.keys()) != ["Response"] or not isinstance(doc["Response"], dict):
        problems.append(f"{what}: body is not {{\"Response\": {{...}}}}: {body[:200]!r}")
        return problems
    r = doc["Response"]
    if not isinstance(r.get("RequestId"), str) or not r.get("RequestId"):
        problems.append(f"{what}: Response.RequestId missing/empty: {body[:200]!r}")
    if "Error" in r:
        err = r["Error"]
        if not isinstance(err, dict) or not isinstance(err.get("Code"), str) or not err.get("Code") \
                or not isinstance(err.get("Message"), str):
            problems.append(f"{what}: malformed Response.Error: {body[:300]!r}")
    return problems


def _action_of(req_inter) -> str:
    a = req_inter.header.get("X-TC-Action")
    if a:
        return a
    data = req_inter.data
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    if isinstance(data, str):
        q = urllib.parse.parse_qs(data)
        if "Action" in q:
            return q["Action"][0]
    return "?"


def _harvest_request(req_inter, origin: str) -> None:
    data = req_inter.data
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            return
    if not isinstance(data, str) or not data:
        return
    try:
        harvest(json.loads(data), origin)
        return
    except ValueError:
        pass
    for k, vs in urllib.parse.parse_qs(data).items():
        if k.split(".")[-1] in SECRET_FIELD_NAMES:
            for v in vs:
                remember(v, origin + ":" + k)


_HOOK_INSTALLED = False


def install_sdk_response_hook() -> None:
    """Wrap ApiRequest.send_request of the Python SDK: record every reply,
    check HTTP 200 + Content-Type exactly application/json + envelope shape,
    and harvest secrets from requests and replies."""
    global _HOOK_INSTALLED
    if _HOOK_INSTALLED:
        return
    from tencentcloud.common.http import request as sdk_request

    original = sdk_request.ApiRequest.send_request

    def send_request(self, req_inter):
        action = _action_of(req_inter)
        _harvest_request(req_inter, f"request {action}")
        resp = original(self, req_inter)
        body = resp.content  # cached by requests, the SDK can read it again
        ct = resp.headers.get("Content-Type")
        OBSERVED.append(Observed(action, req_inter.method, resp.status_code, ct, body))
        VIOLATIONS.extend(check_envelope(resp.status_code, ct, body, f"{req_inter.method} {action}"))
        try:
            harvest(json.loads(body), f"response {action}")
        except ValueError:
            pass
        return resp

    sdk_request.ApiRequest.send_request = send_request
    _HOOK_INSTALLED = True


def last_body(action: str) -> bytes:
    for o in reversed(OBSERVED):
        if o.action == action:
            return o.body
    raise AssertionError(f"no {action} response observed")


# ---------------------------------------------------------------------------
# keyplane processes
# ---------------------------------------------------------------------------

class KeyplaneError(AssertionError):
    pass


def run_cli(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    binary = keyplane_bin()
    if not binary.exists():
        raise KeyplaneError(f"keyplane binary not found at {binary} "
                            f"(build it with `cargo build -p keyplane-server` or set KEYPLANE_BIN)")
    return subprocess.run([str(binary), *args], capture_output=True, text=True,
                          timeout=timeout, env=child_env())


def _json_one(cp: subprocess.CompletedProcess, what: str) -> dict:
    if cp.returncode != 0:
        raise KeyplaneError(f"{what} exited {cp.returncode}\nstdout:\n{cp.stdout}\nstderr:\n{cp.stderr}")
    text = cp.stdout.strip()
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise KeyplaneError(f"{what} did not print exactly one JSON object ({e}); stdout was:\n{cp.stdout}")
    if not isinstance(obj, dict):
        raise KeyplaneError(f"{what} printed JSON that is not an object: {text[:300]}")
    return obj


@dataclasses.dataclass
class InitResult:
    raw: dict
    account_id: str
    root_uin: int
    secret_id: str
    secret_key: str
    aliyun_id: str
    aliyun_secret: str


@dataclasses.dataclass
class User:
    uin: int
    name: str
    secret_id: str | None = None
    secret_key: str | None = None
    # Alibaba: `name@<account>.onaliyun.com` and the user's Alibaba access key
    principal: str | None = None
    ali_id: str | None = None
    ali_secret: str | None = None


LISTEN_RE = re.compile(r"listening on (https?)://127\.0\.0\.1:(\d+)")
DEPLOYMENTS: list["Deployment"] = []
_name_counter = [0]


def unique(prefix: str) -> str:
    _name_counter[0] += 1
    return f"{prefix}{_name_counter[0]}x{_secrets.token_hex(3)}"


class Deployment:
    """A data directory initialised with `keyplane init` and (optionally) a
    running `keyplane serve` on it."""

    def __init__(self, label: str, serve_args: Iterable[str] = (), base: Path | None = None):
        self.label = label
        self.serve_args = list(serve_args)
        root = Path(base) if base else Path(tempfile.mkdtemp(prefix=f"keyplane-acc-{label}-"))
        self.root = root
        self.data_dir = root / "data"
        self.log_dir = root / "logs"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.scheme = "http"
        self.returncode: int | None = None
        self.stop_problem: str | None = None
        self._reader: threading.Thread | None = None
        self.init: InitResult | None = None
        DEPLOYMENTS.append(self)

    # -- CLI ---------------------------------------------------------------
    def do_init(self) -> InitResult:
        cp = run_cli(["init", "--data-dir", str(self.data_dir), "--json"])
        obj = _json_one(cp, "keyplane init --json")
        try:
            t, a = obj["tencent"], obj["aliyun"]
            res = InitResult(obj, str(obj["account_id"]), t["uin"], t["secret_id"], t["secret_key"],
                             a["access_key_id"], a["access_key_secret"])
        except (KeyError, TypeError) as e:
            raise KeyplaneError(f"keyplane init --json: missing field {e}: {cp.stdout}")
        remember(res.secret_key, f"{self.label}: init tencent.secret_key")
        remember(res.aliyun_secret, f"{self.label}: init aliyun.access_key_secret")
        self.init = res
        return res

    def user_create(self, name: str | None = None) -> User:
        name = name or unique("ciuser")
        cp = run_cli(["user", "create", "--data-dir", str(self.data_dir), "--name", name, "--json"])
        obj = _json_one(cp, "keyplane user create --json")
        harvest(obj, "user create")
        if not isinstance(obj.get("uin"), int) or isinstance(obj.get("uin"), bool):
            raise KeyplaneError(f"user create: uin is not a JSON number: {cp.stdout}")
        return User(uin=obj["uin"], name=obj.get("name"), principal=obj.get("user_principal_name"))

    def audit(self) -> subprocess.CompletedProcess:
        return run_cli(["audit", "--data-dir", str(self.data_dir)], timeout=120)

    # -- server --------------------------------------------------------------
    def start(self, timeout: float = 60) -> "Deployment":
        binary = keyplane_bin()
        if not binary.exists():
            raise KeyplaneError(f"keyplane binary not found at {binary}")
        n = len(list(self.log_dir.glob("serve*.stdout")))
        out_path = self.log_dir / f"serve{n}.stdout"
        err_path = self.log_dir / f"serve{n}.stderr"
        self._err_file = open(err_path, "wb")
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--data-dir", str(self.data_dir), "--listen", "127.0.0.1:0",
             *self.serve_args],
            stdout=subprocess.PIPE, stderr=self._err_file, stdin=subprocess.DEVNULL,
            env=child_env(), text=True, bufsize=1)
        ready = threading.Event()
        port_box: list[int] = []

        def reader(stream, path):
            with open(path, "w") as f:
                for line in stream:
                    f.write(line)
                    f.flush()
                    if not port_box:
                        m = LISTEN_RE.search(line)
                        if m:
                            self.scheme = m.group(1)
                            port_box.append(int(m.group(2)))
                            ready.set()
            ready.set()

        self._reader = threading.Thread(target=reader, args=(self.proc.stdout, out_path), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        ready.wait(timeout)
        if not port_box:
            self._kill()
            raise KeyplaneError(
                f"[{self.label}] serve did not print 'listening on http(s)://127.0.0.1:PORT' within {timeout}s "
                f"(exit code {self.proc.returncode})\nstdout:\n{_tail(out_path)}\nstderr:\n{_tail(err_path)}")
        self.port = port_box[0]
        add_no_proxy_port(self.port)
        # /healthz must answer 200
        last = None
        while time.monotonic() < deadline:
            try:
                if self.scheme == "https":
                    # Liveness only: the TLS tests check the certificate themselves.
                    c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=5,
                                                    context=ssl._create_unverified_context())
                else:
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/healthz")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200:
                    return self
                last = f"HTTP {r.status}"
            except OSError as e:
                last = repr(e)
            time.sleep(0.1)
        self._kill()
        raise KeyplaneError(f"[{self.label}] GET /healthz never returned 200 (last: {last})\n"
                            f"stderr:\n{_tail(err_path)}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM and wait.  Idempotent; records returncode / stop_problem."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.stop_problem = f"did not exit within {timeout}s of SIGTERM (killed)"
                self._kill()
        self.returncode = self.proc.returncode
        if self._reader:
            self._reader.join(5)
        try:
            self._err_file.close()
        except Exception:  # noqa: BLE001
            pass
        self.proc = None
        return self.returncode

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log_text(self) -> bytes:
        out = b""
        for p in sorted(self.log_dir.glob("serve*")):
            out += p.read_bytes()
        return out

    # -- convenience ---------------------------------------------------------
    @property
    def root_uin(self) -> int:
        return self.init.root_uin

    def root_cred(self) -> tuple[str, str]:
        return self.init.secret_id, self.init.secret_key

    def cam(self, variant: str = "tc3-post", cred: tuple[str, str] | None = None):
        return cam_client(self.port, *(cred or self.root_cred()), variant=variant)

    def apigw(self, variant: str = "tc3-post", cred: tuple[str, str] | None = None):
        return apigw_client(self.port, *(cred or self.root_cred()), variant=variant)

    def common(self, service: str = "cam", version: str = CAM_VERSION, region: str = "",
               variant: str = "tc3-post", cred: tuple[str, str] | None = None):
        return common_client(self.port, service, version, *(cred or self.root_cred()),
                             region=region, variant=variant)

    def attach_cam_policy(self, uin: int, policy_id: int) -> None:
        """The root attaches a policy (system: 1 AdministratorAccess, 2 ReadOnlyAccess,
        3 ManageOwnAccessKeys; or a custom PolicyId) with CAM AttachUserPolicy."""
        from tencentcloud.cam.v20190116 import models
        self.cam().AttachUserPolicy(mk(models.AttachUserPolicyRequest, PolicyId=policy_id, AttachUin=uin))

    def new_user(self, with_key: bool = True, description: str | None = None,
                 manage_own_keys: bool = True) -> User:
        """`keyplane user create`, then the root attaches the system policy
        ManageOwnAccessKeys (CAM PolicyId 3) to it (sub-users start with no
        permission at all; `manage_own_keys=False` leaves it so) and creates one
        access key for it."""
        u = self.user_create()
        if manage_own_keys:
            self.attach_cam_policy(u.uin, MANAGE_OWN_ACCESS_KEYS_ID)
        if with_key:
            from tencentcloud.cam.v20190116 import models
            fields = {"TargetUin": u.uin}
            if description:
                fields["Description"] = description
            r = self.cam().CreateAccessKey(mk(models.CreateAccessKeyRequest, **fields))
            u.secret_id, u.secret_key = r.AccessKey.AccessKeyId, r.AccessKey.SecretAccessKey
            remember(u.secret_key, f"{self.label}: key of {u.name}")
        return u


def _tail(path: Path, n: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return "<none>"


def stop_all() -> None:
    for d in DEPLOYMENTS:
        d.stop()


# ---------------------------------------------------------------------------
# Python SDK helpers
# ---------------------------------------------------------------------------

# name -> (signMethod, reqMethod)
PY_VARIANTS = {
    "tc3-post": ("TC3-HMAC-SHA256", "POST"),
    "tc3-get": ("TC3-HMAC-SHA256", "GET"),
    "v1-sha1-post": ("HmacSHA1", "POST"),
    "v1-sha1-get": ("HmacSHA1", "GET"),
    "v1-sha256-post": ("HmacSHA256", "POST"),
    "v1-sha256-get": ("HmacSHA256", "GET"),
}


def profile(port: int, variant: str = "tc3-post"):
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    sign_method, req_method = PY_VARIANTS[variant]
    hp = HttpProfile(endpoint=f"127.0.0.1:{port}", protocol="http", reqMethod=req_method, reqTimeout=60)
    return ClientProfile(signMethod=sign_method, httpProfile=hp)


def credential(sid: str, skey: str):
    from tencentcloud.common import credential as c
    return c.Credential(sid, skey)


def cam_client(port: int, sid: str, skey: str, variant: str = "tc3-post"):
    from tencentcloud.cam.v20190116 import cam_client as m
    return m.CamClient(credential(sid, skey), "", profile(port, variant))


def apigw_client(port: int, sid: str, skey: str, variant: str = "tc3-post", region: str = APIGW_REGION):
    from tencentcloud.apigateway.v20180808 import apigateway_client as m
    return m.ApigatewayClient(credential(sid, skey), region, profile(port, variant))


def common_client(port: int, service: str, version: str, sid: str, skey: str, region: str = "",
                  variant: str = "tc3-post"):
    from tencentcloud.common.common_client import CommonClient
    return CommonClient(service, version, credential(sid, skey), region, profile(port, variant))


def mk(cls, **fields):
    """Build an SDK request model, refusing field names the model lacks
    (catches typos that the SDK would otherwise only warn about)."""
    obj = cls()
    for k in fields:
        if not hasattr(obj, k):
            raise AttributeError(f"{cls.__name__} has no field {k!r}")
    obj._deserialize(fields)
    return obj


class raises_code:
    """with raises_code("AuthFailure.SignatureFailure"): client.X(req)

    ``code=None`` accepts any code (for behaviours whose code the contract does
    not pin); a tuple accepts any of its codes."""

    def __init__(self, code: str | tuple | None, *, prefix: bool = False):
        self.code = code
        self.prefix = prefix
        self.exc = None

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
        want = self.code or "<any error code>"
        if et is None:
            raise AssertionError(f"expected error {want}, but the call succeeded")
        if not issubclass(et, TencentCloudSDKException):
            return False
        self.exc = ev
        got = ev.code
        if self.code is None:
            assert got, f"expected an error code, got {got!r} ({ev.message})"
        elif isinstance(self.code, tuple):
            assert got in self.code, f"expected one of {self.code}, got {got}: {ev.message}"
        elif self.prefix:
            assert got and got.startswith(self.code), f"expected {self.code}*, got {got}: {ev.message}"
        else:
            assert got == self.code, f"expected {self.code}, got {got}: {ev.message}"
        assert got not in ("ClientNetworkError", "ServerNetworkError", "KeyError", "JSONDecodeError"), \
            f"client-side failure, not a server error code: {got}: {ev.message}"
        return True


# ---------------------------------------------------------------------------
# hand signing and raw HTTP
# ---------------------------------------------------------------------------

def utc_date(ts: int) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%d")


def tc3_headers(sid: str, skey: str, *, host: str, service: str, action: str, version: str,
                body: bytes, timestamp: int | None = None, region: str | None = None,
                content_type: str = "application/json") -> dict:
    ts = int(time.time()) if timestamp is None else timestamp
    date = utc_date(ts)
    canonical = "\n".join([
        "POST", "/", "",
        f"content-type:{content_type}\nhost:{host}\n",
        "content-type;host",
        hashlib.sha256(body).hexdigest(),
    ])
    sts = "\n".join(["TC3-HMAC-SHA256", str(ts), f"{date}/{service}/tc3_request",
                     hashlib.sha256(canonical.encode()).hexdigest()])

    def h(k: bytes, m: str) -> bytes:
        return hmac.new(k, m.encode(), hashlib.sha256).digest()

    k = h(h(h(("TC3" + skey).encode(), date), service), "tc3_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers = {
        "Authorization": f"TC3-HMAC-SHA256 Credential={sid}/{date}/{service}/tc3_request, "
                         f"SignedHeaders=content-type;host, Signature={sig}",
        "Content-Type": content_type,
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Version": version,
        "X-TC-Timestamp": str(ts),
    }
    if region:
        headers["X-TC-Region"] = region
    return headers


@dataclasses.dataclass
class RawResponse:
    status: int
    content_type: str | None
    headers: list
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)

    def envelope_problems(self, what: str = "raw") -> list[str]:
        return check_envelope(self.status, self.content_type, self.body, what)

    def error_code(self) -> str | None:
        try:
            return self.json()["Response"]["Error"]["Code"]
        except (ValueError, KeyError, TypeError):
            return None


def raw_request(port: int, headers: dict, body: bytes = b"", method: str = "POST",
                path: str = "/", timeout: float = 60) -> RawResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        rr = RawResponse(r.status, r.getheader("Content-Type"), r.getheaders(), data)
    finally:
        conn.close()
    try:
        harvest(json.loads(rr.body), "raw response")
    except ValueError:
        pass
    return rr


def raw_request_streaming(port: int, headers: dict, body: bytes, chunk: int = 256 * 1024,
                          timeout: float = 60) -> RawResponse:
    """POST a large body in chunks.  A server may answer (and close) before it
    has read the whole body; a send error is therefore tolerated and the reply
    is read anyway."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        view = memoryview(body)
        try:
            for off in range(0, len(body), chunk):
                conn.sock.sendall(view[off:off + chunk])
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass
        try:
            r = conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            raise AssertionError(
                f"no readable reply to a {len(body)}-byte body ({e!r}): the server must answer with the "
                f"HTTP 200 error envelope, e.g. drain the body (or close gracefully) after replying") from e
        return RawResponse(r.status, r.getheader("Content-Type"), r.getheaders(), data)
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# misc
# ---------------------------------------------------------------------------

def poll(fn: Callable[[], Any], timeout: float = 5.0, interval: float = 0.2):
    """Call fn until it returns a truthy value or timeout; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def scan_for_secrets(paths: Iterable[Path], secrets: Iterable[str]) -> list[str]:
    """Return 'file: secret' findings for every secret present as raw bytes."""
    found = []
    secrets = list(secrets)
    for p in paths:
        try:
            data = p.read_bytes()
        except OSError as e:
            found.append(f"{p}: unreadable ({e})")
            continue
        for s in secrets:
            if s.encode() in data:
                found.append(f"{p.name}: {describe_secret(s)}")
    return found


def files_under(d: Path) -> list[Path]:
    return sorted(p for p in Path(d).rglob("*") if p.is_file())
