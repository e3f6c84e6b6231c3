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

    ca.pem  ca-key.pem  server.pem  server-key.pem  ca-bundle.pem  .checked.json

Checking the certificates takes ``cryptography`` (:mod:`emulator.net.tls_issue`; its
import is about 0.1 s of CPU). A full check records what it found in ``.checked.json``
with the SHA-256 of the four PEM files; a later call whose files are byte for byte
the same and whose dates and names still hold decides from that record alone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib
import ipaddress
import json
import logging
import os
import ssl
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.loopback import LOOPBACK_NAMES

if sys.platform != "win32":
    import fcntl

if TYPE_CHECKING:  # imported when the files must be checked again (about 0.1 s)
    from .tls_issue import CertFacts, Host

_log = logging.getLogger(__name__)

RENEW_BEFORE = dt.timedelta(days=30)  # the server cert is reissued this long before it expires
_FALLBACK_ROOTS = Path("/etc/ssl/certs/ca-certificates.crt")
_CHECKED = ".checked.json"  # what the last full check found, for the files as they were then
_CHECKED_FORMAT = 1


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
        pems = {path: _read(path) for path in (m.ca_cert, m.ca_key, m.server_cert, m.server_key)}
        if not _still_good(directory / _CHECKED, pems, wanted, now):
            _renew(m, pems, wanted, now)
        for key_path in (m.ca_key, m.server_key):
            os.chmod(key_path, 0o600)
        bundle = m.ca_cert.read_bytes() + _system_roots(m.ca_bundle)
        if not m.ca_bundle.is_file() or m.ca_bundle.read_bytes() != bundle:
            _write(m.ca_bundle, bundle, 0o644)
    return m


def _renew(m: TlsMaterial, pems: dict[Path, bytes | None], wanted: list[Host], now: dt.datetime) -> None:
    """The full check (and any reissue) with ``cryptography``; records what it found."""
    from .tls_issue import PemPair, renew

    def pair(cert: Path, key: Path) -> PemPair | None:
        cert_pem, key_pem = pems[cert], pems[key]
        return None if cert_pem is None or key_pem is None else PemPair(cert_pem, key_pem)

    renewal = renew(pair(m.ca_cert, m.ca_key), pair(m.server_cert, m.server_key), wanted, now)
    if renewal.new_ca is not None:
        _write(m.ca_key, renewal.new_ca.key, 0o600)
        _write(m.ca_cert, renewal.new_ca.cert, 0o644)
        _log.info("created a new local CA: %s", m.ca_cert)
    if renewal.new_server is not None:
        _write(m.server_key, renewal.new_server.key, 0o600)
        _write(m.server_cert, renewal.new_server.cert, 0o644)
        _log.info("issued a server certificate for %s", ", ".join(renewal.facts.server_hosts))
    written = {path: _read(path) for path in pems}
    _write(m.directory / _CHECKED, _checked_record(written, renewal.facts), 0o644)


def _still_good(record_path: Path, pems: dict[Path, bytes | None], wanted: list[Host], now: dt.datetime) -> bool:
    """Whether the last full check's record (:func:`_checked_record`) is of these very
    files, and what it found still holds at ``now`` for ``wanted``: then neither
    certificate needs parsing. Any doubt (no record, another format, a changed file, a
    date or a name outside it) means the full check."""
    try:
        record: Any = json.loads(record_path.read_bytes())
        if record.get("format") != _CHECKED_FORMAT or record["sha256"] != _digests(pems):
            return False
        ca_from, ca_to, server_from, server_to = (
            dt.datetime.fromisoformat(record[field]) for field in
            ("ca_not_before", "ca_not_after", "server_not_before", "server_not_after")
        )  # fmt: skip
        hosts = set(record["server_hosts"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return False
    return (ca_from <= now < ca_to and server_from <= now and server_to - now > RENEW_BEFORE
            and {str(host) for host in wanted} <= hosts)


def _checked_record(pems: dict[Path, bytes | None], facts: CertFacts) -> bytes:
    record = {
        "format": _CHECKED_FORMAT, "sha256": _digests(pems),
        "ca_not_before": facts.ca_not_before.isoformat(), "ca_not_after": facts.ca_not_after.isoformat(),
        "server_not_before": facts.server_not_before.isoformat(),
        "server_not_after": facts.server_not_after.isoformat(),
        "server_hosts": list(facts.server_hosts),
    }
    return json.dumps(record, indent=1).encode()


def _digests(pems: dict[Path, bytes | None]) -> dict[str, str | None]:
    return {path.name: None if pem is None else hashlib.sha256(pem).hexdigest() for path, pem in pems.items()}


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _parse_hosts(hosts: Sequence[str]) -> list[Host]:
    parsed: list[Host] = []
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
