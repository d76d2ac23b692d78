"""HTTPS: drivesd serving TLS from `http.tls.certificate` and `http.tls.key`, with a certificate
authority made for this test, and pycloudsigma (requests) trusting that authority only.

The authority and the server's certificate (for 127.0.0.1 and localhost) are made with the
`openssl` command line; requests takes the authority from REQUESTS_CA_BUNDLE, as a user behind
their own CA would set it.
"""
import os
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import _SESSION, launch, new_user


def openssl(*args, cwd):
    res = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, "openssl %s: %s" % (" ".join(args), res.stderr)


def make_certificates(workdir):
    """A CA, and a server certificate it signed for 127.0.0.1 and localhost: (ca, cert, key)."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=drivesd interop test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            cwd=workdir)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1", cwd=workdir)
    with open(os.path.join(workdir, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "server.ext", cwd=workdir)
    return tuple(os.path.join(workdir, name) for name in ("ca.pem", "server.pem", "server.key"))


@pytest.fixture(scope="module")
def tls_drivesd():
    workdir = tempfile.mkdtemp(prefix="tls-", dir=_SESSION["workdir"])
    ca, cert, key = make_certificates(workdir)
    config = os.path.join(workdir, "drivesd.yaml")
    with open(config, "w") as f:
        f.write("http:\n  tls:\n    certificate: %s\n    key: %s\n" % (cert, key))
    d = launch(workdir, "0", [new_user("tls")], config=config, tls_ca=ca)
    d.cert = cert
    yield d
    rc = d.stop()
    assert rc == 0, "drivesd exited with %r after SIGTERM; log:\n%s" % (rc, d.log_tail())


def test_serves_the_configured_certificate(tls_drivesd):
    served = ssl.get_server_certificate(("127.0.0.1", tls_drivesd.port))
    with open(tls_drivesd.cert) as f:
        configured = f.read()
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(configured)


def test_plain_http_gets_no_answer(tls_drivesd):
    """The port speaks TLS only: an HTTP request in the clear gets no HTTP answer."""
    with socket.create_connection(("127.0.0.1", tls_drivesd.port), timeout=10) as s:
        s.sendall(b"GET /_drivesd/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            reply = s.recv(4096)
        except ConnectionResetError:
            reply = b""
    assert not reply.startswith(b"HTTP/")


def test_a_client_without_the_authority_refuses_the_certificate(tls_drivesd):
    with pytest.raises(urllib.error.URLError) as caught:
        urllib.request.urlopen(tls_drivesd.base + "/_drivesd/health", timeout=10,
                               context=ssl.create_default_context())
    assert isinstance(caught.value.reason, ssl.SSLCertVerificationError)


def test_pycloudsigma_over_https(tls_drivesd, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_drivesd.tls_ca)
    import cloudsigma.resource as cr
    user = tls_drivesd.users[0]
    drives = cr.Drive(api_endpoint=tls_drivesd.api_endpoint, username=user.email, password=user.password)
    assert drives.c.api_endpoint.startswith("https://127.0.0.1:")
    created = drives.create({"name": "over-tls", "size": 1024 ** 3, "media": "disk"})
    assert created["status"] == "creating"
    deadline = time.time() + 30
    while drives.get(created["uuid"])["status"] != "unmounted":
        assert time.time() < deadline, "the drive never became unmounted"
        time.sleep(0.05)
    listed = [d["uuid"] for d in drives.list_detail()]
    assert created["uuid"] in listed
    got = drives.get(created["uuid"])
    assert got["name"] == "over-tls" and got["owner"]["uuid"] == user.uuid
