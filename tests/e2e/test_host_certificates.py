"""Host certificates against a real sshd with `HostCertificate` (`noisy_hosts`), trusted by an
`@cert-authority` line in a test known_hosts file (never the machine's own ~/.ssh).

A certificate signed by the trusted CA, valid now, naming the host connects; one signed by
another CA, expired, for another name, or by a revoked CA is refused, naming the line and why.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from runbook.errors import ConnectError
from runbook.transport import connect

from .noisy_hosts import ADDRESS, NOISY, World, empty_home, keygen, world

pytestmark = pytest.mark.e2e

__all__ = ["empty_home", "world"]  # the fixtures, imported so that pytest finds them here


@pytest.fixture(scope="module")
def cas(world: World) -> dict[str, Path]:
    return {
        name: keygen(world.root / f"ca-{name}", f"rbnoise {name} CA") for name in ("ours", "other")
    }


def _trust(tmp_path: Path, world: World, ca: Path, *more: str) -> Path:
    """A known_hosts file whose only line for the host is `@cert-authority` for `ca`."""
    pub = " ".join(ca.with_suffix(".pub").read_text().split()[:2])
    known = tmp_path / "known_hosts"
    known.write_text("# test known_hosts\n" + "".join(f"{m}\n" for m in more))
    with known.open("a") as f:
        f.write(f"@cert-authority [{ADDRESS}]:{world.port} {pub}\n")
    return known


def _connect(world: World, known: Path) -> str:
    host = world.host("certified", NOISY, known_hosts=(str(known),))
    with contextlib.closing(connect(host)) as link:
        return link.run("echo hi").stdout


def _refused(world: World, known: Path) -> str:
    with pytest.raises(ConnectError) as info:
        _connect(world, known)
    text = f"{info.value} {info.value.hint}"
    assert "internal error" not in text.lower()
    return text


def test_a_certificate_from_the_trusted_ca_for_this_host_connects(
    world: World, cas: dict[str, Path], tmp_path: Path
) -> None:
    world.certify(cas["ours"], ADDRESS)
    assert _connect(world, _trust(tmp_path, world, cas["ours"])) == "hi\n"


def test_a_certificate_from_another_ca_is_refused_naming_the_line(
    world: World, cas: dict[str, Path], tmp_path: Path
) -> None:
    world.certify(cas["other"], ADDRESS)
    known = _trust(tmp_path, world, cas["ours"])
    text = _refused(world, known)
    assert "which no @cert-authority line" in text
    assert f"{known}:2" in text
    assert "host certificate of certified" in text


def test_an_expired_certificate_is_refused(
    world: World, cas: dict[str, Path], tmp_path: Path
) -> None:
    world.certify(cas["ours"], ADDRESS, validity="20200101:20200102")
    known = _trust(tmp_path, world, cas["ours"])
    text = _refused(world, known)
    assert "it expired at 2020-01-02" in text and f"{known}:2" in text


def test_a_certificate_for_another_name_is_refused(
    world: World, cas: dict[str, Path], tmp_path: Path
) -> None:
    world.certify(cas["ours"], "web.example.com,10.0.0.1")
    text = _refused(world, _trust(tmp_path, world, cas["ours"]))
    assert f"principals (web.example.com, 10.0.0.1) do not name {ADDRESS}" in text


def test_a_certificate_from_a_revoked_ca_is_refused(
    world: World, cas: dict[str, Path], tmp_path: Path
) -> None:
    world.certify(cas["ours"], ADDRESS)
    pub = " ".join(cas["ours"].with_suffix(".pub").read_text().split()[:2])
    known = _trust(tmp_path, world, cas["ours"], f"@revoked * {pub}")
    text = _refused(world, known)
    assert "is marked @revoked (the @revoked line: " in text and f"{known}:2" in text


def test_a_host_listed_by_its_own_key_connects_whatever_its_certificate(
    world: World, cas: dict[str, Path], tmp_path: Path
) -> None:
    world.certify(cas["other"], "elsewhere")
    known = _trust(tmp_path, world, cas["ours"], world.known_hosts.read_text().strip())
    assert _connect(world, known) == "hi\n"
