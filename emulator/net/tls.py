"""Local TLS material for wsgw: a private CA and a loopback server certificate.

Call :func:`ensure_tls_material` once at start-up, before opening the listening
socket (``wsgw run-local``, the pytest plugin, ``wsgw connect``).  The first call
creates a CA in the given directory; later calls reuse it (users may have imported it
into a browser) and reissue only the server certificate, when it is missing, does not
cover the requested host names, or expires within 30 days.  Then build contexts with
:func:`server_ssl_context` (the gateway's single port speaks ws/wss and http/https)
and :func:`client_ssl_context` (trusts the local CA and nothing else).  Handler workers
get ``AWS_CA_BUNDLE=<material.ca_bundle>``: the local CA followed by the system roots,
so boto3 reaches both the local gateway and real HTTPS endpoints.

Files (private keys 0600; the directory 0700 when created here)::

    ca.pem  ca-key.pem  server.pem  server-key.pem  ca-bundle.pem
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import ipaddress
import logging
import os
import ssl
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..core.loopback import LOOPBACK_NAMES

if sys.platform != "win32":
    import fcntl

_log = logging.getLogger(__name__)

CA_VALIDITY = dt.timedelta(days=3650)
SERVER_VALIDITY = dt.timedelta(days=397)  # browsers reject leaf certs valid > 398 days
RENEW_BEFORE = dt.timedelta(days=30)
_BACKDATE = dt.timedelta(hours=1)  # tolerate a little clock skew between machines/VMs
_FALLBACK_ROOTS = Path("/etc/ssl/certs/ca-certificates.crt")

_Host = Union[ipaddress.IPv4Address, ipaddress.IPv6Address, str]  # str: lower-case DNS name
_Pair = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


@dataclass(frozen=True)
class TlsMaterial:
    """Paths of the PEM files in one TLS directory (see the module docstring)."""

    directory: Path
    ca_cert: Path  # what users import into browsers / pass to curl/websocat --cacert
    ca_key: Path  # never print or log its contents
    server_cert: Path  # leaf only
    server_key: Path
    ca_bundle: Path  # local CA + system roots, for AWS_CA_BUNDLE of handler workers


def ensure_tls_material(
    directory: Path, hosts: Sequence[str] = LOOPBACK_NAMES
) -> TlsMaterial:
    """Create (first run) or reuse (later runs) the CA and server cert in ``directory``.

    The server cert is (re)issued when missing, unreadable, not signed by the current
    CA, not covering every name in ``hosts`` (DNS names and IP addresses), or expiring
    within 30 days; a reissued cert keeps the names the old one had.  A CA is replaced
    only when it is unusable (missing, unreadable, key mismatch, expired).  Safe to call
    from several processes at once (an flock serialises them on POSIX).
    """
    return _ensure(Path(directory), hosts, dt.datetime.now(dt.timezone.utc))


def server_ssl_context(material: TlsMaterial) -> ssl.SSLContext:
    """A server-side context (TLS 1.2+) with the server cert+key and ALPN http/1.1."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile=material.server_cert, keyfile=material.server_key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def client_ssl_context(material: TlsMaterial) -> ssl.SSLContext:
    """A client context that trusts only the local CA (hostname checks on, strict X.509)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED + check_hostname
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(cafile=material.ca_cert)
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _ensure(directory: Path, hosts: Sequence[str], now: dt.datetime) -> TlsMaterial:
    wanted = _parse_hosts(hosts)
    files = ("ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "ca-bundle.pem")
    m = TlsMaterial(directory, *(directory / name for name in files))
    if not directory.is_dir():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
    with _locked(directory / ".lock"):
        if sys.platform != "win32":  # under the lock, so no other writer is mid-write
            for stale in directory.glob(".*.tmp"):  # left by a crash in _write
                stale.unlink(missing_ok=True)
        ca = _load_pair(m.ca_cert, m.ca_key)
        if ca is None or not _ca_usable(ca[0], now):
            ca = _new_ca(now)
            _write(m.ca_key, _key_pem(ca[1]), 0o600)
            _write(m.ca_cert, ca[0].public_bytes(serialization.Encoding.PEM), 0o644)
            _log.info("created a new local CA: %s", m.ca_cert)
        leaf = _load_pair(m.server_cert, m.server_key)
        if leaf is None or not _leaf_ok(leaf[0], ca[0], wanted, now):
            names = list(wanted)
            if leaf is not None and _issued_by(leaf[0], ca[0]):
                names += [h for h in _san_hosts(leaf[0]) if h not in wanted]
            cert, key = _issue_server_cert(ca, names, now)
            _write(m.server_key, _key_pem(key), 0o600)
            _write(m.server_cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
            _log.info("issued a server certificate for %s", ", ".join(map(str, names)))
        for key_path in (m.ca_key, m.server_key):
            os.chmod(key_path, 0o600)
        bundle = m.ca_cert.read_bytes() + _system_roots(m.ca_bundle)
        if not m.ca_bundle.is_file() or m.ca_bundle.read_bytes() != bundle:
            _write(m.ca_bundle, bundle, 0o644)
    return m


def _parse_hosts(hosts: Sequence[str]) -> list[_Host]:
    parsed: list[_Host] = []
    for host in (hosts,) if isinstance(hosts, str) else hosts:  # a str is a Sequence[str]
        text = host.strip().strip("[]").rstrip(".")
        if not text:
            raise ValueError(f"not a host name: {host!r}")
        try:
            parsed.append(ipaddress.ip_address(text))
        except ValueError:
            parsed.append(text.encode("idna").decode("ascii").lower())
    if not parsed:
        raise ValueError("at least one host name is needed for the server certificate")
    return list(dict.fromkeys(parsed))


def _san_hosts(cert: x509.Certificate) -> list[_Host]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    dns: list[_Host] = [name.lower() for name in san.get_values_for_type(x509.DNSName)]
    ips: Iterable[object] = san.get_values_for_type(x509.IPAddress)
    return dns + [ip for ip in ips if isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address))]


def _load_pair(cert_path: Path, key_path: Path) -> _Pair | None:
    """The cert and its matching EC key, or None when either is missing or unusable."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.public_key() == cert.public_key():
        return cert, key
    return None


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


def _leaf_ok(
    cert: x509.Certificate, ca_cert: x509.Certificate, wanted: list[_Host], now: dt.datetime
) -> bool:
    if not _issued_by(cert, ca_cert):
        return False
    if not cert.not_valid_before_utc <= now or cert.not_valid_after_utc - now <= RENEW_BEFORE:
        return False
    return set(wanted) <= set(_san_hosts(cert))


def _new_ca(now: dt.datetime) -> _Pair:
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


def _issue_server_cert(
    ca: _Pair, hosts: Sequence[_Host], now: dt.datetime, validity: dt.timedelta = SERVER_VALIDITY
) -> _Pair:
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


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _system_roots(bundle: Path) -> bytes:
    """The system's trusted roots as PEM text (never our own bundle), or b"" if none."""
    paths = ssl.get_default_verify_paths()
    candidates = [paths.cafile, paths.openssl_cafile, str(_FALLBACK_ROOTS)]
    with contextlib.suppress(ImportError, AttributeError):
        candidates.append(str(importlib.import_module("certifi").where()))
    own = bundle.resolve()
    for candidate in candidates:
        if not candidate or Path(candidate).resolve() == own:
            continue
        with contextlib.suppress(OSError):
            return Path(candidate).read_bytes()
    return b""


def _write(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` atomically: a crash leaves the old file or the new one, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.chmod(tmp, mode)  # mkstemp made it 0600; set the final mode before writing
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if sys.platform != "win32":  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Serialise concurrent ensure calls (e.g. pytest-xdist workers) on one directory."""
    with open(lock_path, "a") as lock:
        if sys.platform != "win32":
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield
