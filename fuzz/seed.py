#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets, fuzz/corpus/<target>/<sha1>, from vectors/.

Every captured request of vectors/*.json becomes a seed of the request targets of its cloud,
in the fuzz crate's request layout (fuzz/src/lib.rs): "METHOD TARGET", one "Name: value" line
per header, a blank line, the body. Its query or body is also a seed of the parameter targets;
Alibaba answers (minus RequestId) are seeds of the rendering target. The targets that no
captured request reaches (policy documents, command templates, terminal control frames) get
the handwritten seeds below. Files are named by the SHA-1 of their content, as libFuzzer names
them, so running this twice changes nothing; seeds the fuzzer added or that were kept as
regression inputs stay.

Usage: python3 fuzz/seed.py [VECTORS_DIR] [CORPUS_DIR]
"""

import base64
import hashlib
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

TENCENT_REQUEST_TARGETS = ["tencent_envelope", "tc3_authorization", "tencent_v1"]
ALIBABA_REQUEST_TARGETS = ["aliyun_envelope", "acs3", "rpc_v1", "roa_v1"]

POLICY_DOCUMENTS = [
    # RAM syntax (first byte even).
    (b"R", {"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "ram:List*", "Resource": "*"}]}),
    (b"R", {"Version": "1", "Statement": [
        {"Effect": "Deny", "Action": ["ims:CreateAccessKey", "ims:DeleteAccessKey"],
         "Resource": "acs:ram::*:user/*",
         "Condition": {"IpAddress": {"acs:SourceIp": ["192.0.2.0/24"]},
                       "Bool": {"acs:SecureTransport": "true"}}},
        {"Effect": "Allow", "NotAction": "ram:*", "NotResource": "acs:ram::1234:user/${UserName}"}]}),
    (b"R", {"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "eas:CreateServiceInstanceToken",
         "Resource": "acs:eas:cn-hangzhou:*:services/demo*",
         "Condition": {"DateLessThan": {"acs:CurrentTime": "2030-01-01T00:00:00Z"},
                       "StringLike": {"acs:ResourceTag/env": "prod*"}}}]}),
    # CAM syntax (first byte odd).
    (b"C", {"version": "2.0", "statement": [
        {"effect": "allow", "action": "cam:ListAccessKeys", "resource": "*"}]}),
    (b"C", {"version": "2.0", "statement": [
        {"effect": "Deny", "action": ["name/cam:DeleteUser", "apigateway:*"],
         "resource": ["qcs::cam::uin/100000000001:uin/*"],
         "condition": {"ip_equal": {"qcs:ip": ["198.51.100.7"]},
                       "date_not_greater_than": {"qcs:current_time": "2030-01-01T00:00:00Z"}}},
        {"effect": "allow", "not_action": "cam:*", "not_resource": "qcs::apigateway:ap-guangzhou::*"}]}),
]

COMMAND_TEMPLATES = [
    "kubectl exec -it {instance} -c {worker} -- /bin/sh",
    "kubectl logs -f {instance} -c {worker} --namespace {cluster}-{service}",
    "ssh -t worker@{instance}.{cluster}.internal 'docker exec -it {worker} sh'",
    "sh -c \"echo {{literal}} \\\"$HOME\\\"; exec bash\" '' \"\"",
    "/usr/bin/env LANG=C.UTF-8 \\ program\\ with\\ spaces {service}",
]

TERMINAL_FRAMES = [
    b"ls -la\r",
    "\u001e{\"type\":\"resize\",\"cols\":120,\"rows\":40}".encode(),
    "\u001e{\"type\":\"resize\",\"cols\":0,\"rows\":65535}".encode(),
    "\u001e{\"rows\":24,\"cols\":80,\"type\":\"resize\"}".encode(),
    "\u001e{\"type\":\"paste\",\"data\":\"x\"}".encode(),
    "\u00e9\u4e2d\u001e\u0003".encode(),
]


def request_bytes(request):
    """A captured request in the fuzz crate's request layout."""
    head = f"{request['method']} {request['target']}\n"
    head += "".join(f"{name}: {value}\n" for name, value in request["headers"])
    body = base64.b64decode(request.get("body_base64") or "")
    if not body and request.get("body"):
        body = request["body"].encode()
    return head.encode() + b"\n" + body


def write(corpus, target, data, written):
    directory = corpus / target
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / hashlib.sha1(data).hexdigest()
    if not path.exists():
        path.write_bytes(data)
    written[target] = written.get(target, 0) + 1


def main():
    vectors = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "vectors"
    corpus = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "fuzz" / "corpus"
    written = {}
    for path in sorted(vectors.glob("*.json")):
        vector = json.loads(path.read_text())
        cloud = vector.get("cloud")
        request = vector.get("request")
        if request:
            data = request_bytes(request)
            targets = TENCENT_REQUEST_TARGETS if cloud == "tencent" else ALIBABA_REQUEST_TARGETS
            for target in targets:
                write(corpus, target, data, written)
            if cloud == "tencent":
                parameters = data.split(b"\n\n", 1)[1] or request["query"].encode()
                write(corpus, "tencent_params", parameters, written)
        answers = [vector.get("response_given") or {}]
        answers += vector.get("experiments") or []
        for answer in answers:
            body = answer.get("body")
            if cloud == "alibaba" and isinstance(body, dict):
                fields = {name: value for name, value in body.items() if name != "RequestId"}
                write(corpus, "aliyun_render", json.dumps(fields).encode(), written)
    for selector, document in POLICY_DOCUMENTS:
        write(corpus, "policy_document", selector + json.dumps(document).encode(), written)
    for template in COMMAND_TEMPLATES:
        write(corpus, "command_template", template.encode(), written)
    for frame in TERMINAL_FRAMES:
        write(corpus, "terminal_control", frame, written)
    summary = ", ".join(f"{target} {count}" for target, count in sorted(written.items()))
    print(f"seeds written to {corpus}: {summary}")


if __name__ == "__main__":
    main()
