"""Host keys through the CLI: an unknown or changed key is refused before anything runs.

HOME is a fresh directory in every test, so ~/.ssh/known_hosts is empty unless the test
writes it: only the files a test names decide. Refusals must show the key's SHA256
fingerprint, leave every known_hosts file as it was (nothing is ever added silently), run no
step and take no lock. Hashed known_hosts files and `~/.ssh/config` aliases must just work.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import paramiko
import pytest

from runbook.core.model import Host
from runbook.transport import connect, fingerprint

from .test_attack_support import Target, shown, target

pytestmark = pytest.mark.e2e
__all__ = ["target"]  # the fixture, imported so that pytest finds it here


def _probe(target: Target) -> Path:
    """A one-step runbook that leaves a file if it ran; returns that file."""
    ran = target.out / "ran"
    target.write_runbook(
        {
            "title": "Host key probe",
            "vars": {"out": str(target.out)},
            "steps": [{"id": "touch", "run": "touch {{ out }}/ran"}],
        }
    )
    return ran


def _host_fingerprint(target: Target) -> str:
    return fingerprint(paramiko.Ed25519Key(filename=str(target.box.host_key)))


def _nothing_ran(target: Target, ran: Path) -> None:
    assert not ran.exists()
    assert not target.box.lock_path.exists()
    (journal,) = target.journals()
    (end,) = [e for e in target.events(journal) if e["event"] == "end"]
    assert (end["result"], end["exit_code"]) == ("refused", 2)
    assert not [e for e in target.events(journal) if e["event"] == "step_start"]
    assert not (target.home / ".ssh" / "known_hosts").exists()


def test_an_unknown_host_key_is_refused_with_its_fingerprint(target: Target) -> None:
    ran = _probe(target)
    empty = target.dir / "empty_known_hosts"
    empty.write_text("")
    target.host["known_hosts"] = str(empty)
    target.write_hosts()

    result = target.inv("release", "--host", "sandbox", "--yes")

    assert result.returncode == 2, shown(result)
    said = result.stdout + result.stderr
    assert "is not known" in said and "refusing to connect" in said
    assert _host_fingerprint(target) in said
    assert "ssh-keyscan" in said  # how to add it, after checking it
    assert "Traceback" not in said
    assert empty.read_text() == ""
    _nothing_ran(target, ran)


def test_a_changed_host_key_is_refused_as_changed(target: Target) -> None:
    ran = _probe(target)
    other = target.dir / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    kind, blob = other.with_suffix(".pub").read_text().split()[:2]
    box = target.box
    known = target.dir / "known_hosts"
    known.write_text(f"[{box.address}]:{box.ssh_port} {kind} {blob}\n")
    target.host["known_hosts"] = str(known)
    target.write_hosts()
    before = known.read_bytes()

    result = target.inv("release", "--host", "sandbox", "--yes")

    assert result.returncode == 2, shown(result)
    said = result.stdout + result.stderr
    assert "has CHANGED" in said and "refusing to connect" in said
    assert _host_fingerprint(target) in said  # what the host presented
    assert fingerprint(paramiko.Ed25519Key(filename=str(other))) in said  # what was expected
    assert known.read_bytes() == before
    _nothing_ran(target, ran)


def test_a_hashed_known_hosts_file_works(target: Target) -> None:
    ran = _probe(target)
    hashed = target.dir / "known_hosts_hashed"
    shutil.copy(target.box.known_hosts, hashed)
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(hashed)], check=True, capture_output=True)
    assert hashed.read_text().startswith("|1|")  # no host name left in clear
    target.host["known_hosts"] = str(hashed)
    target.write_hosts()

    result = target.inv("release", "--host", "sandbox", "--yes")

    assert result.returncode == 0, shown(result)
    assert ran.exists()


def test_an_ssh_config_alias_with_no_port_or_user_in_the_inventory_works(target: Target) -> None:
    """`address: myalias`; HostName, Port, User and IdentityFile come from ~/.ssh/config, the
    host key from ~/.ssh/known_hosts."""
    ran = _probe(target)
    box = target.box
    ssh = target.home / ".ssh"
    ssh.mkdir(mode=0o700)
    (ssh / "config").write_text(
        f"Host myalias\n  HostName {box.address}\n  Port {box.ssh_port}\n  User {box.user}\n"
        f"  IdentityFile {box.client_key}\n"
    )
    shutil.copy(box.known_hosts, ssh / "known_hosts")
    target.hosts["hosts"]["sandbox"] = {
        "address": "myalias",
        "lock": str(box.lock_path),
        "sudo": box.as_root,
    }
    target.write_hosts()

    result = target.inv("release", "--host", "sandbox", "--yes")

    assert result.returncode == 0, shown(result)
    assert ran.exists() and ran.owner() == box.user


def test_the_connection_rejects_unknown_keys_by_policy(target: Target) -> None:
    """At run time: after connect(), paramiko's missing-key policy is a RejectPolicy."""
    box = target.box
    with connect(
        Host(
            name="sandbox",
            address=box.address,
            user=box.user,
            port=box.ssh_port,
            identity=str(box.client_key),
            known_hosts=(str(box.known_hosts),),
        )
    ) as transport:
        policy = transport._conn.client._policy
        assert isinstance(policy, paramiko.RejectPolicy), type(policy)
        assert not isinstance(policy, (paramiko.AutoAddPolicy, paramiko.WarningPolicy))
        assert transport.run("true").ok
