"""Host certificates checked against @cert-authority lines (transport.hostcert), on
certificates made by the real ssh-keygen: no host, no socket."""

from __future__ import annotations

import base64
import subprocess
import time
from pathlib import Path

import pytest

from runbook.transport.hostcert import FOREVER, HostCertificateRefused, check, parse
from runbook.transport.known_hosts import load

ENTRY = "[web.example.com]:2222"


def _keygen(tmp_path: Path, name: str, kind: str = "ed25519") -> Path:
    path = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
    return path


def _public(path: Path) -> str:
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


def _cert(
    tmp_path: Path,
    ca: Path,
    *,
    names: str = "web.example.com",
    validity: str = "always:forever",
    host: bool = True,
) -> bytes:
    key = tmp_path / "host"
    if not key.exists():
        _keygen(tmp_path, "host")
    options = ["-h"] if host else []
    subprocess.run(
        ["ssh-keygen", "-q", "-s", str(ca), *options, "-I", "id", "-n", names, "-V", validity,
         str(key.with_suffix(".pub"))],
        check=True,
    )  # fmt: skip
    text = (tmp_path / "host-cert.pub").read_text().split()
    return base64.b64decode(text[1])


def _known(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_a_certificate_from_the_trusted_ca_for_the_host_holds(tmp_path: Path, kind: str) -> None:
    ca = _keygen(tmp_path, "ca", kind)
    blob = _cert(tmp_path, ca, names="*.example.com")
    known = load([str(_known(tmp_path, f"@cert-authority [*.example.com]:* {_public(ca)}"))])
    cert = check(blob, known, ENTRY)
    assert cert.principals == ("*.example.com",) and cert.valid_before == FOREVER


def _refusal(blob: bytes, known_lines: tuple[str, ...], tmp_path: Path) -> HostCertificateRefused:
    known = load([str(_known(tmp_path, *known_lines))])
    with pytest.raises(HostCertificateRefused) as info:
        check(blob, known, ENTRY)
    return info.value


def test_another_ca_wrong_names_expiry_user_certificates_and_revoked_cas_are_refused(
    tmp_path: Path,
) -> None:
    ca, other = _keygen(tmp_path, "ca"), _keygen(tmp_path, "other")
    trust = (f"# comment\n@cert-authority [web.example.com]:* {_public(ca)}",)
    refused = _refusal(_cert(tmp_path, other), trust, tmp_path)
    assert "which no @cert-authority line" in refused.reason
    assert [m.line for m in refused.lines] == [2]
    refused = _refusal(_cert(tmp_path, ca, names="db.example.com"), trust, tmp_path)
    assert "(db.example.com) do not name web.example.com" in refused.reason
    refused = _refusal(_cert(tmp_path, ca, validity="20200101:20200102"), trust, tmp_path)
    assert "expired at 2020-01-02 00:00:00 UTC" in refused.reason
    refused = _refusal(_cert(tmp_path, ca, validity="+52w:+53w"), trust, tmp_path)
    assert "not valid before" in refused.reason
    refused = _refusal(_cert(tmp_path, ca, host=False), trust, tmp_path)
    assert "user certificate" in refused.reason
    revoked = (*trust, f"@revoked * {_public(ca)}")
    refused = _refusal(_cert(tmp_path, ca), revoked, tmp_path)
    assert "@revoked" in refused.reason and refused.revoked


def test_a_certificate_for_no_principal_is_refused(tmp_path: Path) -> None:
    ca = _keygen(tmp_path, "ca")
    key = _keygen(tmp_path, "host")
    subprocess.run(
        ["ssh-keygen", "-q", "-s", str(ca), "-h", "-I", "id", str(key.with_suffix(".pub"))],
        check=True,
    )
    blob = base64.b64decode((tmp_path / "host-cert.pub").read_text().split()[1])
    refused = _refusal(blob, (f"@cert-authority * {_public(ca)}",), tmp_path)
    assert "no principals" in refused.reason


def test_a_tampered_certificate_does_not_verify_and_garbage_is_not_read(tmp_path: Path) -> None:
    ca = _keygen(tmp_path, "ca")
    blob = _cert(tmp_path, ca, names="web.example.com")
    cert = parse(blob)
    # Widen the principals by one letter's change: the CA's signature no longer holds.
    forged = blob.replace(b"web.example.com", b"web.example.org")
    trust = (f"@cert-authority * {_public(ca)}",)
    known = load([str(_known(tmp_path, *trust))])
    with pytest.raises(HostCertificateRefused, match="does not verify"):
        check(forged, known, "web.example.org")
    assert check(blob, known, "web.example.com", now=time.time()) == cert
    for junk in (b"", blob[:-3], blob + b"x", b"\x00\x00\x00\x07ssh-dss" + blob[11:]):
        with pytest.raises(HostCertificateRefused, match="cannot be read"):
            check(junk, known, "web.example.com")
