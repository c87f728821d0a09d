"""A local certificate authority for ``shardflow serve --tls``.

Clients that speak HTTP/2 only over TLS (the AWS SDK for Java's SubscribeToShard, for one) need
an https endpoint whose certificate they trust. ``--tls`` makes a small CA once and a server
certificate signed by it for the loopback names, kept in the data dir so the trust survives
restarts; a client trusts ``ca.pem`` (AWS_CA_BUNDLE, NODE_EXTRA_CA_CERTS, a Java truststore).
A CA plus a leaf, not one self-signed leaf: every TLS stack accepts a trusted CA, while a
self-signed leaf used as its own anchor is refused by some.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "ca.pem"
CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
VALID_DAYS = 825  # the longest validity Apple's and browsers' TLS policies accept for a leaf
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsFiles:
    cert: Path  # the server's certificate (PEM)
    key: Path  # its private key (PEM, unencrypted, mode 0600)
    ca: Path | None  # the CA clients should trust; None for a certificate the user brought


def local_ca_files(directory: Path, host: str) -> TlsFiles:
    """The CA and server certificate in ``directory``, made on first use for ``host``.

    An existing pair is reused only while it still names ``host``; otherwise a new server
    certificate is signed by the same CA, so clients keep trusting it.
    """
    ca = directory / CA_FILE
    files = TlsFiles(directory / CERT_FILE, directory / KEY_FILE, ca)
    names = _names(host)
    made = files.cert.exists() and files.key.exists() and ca.exists()
    if made and _still_serves(files.cert.read_bytes(), names):
        return files
    directory.mkdir(parents=True, exist_ok=True)
    _issue(directory, sorted(names))
    return files


def _names(host: str) -> set[str]:
    """The names a client may use for this server: the loopback names and the bound host."""
    names = set(LOOPBACK_NAMES)
    if host not in ("0.0.0.0", "::", ""):
        names.add(host)
    return names


def _still_serves(pem: bytes, names: set[str]) -> bool:
    """Whether a certificate names every one of ``names`` and is valid for another day."""
    cert = x509.load_pem_x509_certificate(pem)
    tomorrow = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    if cert.not_valid_after_utc < tomorrow:
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    named = set(san.get_values_for_type(x509.DNSName))
    named |= {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return names <= named


def _issue(directory: Path, names: list[str]) -> None:
    now = datetime.datetime.now(datetime.UTC)
    ca_path, ca_key_path = directory / CA_FILE, directory / "ca-key.pem"
    if ca_path.exists() and ca_key_path.exists():
        ca_cert = x509.load_pem_x509_certificate(ca_path.read_bytes())
        loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        ca_key = loaded
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Shardflow local CA")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_CA_KEY_USAGE, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(ca_key_path, _pem_key(ca_key))
        ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))

    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(directory / KEY_FILE, _pem_key(key))
    (directory / CERT_FILE).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
