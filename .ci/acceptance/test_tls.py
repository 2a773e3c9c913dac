"""Native TLS (`keyplane serve --tls-cert --tls-key`) with the official SDKs over https://.

A test certificate authority and a server certificate for 127.0.0.1 are made at run time
with the `cryptography` package (pinned in requirements.txt). The Tencent Python SDK is
given the CA through HttpProfile(certification=...), the Alibaba tea SDK through
Config(ca=...): both verify the server's certificate as they would a cloud's.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl

import pytest
from alibabacloud_ims20190815 import models as ims_models
from alibabacloud_ims20190815.client import Client as ImsClient
from alibabacloud_tea_openapi import models as open_api_models
from tencentcloud.cam.v20190116 import cam_client
from tencentcloud.cam.v20190116 import models as cam
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

import aliyun_harness
import harness
from harness import Deployment, mk


def _make_pki(directory):
    """(ca.pem, server.crt, server.key) paths: a CA and a 127.0.0.1 certificate it signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Keyplane acceptance CA")])
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    ca_path = directory / "ca.pem"
    cert_path = directory / "server.crt"
    key_path = directory / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


@pytest.fixture(scope="module")
def tls_kp(keyplane_binary, tmp_path_factory):
    ca, cert, key = _make_pki(tmp_path_factory.mktemp("pki"))
    d = Deployment("tls", ["--tls-cert", str(cert), "--tls-key", str(key)])
    d.do_init()
    d.start()
    assert d.scheme == "https"
    yield d, str(ca)
    d.stop()


def _tencent_cam(d, ca):
    http_profile = HttpProfile(endpoint=f"127.0.0.1:{d.port}", protocol="https", reqTimeout=30,
                               certification=ca)
    return cam_client.CamClient(harness.credential(*d.root_cred()), "",
                                ClientProfile(httpProfile=http_profile))


def test_tencent_python_sdk_over_https(tls_kp):
    d, ca = tls_kp
    client = _tencent_cam(d, ca)
    listed = client.ListAccessKeys(mk(cam.ListAccessKeysRequest))
    assert any(k.AccessKeyId == d.init.secret_id for k in listed.AccessKeys)
    u = d.user_create()
    created = client.CreateAccessKey(mk(cam.CreateAccessKeyRequest, TargetUin=u.uin))
    harness.remember(created.AccessKey.SecretAccessKey, "tls: key of a sub-user")
    assert created.AccessKey.AccessKeyId.startswith("AKID")


def test_tencent_python_sdk_refuses_a_certificate_it_does_not_trust(tls_kp):
    d, _ = tls_kp
    http_profile = HttpProfile(endpoint=f"127.0.0.1:{d.port}", protocol="https", reqTimeout=30)
    client = cam_client.CamClient(harness.credential(*d.root_cred()), "",
                                  ClientProfile(httpProfile=http_profile))
    with pytest.raises(TencentCloudSDKException):
        client.ListAccessKeys(mk(cam.ListAccessKeysRequest))


def test_alibaba_tea_sdk_over_https(tls_kp):
    d, ca = tls_kp
    config = open_api_models.Config(access_key_id=d.init.aliyun_id,
                                    access_key_secret=d.init.aliyun_secret,
                                    endpoint=f"127.0.0.1:{d.port}", protocol="https", ca=ca,
                                    region_id=aliyun_harness.REGION, read_timeout=30000,
                                    connect_timeout=10000)
    client = ImsClient(config)
    u = d.user_create()
    created = client.create_access_key(
        ims_models.CreateAccessKeyRequest(user_principal_name=u.principal))
    assert created.status_code == 200
    aliyun_harness.ali_remember(created.body.access_key.access_key_secret, "tls: IMS key")
    listed = client.list_access_keys(
        ims_models.ListAccessKeysRequest(user_principal_name=u.principal))
    ids = [k.access_key_id for k in listed.body.access_keys.access_key]
    assert ids == [created.body.access_key.access_key_id]


def test_plain_http_to_the_tls_port_is_refused_cleanly(tls_kp):
    d, ca = tls_kp
    with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        try:
            while chunk := s.recv(4096):
                received += chunk
        except ConnectionResetError:
            pass
    assert not received.startswith(b"HTTP/1.1 200")
    # ... and the server still answers over TLS.
    context = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", d.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
