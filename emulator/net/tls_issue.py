"""Checking and issuing wsgw's local CA and server certificate (``cryptography``).

Pure: PEM bytes in, PEM bytes and facts out; :mod:`emulator.net.tls` reads and writes
the files. It is imported only when the files changed since they were last checked
(or were never checked): importing ``cryptography.x509`` costs about 0.1 s of CPU,
which every start of run-local and of the pytest plugin would otherwise pay.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .tls import RENEW_BEFORE

CA_VALIDITY = dt.timedelta(days=3650)
SERVER_VALIDITY = dt.timedelta(days=397)  # browsers reject leaf certs valid > 398 days
_BACKDATE = dt.timedelta(hours=1)  # tolerate a little clock skew between machines/VMs

Host = Union[ipaddress.IPv4Address, ipaddress.IPv6Address, str]  # str: lower-case DNS name
Pair = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


@dataclass(frozen=True)
class PemPair:
    """A certificate and its private key, as the files hold them."""

    cert: bytes
    key: bytes


@dataclass(frozen=True)
class CertFacts:
    """What a later start needs to know about the material without parsing it again."""

    ca_not_before: dt.datetime
    ca_not_after: dt.datetime
    server_not_before: dt.datetime
    server_not_after: dt.datetime
    server_hosts: tuple[str, ...]  # str() of each SAN: DNS names and IP addresses


@dataclass(frozen=True)
class Renewal:
    """The outcome of :func:`renew`: what to write (None: keep the file) and the facts."""

    new_ca: PemPair | None
    new_server: PemPair | None
    facts: CertFacts


def renew(ca: PemPair | None, server: PemPair | None, wanted: Sequence[Host], now: dt.datetime) -> Renewal:
    """Keep or replace the CA and the server certificate.

    The server cert is (re)issued when missing, unreadable, not signed by the current
    CA, not covering every name in ``wanted``, or expiring within 30 days; a reissued
    cert keeps the names the old one had. The CA is replaced only when it is unusable
    (missing, unreadable, key mismatch, not a CA, expired)."""
    ca_pair = load_pair(ca)
    new_ca = None
    if ca_pair is None or not _ca_usable(ca_pair[0], now):
        ca_pair = _new_ca(now)
        new_ca = to_pem(ca_pair)
    leaf = load_pair(server)
    new_server = None
    if leaf is None or not _leaf_ok(leaf[0], ca_pair[0], wanted, now):
        names = list(wanted)
        if leaf is not None and _issued_by(leaf[0], ca_pair[0]):
            names += [h for h in san_hosts(leaf[0]) if h not in wanted]
        leaf = issue_server_cert(ca_pair, names, now)
        new_server = to_pem(leaf)
    facts = CertFacts(
        ca_pair[0].not_valid_before_utc, ca_pair[0].not_valid_after_utc,
        leaf[0].not_valid_before_utc, leaf[0].not_valid_after_utc,
        tuple(str(h) for h in san_hosts(leaf[0])),
    )
    return Renewal(new_ca, new_server, facts)


def load_pair(pem: PemPair | None) -> Pair | None:
    """The cert and its matching EC key, or None when either is missing or unusable."""
    if pem is None:
        return None
    try:
        cert = x509.load_pem_x509_certificate(pem.cert)
        key = serialization.load_pem_private_key(pem.key, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.public_key() == cert.public_key():
        return cert, key
    return None


def san_hosts(cert: x509.Certificate) -> list[Host]:
    """The DNS names (lower case) and IP addresses a certificate covers."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    dns: list[Host] = [name.lower() for name in san.get_values_for_type(x509.DNSName)]
    ips: Iterable[object] = san.get_values_for_type(x509.IPAddress)
    return dns + [ip for ip in ips if isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address))]


def _ca_usable(cert: x509.Certificate, now: dt.datetime) -> bool:
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return is_ca and cert.not_valid_before_utc <= now < cert.not_valid_after_utc


def _issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _leaf_ok(cert: x509.Certificate, ca_cert: x509.Certificate, wanted: Sequence[Host], now: dt.datetime) -> bool:
    if not _issued_by(cert, ca_cert):
        return False
    if not cert.not_valid_before_utc <= now or cert.not_valid_after_utc - now <= RENEW_BEFORE:
        return False
    return set(wanted) <= set(san_hosts(cert))


def _new_ca(now: dt.datetime) -> Pair:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "wsgw local CA"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wsgw (local development only)"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"created {now:%Y-%m-%d %H:%M:%S} UTC"),
    ])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now - _BACKDATE + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue_server_cert(
    ca: Pair, hosts: Sequence[Host], now: dt.datetime, validity: dt.timedelta = SERVER_VALIDITY
) -> Pair:
    """A fresh key and a leaf cert for ``hosts`` signed by ``ca``, valid from ``now`` (minus
    a little skew) for ``validity``, but never beyond the CA's own expiry."""
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [
        x509.DNSName(h) if isinstance(h, str) else x509.IPAddress(h) for h in hosts
    ]
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())  # == CA's SKI
    not_before = now - _BACKDATE
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wsgw local gateway")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(min(not_before + validity, ca_cert.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(aki, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    unused = ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement")
    return x509.KeyUsage(
        digital_signature=not cert_sign, key_cert_sign=cert_sign, crl_sign=cert_sign,
        encipher_only=False, decipher_only=False, **dict.fromkeys(unused, False),
    )


def to_pem(pair: Pair) -> PemPair:
    cert, key = pair
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return PemPair(cert.public_bytes(serialization.Encoding.PEM), key_pem)
