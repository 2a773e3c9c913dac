"""Alibaba Cloud side of the acceptance suite (protocols.md part B).

* Client factories for the three Python clients: the tea SDKs
  (`alibabacloud_ims20190815`, `alibabacloud_smc20190601` over
  `alibabacloud_tea_openapi`) in ACS3 mode (the default) or RPC v1 mode
  (`signature_algorithm='v2'`), and the legacy `aliyun-python-sdk-core`
  (`AcsClient` + `CommonRequest`, RPC v1, JSON or XML).
* Hooks on both transports (tea: `DaraCore.do_action`; legacy:
  `AcsClient._handle_single_request`) that record every reply, check the
  Alibaba envelope (protocols.md B.7: errors are 4xx/5xx with RequestId,
  HostId, Code, Message and Recommend; successes are 200 with a top-level
  RequestId and never a top-level Code; XML only when asked for) into
  harness.VIOLATIONS, and harvest AccessKeySecret / AccessTokenCode values into
  harness.SECRETS for the secrets-at-rest checks.
* `ali_raises`, the Alibaba counterpart of harness.raises_code, for all three
  clients.
* The SMC agent's native registration endpoint (plain http.client).
* Clock and nonce overrides for the tea and legacy clients.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import harness
from harness import remember, harvest, unique

IMS_VERSION = "2019-08-15"
RAM_VERSION = "2015-05-01"
SMC_VERSION = "2019-06-01"
REGION = "cn-hangzhou"

# tea modes: name -> Config.signature_algorithm
TEA_MODES = {"acs3": None, "rpc-v1": "v2"}

ERROR_FIELDS = ("RequestId", "HostId", "Code", "Message", "Recommend")


# ---------------------------------------------------------------------------
# envelope checks and observation
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class AliObserved:
    client: str            # "tea" | "legacy"
    action: str
    status: int
    content_type: str | None
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


ALI_OBSERVED: list[AliObserved] = []


def _xml_children(elem) -> list[str]:
    return [c.tag for c in elem]


def check_ali_envelope(status: int, content_type: str | None, body: bytes, what: str) -> list[str]:
    """Problems with an Alibaba RPC reply (empty = fine)."""
    problems = []
    ct = (content_type or "").replace(" ", "").lower()
    if not (200 == status or 400 <= status < 600):
        problems.append(f"{what}: HTTP status {status}: Alibaba replies are 200 or 4xx/5xx")
    if ct.startswith("text/xml") or ct.startswith("application/xml"):
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            return problems + [f"{what}: XML body does not parse ({e}): {body[:200]!r}"]
        children = _xml_children(root)
        if status >= 400:
            # an authorization refusal (403) carries its AccessDeniedDetail after Recommend
            if status == 403 and children[len(ERROR_FIELDS):] == ["AccessDeniedDetail"]:
                children = children[:len(ERROR_FIELDS)]
            if root.tag != "Error" or children != list(ERROR_FIELDS):
                problems.append(f"{what}: XML error is not <Error> with {ERROR_FIELDS}: {body[:300]!r}")
            elif any(not (root.findtext(f) or "") for f in ERROR_FIELDS):
                problems.append(f"{what}: empty field in XML error: {body[:300]!r}")
        else:
            if not root.tag.endswith("Response"):
                problems.append(f"{what}: XML success root <{root.tag}> is not <...Response>")
            if not root.findtext("RequestId") or not children or children[0] != "RequestId":
                problems.append(f"{what}: XML success does not start with <RequestId>: {body[:200]!r}")
            if root.find("Code") is not None:
                problems.append(f"{what}: XML success with a top-level <Code>: {body[:200]!r}")
        return problems
    if not ct.startswith("application/json"):
        problems.append(f"{what}: Content-Type {content_type!r}, expected application/json")
    try:
        doc = json.loads(body)
    except ValueError as e:
        return problems + [f"{what}: body is not JSON ({e}): {body[:200]!r}"]
    if not isinstance(doc, dict):
        return problems + [f"{what}: body is not a JSON object: {body[:200]!r}"]
    if status >= 400:
        missing = [f for f in ERROR_FIELDS if not isinstance(doc.get(f), str) or not doc.get(f)]
        if missing:
            problems.append(f"{what}: error body lacks {missing}: {body[:300]!r}")
        elif doc["Code"] not in doc["Recommend"] or doc["RequestId"] not in doc["Recommend"]:
            problems.append(f"{what}: Recommend does not name the Code and RequestId: {doc['Recommend']}")
    else:
        if not isinstance(doc.get("RequestId"), str) or not doc["RequestId"]:
            problems.append(f"{what}: success without a top-level RequestId: {body[:200]!r}")
        if "Code" in doc:
            problems.append(f"{what}: success body with a top-level Code (pop-core would throw): {body[:200]!r}")
    return problems


# Every Alibaba AccessKeySecret and every SMC AccessTokenCode the suite saw (all
# of them are in harness.SECRETS too); test_zz_secrets_at_rest checks that the
# collection worked.
ALI_KEY_SECRETS: set[str] = set()
ALI_TOKEN_CODES: set[str] = set()
_KEY_FIELDS = {"AccessKeySecret", "accessKeySecret", "access_key_secret"}


def ali_remember(secret: str, origin: str, kind: str = "key") -> None:
    if isinstance(secret, str) and secret:
        remember(secret, origin)
        (ALI_TOKEN_CODES if kind == "code" else ALI_KEY_SECRETS).add(secret)


def ali_harvest(obj: Any, origin: str) -> None:
    """harness.harvest, also filing the Alibaba secrets and codes found."""
    harvest(obj, origin)
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in _KEY_FIELDS and isinstance(v, str):
                ali_remember(v, f"{origin}:{k}")
            elif k == "AccessTokenCode" and isinstance(v, str):
                ali_remember(v, f"{origin}:{k}", "code")
            else:
                ali_harvest(v, origin)
    elif isinstance(obj, list):
        for v in obj:
            ali_harvest(v, origin)


_SECRET_XML = re.compile(rb"<(AccessKeySecret|AccessTokenCode)>([^<]+)</\1>")


def _observe(client: str, action: str, status: int, content_type: str | None, body: bytes) -> None:
    ALI_OBSERVED.append(AliObserved(client, action, status, content_type, body))
    harness.VIOLATIONS.extend(check_ali_envelope(status, content_type, body, f"{client} {action}"))
    try:
        ali_harvest(json.loads(body), f"{client} response {action}")
    except ValueError:
        for m in _SECRET_XML.finditer(body or b""):
            field = m.group(1).decode()
            ali_remember(m.group(2).decode(), f"{client} XML response {action}:{field}",
                         "code" if field == "AccessTokenCode" else "key")


_HOOKS = []


def install_ali_hooks() -> None:
    """Wrap the tea transport and the legacy core's single-request function."""
    if _HOOKS:
        return
    from darabonba.core import DaraCore

    original_do_action = DaraCore.do_action

    def do_action(request, runtime_option=None):
        resp = original_do_action(request, runtime_option)
        headers = request.headers or {}
        action = headers.get("x-acs-action") or (request.query or {}).get("Action") or "?"
        body = resp.body if isinstance(resp.body, bytes) else b""
        _observe("tea", action, resp.status_code, (resp.headers or {}).get("content-type"), body)
        return resp

    DaraCore.do_action = staticmethod(do_action)

    from aliyunsdkcore.client import AcsClient

    original_single = AcsClient._handle_single_request

    def _handle_single_request(self, endpoint, request, read_timeout, connect_timeout, signer):
        status, headers, body, exception = original_single(self, endpoint, request, read_timeout,
                                                           connect_timeout, signer)
        if status is not None:
            ct = None
            for k, v in (headers or {}).items():
                if k.lower() == "content-type":
                    ct = v
            _observe("legacy", request.get_action_name() or "?", status, ct, body or b"")
        return status, headers, body, exception

    AcsClient._handle_single_request = _handle_single_request
    _HOOKS.append(True)


def last_observed(action: str, client: str | None = None) -> AliObserved:
    for o in reversed(ALI_OBSERVED):
        if o.action == action and (client is None or o.client == client):
            return o
    raise AssertionError(f"no {action} reply observed")


# ---------------------------------------------------------------------------
# clients
# ---------------------------------------------------------------------------

def tea_config(port: int, ak: str, sk: str, mode: str = "acs3"):
    from alibabacloud_tea_openapi import models as open_api_models
    cfg = open_api_models.Config(access_key_id=ak, access_key_secret=sk, endpoint=f"127.0.0.1:{port}",
                                 protocol="http", region_id=REGION, read_timeout=60000,
                                 connect_timeout=10000)
    algorithm = TEA_MODES[mode]
    if algorithm:
        cfg.signature_algorithm = algorithm
    return cfg


def ims_client(port: int, ak: str, sk: str, mode: str = "acs3"):
    from alibabacloud_ims20190815.client import Client
    return Client(tea_config(port, ak, sk, mode))


def smc_client(port: int, ak: str, sk: str, mode: str = "acs3"):
    from alibabacloud_smc20190601.client import Client
    return Client(tea_config(port, ak, sk, mode))


def ram_client(port: int, ak: str, sk: str, mode: str = "acs3"):
    from alibabacloud_ram20150501.client import Client
    return Client(tea_config(port, ak, sk, mode))


def tea_call(client, version: str, action: str, query: dict | None = None) -> dict:
    """The tea SDK's generic call_api (for actions and versions the generated
    clients do not have)."""
    from alibabacloud_tea_openapi import utils_models
    from darabonba.runtime import RuntimeOptions
    from alibabacloud_tea_openapi.utils import Utils
    params = utils_models.Params(action=action, version=version, protocol="HTTPS", pathname="/",
                                 method="POST", auth_type="AK", style="RPC", req_body_type="formData",
                                 body_type="json")
    req = utils_models.OpenApiRequest(query=Utils.query(query or {}))
    return client.call_api(params, req, RuntimeOptions())


def legacy_client(ak: str, sk: str):
    from aliyunsdkcore.client import AcsClient
    return AcsClient(ak, sk, REGION, auto_retry=False, timeout=60, connect_timeout=10)


def legacy_request(port: int, version: str, action: str, params: dict | None = None,
                   method: str = "POST"):
    from aliyunsdkcore.request import CommonRequest
    r = CommonRequest(domain=f"127.0.0.1:{port}", version=version, action_name=action)
    r.set_protocol_type("http")
    r.set_method(method)
    for k, v in (params or {}).items():
        r.add_query_param(k, v)
    return r


def legacy_json(client, request) -> dict:
    """do_action_with_exception (JSON); raises the SDK's ServerException."""
    return json.loads(client.do_action_with_exception(request))


def legacy_xml(client, request) -> tuple[int, ET.Element, bytes]:
    """do_action with Format=XML: (HTTP status, parsed root, raw body).  The
    deprecated do_action returns the body of errors too."""
    import warnings
    request.set_accept_format("XML")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        body = client.do_action(request)
    o = last_observed(request.get_action_name(), "legacy")
    assert o.body == body
    assert (o.content_type or "").startswith("text/xml"), f"XML asked for, got {o.content_type}: {body[:200]!r}"
    return o.status, ET.fromstring(body), body


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

class ali_raises:
    """with ali_raises("EntityNotExist.User", 404) as e: client.x(...)

    Accepts the tea ClientException/ServerException and the legacy core's
    ServerException; afterwards e.code, e.status, e.message, e.data (the error
    body as a dict, when the client kept it) and e.request_id are set."""

    def __init__(self, code: str | tuple, status: int | None = None):
        self.code = code
        self.status = status
        self.exc = None
        self.message = None
        self.data = None
        self.request_id = None

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            raise AssertionError(f"expected error {self.code}, but the call succeeded")
        from alibabacloud_tea_openapi.exceptions import ClientException as TeaClient, \
            ServerException as TeaServer
        from aliyunsdkcore.acs_exception.exceptions import ServerException as LegacyServer
        if issubclass(et, (TeaClient, TeaServer)):
            got, status = ev.code, ev.status_code
            self.message, self.data, self.request_id = ev.message, ev.data, ev.request_id
        elif issubclass(et, LegacyServer):
            got, status = ev.get_error_code(), ev.get_http_status()
            self.message, self.request_id = ev.get_error_msg(), ev.get_request_id()
        else:
            return False
        self.exc = ev
        want = self.code if isinstance(self.code, tuple) else (self.code,)
        assert got in want, f"expected {self.code}, got {got} (HTTP {status}): {self.message}"
        if self.status is not None:
            assert status == self.status, f"{got}: HTTP {status}, expected {self.status}"
        self.got, self.got_status = got, status
        return True


# ---------------------------------------------------------------------------
# clock and nonce overrides
# ---------------------------------------------------------------------------

@contextlib.contextmanager
def tea_clock(timestamp: Any = None, nonce: Any = None):
    """Override the tea SDK's Timestamp / x-acs-date and nonce helpers.  Each
    argument is a value or a zero-argument callable; None leaves it alone."""
    from alibabacloud_tea_openapi.utils import Utils
    saved = Utils.__dict__["get_timestamp"], Utils.__dict__["get_nonce"]
    try:
        if timestamp is not None:
            Utils.get_timestamp = staticmethod(timestamp if callable(timestamp) else (lambda: timestamp))
        if nonce is not None:
            Utils.get_nonce = staticmethod(nonce if callable(nonce) else (lambda: nonce))
        yield
    finally:
        Utils.get_timestamp, Utils.get_nonce = saved


@contextlib.contextmanager
def legacy_clock(timestamp: Any = None, nonce: Any = None):
    """The same for the legacy core (its parameter_helper functions)."""
    from aliyunsdkcore.utils import parameter_helper as helper
    saved = helper.get_iso_8061_date, helper.get_uuid
    try:
        if timestamp is not None:
            helper.get_iso_8061_date = timestamp if callable(timestamp) else (lambda: timestamp)
        if nonce is not None:
            helper.get_uuid = nonce if callable(nonce) else (lambda: nonce)
        yield
    finally:
        helper.get_iso_8061_date, helper.get_uuid = saved


def iso_utc(offset_seconds: float = 0) -> str:
    import datetime as dt
    t = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=offset_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def fresh_nonce() -> str:
    import secrets
    return secrets.token_hex(16)


# ---------------------------------------------------------------------------
# deployment helpers
# ---------------------------------------------------------------------------

def root_cred(kp) -> tuple[str, str]:
    ALI_KEY_SECRETS.add(kp.init.aliyun_secret)   # in harness.SECRETS since `init`
    return kp.init.aliyun_id, kp.init.aliyun_secret


def ims(kp, mode: str = "acs3", cred: tuple[str, str] | None = None):
    return ims_client(kp.port, *(cred or root_cred(kp)), mode=mode)


def smc(kp, mode: str = "acs3", cred: tuple[str, str] | None = None):
    return smc_client(kp.port, *(cred or root_cred(kp)), mode=mode)


def ram(kp, mode: str = "acs3", cred: tuple[str, str] | None = None):
    return ram_client(kp.port, *(cred or root_cred(kp)), mode=mode)


def attach_ram_policy(kp, user_name: str, policy_name: str, policy_type: str = "System") -> None:
    """The root attaches a policy with RAM AttachPolicyToUser."""
    from alibabacloud_ram20150501 import models as rm
    ram(kp).attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type=policy_type, policy_name=policy_name,
                                                                user_name=user_name))


def new_ali_user(kp, with_key: bool = True, manage_own_keys: bool = True) -> harness.User:
    """`keyplane user create`, then the root attaches the system policy
    ManageOwnAccessKeys to it with RAM AttachPolicyToUser (sub-users start with
    no permission at all; `manage_own_keys=False` leaves it so) and creates one
    Alibaba access key for it with IMS CreateAccessKey
    UserPrincipalName=<name@account.onaliyun.com>."""
    from alibabacloud_ims20190815 import models as m
    u = kp.user_create()
    assert u.principal and u.principal == f"{u.name}@{kp.init.account_id}.onaliyun.com", u
    if manage_own_keys:
        attach_ram_policy(kp, u.name, "ManageOwnAccessKeys")
    if with_key:
        k = ims(kp).create_access_key(m.CreateAccessKeyRequest(user_principal_name=u.principal)).body.access_key
        u.ali_id, u.ali_secret = k.access_key_id, k.access_key_secret
        ali_remember(u.ali_secret, f"{kp.label}: Alibaba key of {u.name}")
    return u


# ---------------------------------------------------------------------------
# the SMC agent's registration endpoint (native, plain HTTP)
# ---------------------------------------------------------------------------

REGISTRATION_PATH = "/smc/v1/source-servers"


@dataclasses.dataclass
class Registration:
    status: int
    content_type: str | None
    body: bytes

    @property
    def doc(self) -> dict:
        return json.loads(self.body)

    @property
    def code(self) -> str | None:
        try:
            return self.doc.get("Code")
        except ValueError:
            return None


def register(port: int, token_id: str | None, token_code: str | None, body: Any = None,
             *, fingerprint: str | None = None, raw_body: bytes | None = None) -> Registration:
    headers = {"Content-Type": "application/json"}
    if token_id is not None:
        headers["X-Keyplane-Access-Token-Id"] = token_id
    if token_code is not None:
        headers["X-Keyplane-Access-Token-Code"] = token_code
        remember(token_code, "registration header")   # wrong codes included: harmless
    if raw_body is None:
        if body is None:
            fp = fingerprint or unique("fp-")
            body = {"name": unique("src"), "hostname": f"{fp}.example.internal", "os": "Linux",
                    "fingerprint": fp}
        raw_body = json.dumps(body).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", REGISTRATION_PATH, body=raw_body, headers=headers)
        r = conn.getresponse()
        return Registration(r.status, r.getheader("Content-Type"), r.read())
    finally:
        conn.close()


@contextlib.contextmanager
def tea_strings_to_sign():
    """Collect the strings to sign the tea SDK computes (ACS3: through its
    signature_method; RPC v1: through the hmac.new call in get_rpcsignature)."""
    import types
    from alibabacloud_tea_openapi import utils as tea_utils
    seen: list[str] = []
    original_method, original_hmac = tea_utils.signature_method, tea_utils.hmac

    def signature_method(secret, source, sign_type):
        seen.append(source)
        return original_method(secret, source, sign_type)

    def new(key, msg=None, digestmod=None):
        if msg is not None:
            seen.append(msg.decode("utf-8") if isinstance(msg, bytes) else msg)
        return original_hmac.new(key, msg, digestmod)

    tea_utils.signature_method = signature_method
    tea_utils.hmac = types.SimpleNamespace(new=new)
    try:
        yield seen
    finally:
        tea_utils.signature_method, tea_utils.hmac = original_method, original_hmac


SERVER_STS_MARKER = "server string to sign is:"


def server_string_to_sign(message: str) -> str:
    """The server's StringToSign from a SignatureDoesNotMatch message (the tea
    SDK wraps it in 'code: 400, <Message> request id: <id>')."""
    assert SERVER_STS_MARKER in message, f"no '{SERVER_STS_MARKER}' in {message!r}"
    return message.split(SERVER_STS_MARKER, 1)[1]
