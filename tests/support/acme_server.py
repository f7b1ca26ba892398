"""A real ACME server for tests: Let's Encrypt's Pebble (Debian package ``pebble``).

Pebble (https://github.com/letsencrypt/pebble) is Let's Encrypt's small RFC 8555 test server:
same protocol as production Boulder (directory, nonces, accounts, orders, authorizations,
challenges, finalize, certificate download, ``badNonce`` rejections), with its own throw-away
root. Its DNS-01 validation asks the DNS server given by ``-dnsserver`` for the TXT record
``_acme-challenge.<name>``; here that is ``ZoneDns``, a tiny UDP DNS server that answers from
the Cloud DNS REST fake's records (``tests/support/fake_cloud_dns.py``), so a certificate is
only issued if the adapter really wrote the TXT value through the Cloud DNS API, as Let's
Encrypt only issues if the zone's authoritative servers serve it.

``PEBBLE_VA_NOSLEEP=1`` skips Pebble's random validation delay; ``PEBBLE_WFE_NONCEREJECT``
(default here 0) is the share of good nonces Pebble rejects as ``badNonce``.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from dnslib import QTYPE, RR, TXT, DNSRecord

from tests.support.fake_cloud_dns import FakeCloudDns
from tests.support.net import free_port
from tests.support.wait import wait_for

PEBBLE = shutil.which("pebble") or "/usr/bin/pebble"


def pebble_available() -> bool:
    return Path(PEBBLE).exists()


class ZoneDns:
    """UDP DNS answering TXT queries from the Cloud DNS fake's records (NXDOMAIN otherwise)."""

    def __init__(self, fake: FakeCloudDns) -> None:
        self.fake = fake
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.queries: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ZoneDns:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = DNSRecord.parse(data)
            except Exception:  # noqa: S112 - not DNS: dropped, as a real server would
                continue
            reply = query.reply()
            name = str(query.q.qname).lower()
            self.queries.append(f"{QTYPE[query.q.qtype]} {name}")
            values = self.fake.txt_records().get(name)
            if query.q.qtype == QTYPE.TXT and values:
                for value in values:
                    reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(value), ttl=60))
            elif not values:
                reply.header.rcode = 3  # NXDOMAIN
            self.sock.sendto(reply.pack(), peer)


@dataclass
class Pebble:
    directory_url: str
    ca_bundle: str  # verifies Pebble's HTTPS listener
    management_url: str
    dns: ZoneDns

    def roots_pem(self) -> str:
        """Pebble's issuing root (changes with every start), for chain checks."""
        context = ssl.create_default_context(cafile=self.ca_bundle)
        return httpx.get(f"{self.management_url}/roots/0", verify=context).text


def _listener_cert(directory: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pebble test listener")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "listener.pem", directory / "listener.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@contextmanager
def running_pebble(
    fake: FakeCloudDns, directory: Path, nonce_reject_percent: int = 0
) -> Iterator[Pebble]:
    """Start Pebble validating DNS-01 against ``fake``'s TXT records; stop it on exit."""
    cert, key = _listener_cert(directory)
    port, management = free_port(), free_port()
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{port}",
            "managementListenAddress": f"127.0.0.1:{management}",
            "certificate": cert,
            "privateKey": key,
            # Only used for http-01/tls-alpn-01, which these tests never answer.
            "httpPort": free_port(),
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            # Let's Encrypt's default profile: 90 days (https://letsencrypt.org/docs/faq/).
            "certificateValidityPeriod": 90 * 24 * 3600,
        }
    }
    config_path = directory / "pebble.json"
    config_path.write_text(json.dumps(config))
    env = {
        **os.environ,
        "PEBBLE_VA_NOSLEEP": "1",
        "PEBBLE_WFE_NONCEREJECT": str(nonce_reject_percent),
        "PEBBLE_AUTHZREUSE": "0",
    }
    with ZoneDns(fake) as dns:
        log = (directory / "pebble.log").open("wb")
        process = subprocess.Popen(
            [PEBBLE, "-config", str(config_path), "-dnsserver", dns.address],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        url = f"https://127.0.0.1:{port}/dir"
        context = ssl.create_default_context(cafile=cert)
        try:

            def up() -> bool:
                if process.poll() is not None:
                    raise RuntimeError((directory / "pebble.log").read_text()[-2000:])
                try:
                    return httpx.get(url, verify=context).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(up, timeout=30, message="pebble to serve its directory")
            yield Pebble(url, cert, f"https://127.0.0.1:{management}", dns)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


class RateLimitedAcme(BaseHTTPRequestHandler):
    """An ACME server at its rate limit, as Let's Encrypt answers then: directory, nonces and
    the account work; ``newOrder`` is HTTP 429 with a ``rateLimited`` problem document and
    ``Retry-After`` (RFC 8555 §6.7; https://letsencrypt.org/docs/rate-limits/, "When a rate
    limit is exceeded ... a 429 ... with a Retry-After header")."""

    orders = 0

    def _nonce(self) -> None:
        self.send_header(
            "Replay-Nonce", base64.urlsafe_b64encode(os.urandom(16)).decode().strip("=")
        )

    def _json(self, status: int, body: dict[str, object], kind: str = "application/json") -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self._nonce()
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in getattr(self, "_extra", {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._json(
            200,
            {
                "newNonce": f"{base}/nonce",
                "newAccount": f"{base}/account",
                "newOrder": f"{base}/order",
                "revokeCert": f"{base}/revoke",
                "keyChange": f"{base}/key",
            },
        )

    def do_HEAD(self) -> None:
        self.send_response(200)
        self._nonce()
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if self.path == "/account":
            self._extra = {"Location": f"{base}/acct/1"}
            self._json(201, {"status": "valid", "contact": []})
            return
        type(self).orders += 1
        self._extra = {"Retry-After": "3600"}
        self._json(
            429,
            {
                "type": "urn:ietf:params:acme:error:rateLimited",
                "detail": 'too many certificates (50) already issued for "example.com" in the'
                " last 168h0m0s, retry after 2026-12-09 00:00:00 UTC",
                "status": 429,
            },
            "application/problem+json",
        )

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def rate_limited_acme() -> Iterator[str]:
    """Serve ``RateLimitedAcme`` on loopback; yield its directory URL."""
    handler = type("Bound", (RateLimitedAcme,), {"orders": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/directory"
    finally:
        server.shutdown()
        server.server_close()
