"""A throw-away TLS identity for local https fakes (what a real server's certificate is).

`make_tls(folder)` writes a fresh self-signed certificate (no CA) for `127.0.0.1` and
`localhost` with its key as PEM files. Clients trust it as their only trust anchor:

- requests / MSAL read `REQUESTS_CA_BUNDLE` at each request;
- `ssl.create_default_context()` reads `SSL_CERT_FILE` when it is called. aiohttp's
  *default* context is built once at import time, so it ignores a later `SSL_CERT_FILE`:
  pass `ssl=tls.client_context()` (or a context made after the variable is set).
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TlsFiles:
    """The PEM files of one certificate and the server-side context that presents it."""

    cert_file: Path
    key_file: Path
    server: ssl.SSLContext = field(compare=False, repr=False)

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only this certificate."""
        return ssl.create_default_context(cafile=str(self.cert_file))

    def env(self) -> dict[str, str]:
        """The variables that make requests (MSAL) and new default SSL contexts trust it."""
        return {"SSL_CERT_FILE": str(self.cert_file), "REQUESTS_CA_BUNDLE": str(self.cert_file)}


def make_tls(
    folder: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"), days: int = 2
) -> TlsFiles:
    """Writes `cert.pem` and `key.pem` for `hosts` (IP addresses or DNS names) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, hosts[0]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Send test fakes"),
        ]
    )
    alt_names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file = folder / "cert.pem"
    key_file = folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(str(cert_file), str(key_file))
    return TlsFiles(cert_file, key_file, server)
