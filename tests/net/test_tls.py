"""emulator.net.tls: local CA + server cert on disk, and real TLS handshakes on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import ipaddress
import json
import os
import socket
import ssl
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from emulator.net import tls, tls_issue
from emulator.net.tls import TlsMaterial, client_ssl_context, ensure_tls_material, server_ssl_context


@pytest.fixture(autouse=True)
def _no_aws_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    # These machines export AWS_CA_BUNDLE globally; nothing here may lean on it.
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)


@pytest.fixture
def material(tmp_path: Path) -> TlsMaterial:
    return ensure_tls_material(tmp_path / "tls")


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _sans(path: Path) -> tuple[set[str], set[object]]:
    san = _cert(path).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)), set(san.get_values_for_type(x509.IPAddress))


def _load_pair(cert: Path, key: Path) -> tls_issue.Pair | None:
    return tls_issue.load_pair(tls_issue.PemPair(cert.read_bytes(), key.read_bytes()))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def _handshake(
    server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, host: str, server_hostname: str
) -> tuple[bytes, str | None]:
    """Serve one TLS connection on ``host`` (loopback), connect, return (payload, ALPN)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, host, 0, ssl=server_ctx)
    try:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=client_ctx, server_hostname=server_hostname), 10
        )
        try:
            data = await asyncio.wait_for(reader.read(5), 10)
            alpn = writer.get_extra_info("ssl_object").selected_alpn_protocol()
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ssl.SSLError, ConnectionError):
                pass
        return data, alpn
    finally:
        server.close()
        await server.wait_closed()


def _ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_first_call_creates_everything_with_private_modes(tmp_path: Path) -> None:
    directory = tmp_path / "nested" / "tls"
    m = ensure_tls_material(directory)

    assert m.directory == directory
    for path in (m.ca_cert, m.ca_key, m.server_cert, m.server_key, m.ca_bundle):
        assert path.parent == directory and path.is_file() and path.stat().st_size > 0
    assert _mode(directory) == 0o700
    assert _mode(m.ca_key) == 0o600
    assert _mode(m.server_key) == 0o600
    assert not list(directory.glob("*.tmp")) and not list(directory.glob(".*.tmp"))

    bundle = m.ca_bundle.read_bytes()
    assert bundle.startswith(m.ca_cert.read_bytes())
    assert b"PRIVATE KEY" not in bundle
    assert m.ca_key.read_bytes() not in bundle


def test_certificates_have_the_promised_shape(material: TlsMaterial) -> None:
    ca, leaf = _cert(material.ca_cert), _cert(material.server_cert)

    assert [a.value for a in ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["wsgw local CA"]
    assert ca.issuer == ca.subject
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign
    assert ca.not_valid_after_utc - ca.not_valid_before_utc >= dt.timedelta(days=3649)

    assert [a.value for a in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["wsgw local gateway"]
    assert leaf.issuer == ca.subject
    leaf.verify_directly_issued_by(ca)
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc <= dt.timedelta(days=397)
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)

    dns, ips = _sans(material.server_cert)
    assert dns == {"localhost"}
    assert ips == {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}


def test_second_call_reuses_ca_and_server_cert(material: TlsMaterial) -> None:
    before = {p: p.read_bytes() for p in (material.ca_cert, material.ca_key, material.server_cert, material.server_key)}

    again = ensure_tls_material(material.directory)

    assert again == material
    assert {p: p.read_bytes() for p in before} == before


_IMPORTS_CRYPTOGRAPHY = """
import sys
from pathlib import Path
from emulator.net.tls import ensure_tls_material
ensure_tls_material(Path(sys.argv[1]), sys.argv[2:] or ("localhost", "127.0.0.1", "::1"))
print("cryptography" in sys.modules)
"""


def _start_imports_cryptography(directory: Path, *hosts: str) -> bool:
    """Whether a new process's ensure_tls_material call needed cryptography."""
    done = subprocess.run([sys.executable, "-c", _IMPORTS_CRYPTOGRAPHY, str(directory), *hosts],
                          capture_output=True, text=True, check=True, timeout=60)
    return {"True": True, "False": False}[done.stdout.strip()]


def test_a_start_with_the_checked_files_skips_cryptography(tmp_path: Path) -> None:
    directory = tmp_path / "tls"
    assert _start_imports_cryptography(directory)  # creates the CA and the cert
    assert not _start_imports_cryptography(directory)
    # A name the certificate does not cover needs the full check (and a new cert)...
    assert _start_imports_cryptography(directory, "localhost", "wsgw.test")
    assert "wsgw.test" in _sans(directory / "server.pem")[0]
    # ...after which the record knows it, and the default names are a subset of it.
    assert not _start_imports_cryptography(directory, "wsgw.test")
    assert not _start_imports_cryptography(directory)


def test_the_record_holds_the_files_digests_and_what_the_check_found(material: TlsMaterial) -> None:
    record = json.loads((material.directory / ".checked.json").read_text())
    for path in (material.ca_cert, material.ca_key, material.server_cert, material.server_key):
        assert record["sha256"][path.name] == hashlib.sha256(path.read_bytes()).hexdigest()
    leaf = _cert(material.server_cert)
    assert dt.datetime.fromisoformat(record["server_not_after"]) == leaf.not_valid_after_utc
    assert dt.datetime.fromisoformat(record["ca_not_after"]) == _cert(material.ca_cert).not_valid_after_utc
    assert set(record["server_hosts"]) == {"localhost", "127.0.0.1", "::1"}


@pytest.mark.parametrize("damage", ["garbage", "missing", "other format", "a key changed"])
def test_a_record_in_doubt_means_the_full_check(material: TlsMaterial, damage: str) -> None:
    record_path = material.directory / ".checked.json"
    if damage == "garbage":
        record_path.write_text("{not json")
    elif damage == "missing":
        record_path.unlink()
    elif damage == "other format":
        record_path.write_text(json.dumps({**json.loads(record_path.read_text()), "format": 99}))
    else:  # a valid server cert planted after the check: its digest differs from the record's
        _plant_server_cert(material, dt.datetime.now(dt.timezone.utc), dt.timedelta(days=10))
    assert _start_imports_cryptography(material.directory)
    record = json.loads(record_path.read_text())
    assert record["format"] == 1
    assert record["sha256"]["server.pem"] == hashlib.sha256(material.server_cert.read_bytes()).hexdigest()
    # The planted cert expired within 30 days, so the full check replaced it.
    assert _cert(material.server_cert).not_valid_after_utc - dt.datetime.now(dt.timezone.utc) > dt.timedelta(days=300)


def test_extra_host_reissues_server_cert_but_keeps_ca(material: TlsMaterial) -> None:
    ca_cert, ca_key = material.ca_cert.read_bytes(), material.ca_key.read_bytes()
    old_leaf = material.server_cert.read_bytes()

    m = ensure_tls_material(material.directory, ("localhost", "127.0.0.1", "::1", "WSGW.test"))

    assert m.server_cert.read_bytes() != old_leaf
    assert m.ca_cert.read_bytes() == ca_cert and m.ca_key.read_bytes() == ca_key
    dns, ips = _sans(m.server_cert)
    assert dns == {"localhost", "wsgw.test"}
    assert ips == {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    assert _mode(m.server_key) == 0o600

    # The default host list is a subset now: no flapping back and forth.
    reissued = m.server_cert.read_bytes()
    ensure_tls_material(material.directory)
    assert m.server_cert.read_bytes() == reissued


def test_a_new_ip_host_becomes_an_ip_san(material: TlsMaterial) -> None:
    ensure_tls_material(material.directory, ["127.0.0.2"])
    dns, ips = _sans(material.server_cert)
    assert ipaddress.ip_address("127.0.0.2") in ips
    assert "127.0.0.2" not in dns


def test_bad_hosts_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ensure_tls_material(tmp_path / "tls", [""])
    with pytest.raises(ValueError):
        ensure_tls_material(tmp_path / "tls", [])


@pytest.mark.asyncio
async def test_handshake_by_name_and_by_ip(material: TlsMaterial) -> None:
    server_ctx, client_ctx = server_ssl_context(material), client_ssl_context(material)

    assert await _handshake(server_ctx, client_ctx, "127.0.0.1", "localhost") == (b"hello", "http/1.1")
    assert await _handshake(server_ctx, client_ctx, "127.0.0.1", "127.0.0.1") == (b"hello", "http/1.1")


@pytest.mark.asyncio
@pytest.mark.skipif(not _ipv6_loopback_available(), reason="no IPv6 loopback here")
async def test_handshake_over_ipv6_loopback(material: TlsMaterial) -> None:
    result = await _handshake(server_ssl_context(material), client_ssl_context(material), "::1", "::1")
    assert result == (b"hello", "http/1.1")


@pytest.mark.asyncio
async def test_hostname_not_in_cert_is_refused(material: TlsMaterial) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(server_ssl_context(material), client_ssl_context(material), "127.0.0.1", "example.com")


@pytest.mark.asyncio
async def test_system_roots_alone_do_not_trust_our_server(material: TlsMaterial) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(server_ssl_context(material), ssl.create_default_context(), "127.0.0.1", "localhost")


@pytest.mark.asyncio
async def test_ca_bundle_verifies_our_server(material: TlsMaterial) -> None:
    client_ctx = ssl.create_default_context(cafile=str(material.ca_bundle))
    data, _alpn = await _handshake(server_ssl_context(material), client_ctx, "127.0.0.1", "localhost")
    assert data == b"hello"


def test_ca_bundle_also_holds_system_roots(material: TlsMaterial) -> None:
    paths = ssl.get_default_verify_paths()
    system = next(
        (Path(p) for p in (paths.cafile, paths.openssl_cafile, str(tls._FALLBACK_ROOTS)) if p and os.path.isfile(p)),
        None,
    )
    if system is None:
        pytest.skip("no system root store on this machine")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(material.ca_bundle))
    assert ctx.cert_store_stats()["x509_ca"] > 1
    assert material.ca_bundle.read_bytes() == material.ca_cert.read_bytes() + system.read_bytes()


def _ca_pair(m: TlsMaterial) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = serialization.load_pem_private_key(m.ca_key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return _cert(m.ca_cert), key


def _plant_server_cert(m: TlsMaterial, now: dt.datetime, validity: dt.timedelta) -> bytes:
    pair = tls_issue.issue_server_cert(_ca_pair(m), tls._parse_hosts(["localhost", "127.0.0.1", "::1"]), now, validity)
    pem = tls_issue.to_pem(pair)
    m.server_key.write_bytes(pem.key)
    m.server_cert.write_bytes(pem.cert)
    return pem.cert


@pytest.mark.parametrize("days_left", [10, 29])
def test_server_cert_near_expiry_is_reissued(material: TlsMaterial, days_left: int) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    planted = _plant_server_cert(material, now, dt.timedelta(days=days_left, hours=1))
    ca_before = material.ca_cert.read_bytes()

    ensure_tls_material(material.directory)

    assert material.server_cert.read_bytes() != planted
    assert material.ca_cert.read_bytes() == ca_before
    assert _cert(material.server_cert).not_valid_after_utc - now > dt.timedelta(days=390)


def test_server_cert_with_time_to_spare_is_kept(material: TlsMaterial) -> None:
    planted = _plant_server_cert(material, dt.datetime.now(dt.timezone.utc), dt.timedelta(days=60))
    ensure_tls_material(material.directory)
    assert material.server_cert.read_bytes() == planted


@pytest.mark.asyncio
async def test_expired_server_cert_is_reissued_and_then_handshakes(material: TlsMaterial) -> None:
    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
    planted = _plant_server_cert(material, long_ago, dt.timedelta(days=2))
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(server_ssl_context(material), client_ssl_context(material), "127.0.0.1", "localhost")

    ensure_tls_material(material.directory)

    assert material.server_cert.read_bytes() != planted
    result = await _handshake(server_ssl_context(material), client_ssl_context(material), "127.0.0.1", "localhost")
    assert result == (b"hello", "http/1.1")


def test_clock_moving_forward_past_the_renewal_window_reissues(material: TlsMaterial) -> None:
    ca, leaf = material.ca_cert.read_bytes(), material.server_cert.read_bytes()
    in_a_year = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=370)

    tls._ensure(material.directory, ("localhost",), in_a_year)

    assert material.server_cert.read_bytes() != leaf
    assert material.ca_cert.read_bytes() == ca  # a 10-year CA is still valid in a year


def test_corrupt_server_key_is_replaced_ca_kept(material: TlsMaterial) -> None:
    ca = material.ca_cert.read_bytes()
    material.server_key.write_bytes(b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")

    ensure_tls_material(material.directory)

    assert material.ca_cert.read_bytes() == ca
    assert _load_pair(material.server_cert, material.server_key) is not None


def test_unusable_ca_is_replaced_and_server_cert_follows(material: TlsMaterial) -> None:
    old_ca = _cert(material.ca_cert)
    material.ca_key.unlink()

    ensure_tls_material(material.directory)

    new_ca = _cert(material.ca_cert)
    assert new_ca.public_key() != old_ca.public_key()
    assert _mode(material.ca_key) == 0o600
    _cert(material.server_cert).verify_directly_issued_by(new_ca)
    assert material.ca_bundle.read_bytes().startswith(material.ca_cert.read_bytes())


def test_existing_directory_keys_get_tightened(material: TlsMaterial) -> None:
    os.chmod(material.server_key, 0o644)
    ensure_tls_material(material.directory)
    assert _mode(material.server_key) == 0o600


def test_concurrent_first_calls_agree_on_one_ca(tmp_path: Path) -> None:
    directory = tmp_path / "tls"
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: ensure_tls_material(directory), range(8)))

    m = results[0]
    ca_pair = _load_pair(m.ca_cert, m.ca_key)
    leaf_pair = _load_pair(m.server_cert, m.server_key)
    assert ca_pair is not None and leaf_pair is not None  # every cert matches its key
    leaf_pair[0].verify_directly_issued_by(ca_pair[0])
    assert m.ca_bundle.read_bytes().startswith(m.ca_cert.read_bytes())
    assert not list(directory.glob(".*.tmp"))
