"""The sudo credential (asked only when sudo prompts, per host) and known_hosts marker lines."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import paramiko
import pytest

from runbook.commands import credentials
from runbook.commands.credentials import SudoPassword
from runbook.core.model import Host
from runbook.errors import RefusedError
from runbook.execute.batch import Batch, host_sudo
from runbook.testing import FixedSudo
from runbook.transport.base import sudo_password_env
from runbook.transport.known_hosts import load


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNBOOK_SUDO_PASSWORD", raising=False)
    for name in ("WEB1", "WEB_2_EXAMPLE_COM"):
        monkeypatch.delenv(f"RUNBOOK_SUDO_PASSWORD_{name}", raising=False)


def test_the_host_variable_is_named_from_the_host() -> None:
    assert sudo_password_env("web1") == "RUNBOOK_SUDO_PASSWORD_WEB1"
    assert sudo_password_env("web-2.example.com") == "RUNBOOK_SUDO_PASSWORD_WEB_2_EXAMPLE_COM"


def test_nothing_is_refused_up_front_without_a_terminal() -> None:
    sudo = SudoPassword(interactive=False)  # sudo steps or not: NOPASSWD sudo needs nothing
    with pytest.raises(RefusedError, match="asks for a password and none is set") as info:
        sudo.for_host("web1").password()
    assert "RUNBOOK_SUDO_PASSWORD_WEB1" in (info.value.hint or "")


def test_the_host_variable_wins_over_the_shared_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNBOOK_SUDO_PASSWORD", "shared")
    monkeypatch.setenv("RUNBOOK_SUDO_PASSWORD_WEB1", "own")
    sudo = SudoPassword(interactive=False)
    assert sudo.for_host("web1").password() == "own"
    assert sudo.for_host("web2").password() == "shared"
    assert sudo.password() == "shared"
    assert set(sudo.for_host("web2").given()) == {"own", "shared"}  # all are scrubbed
    assert not sudo.for_host("web1").forget()  # a set password is not asked again


def test_a_fleet_asks_once_per_host_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    prompts: list[str] = []
    lock = threading.Lock()

    def ask(prompt: str, left: threading.Event) -> str:
        with lock:
            prompts.append(prompt)
        return "pw-" + prompt.split(":")[0]

    monkeypatch.setattr(credentials, "ask_hidden", ask)
    sudo = SudoPassword(interactive=True)
    views = [sudo.for_host(h) for h in ("web1", "web2", "web1")]
    threads = [threading.Thread(target=v.password) for v in views * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(prompts) == ["web1: sudo password: ", "web2: sudo password: "]
    assert views[0].password() == "pw-web1" and views[1].password() == "pw-web2"
    assert views[0].forget()  # a typed password may be typed again
    assert views[1].password() == "pw-web2"  # the other host keeps its own
    assert views[0].password() == "pw-web1" and len(prompts) == 3


def test_each_host_of_a_batch_gets_its_own_view() -> None:
    sudo = SudoPassword(interactive=False)
    batch = Batch(kind=None, connect=None, open_journal=None, console=None, gate=None, sudo=sudo)  # type: ignore[arg-type]
    host = Host(name="web1", address="10.0.0.1")
    view = host_sudo(batch, host)
    assert getattr(view, "host", None) == "web1"
    shared = FixedSudo()
    assert host_sudo(Batch(None, None, None, None, None, sudo=shared), host) is shared  # type: ignore[arg-type]


def _key_line(tmp_path: Path, name: str) -> tuple[paramiko.PKey, str]:
    path = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    key = paramiko.Ed25519Key.from_private_key_file(str(path))
    return key, f"{key.get_name()} {key.get_base64()}"


def test_marker_lines_are_read_not_fatal(tmp_path: Path) -> None:
    host_key, host_line = _key_line(tmp_path, "host")
    ca_key, ca_line = _key_line(tmp_path, "ca")
    old_key, old_line = _key_line(tmp_path, "old")
    known = tmp_path / "known_hosts"
    known.write_text(
        f"@cert-authority *.example.com,[127.0.0.1]:* {ca_line}\n"
        f"@revoked * {old_line}\n"
        f"[127.0.0.1]:2222 {host_line}\n"
        f"[127.0.0.1]:2222 {old_line}\n"  # listed, but revoked: never trusted
        "@cert-authority broken-line\n"
        "web ssh-ed25519 not-base64!\n"
    )
    with pytest.raises(paramiko.hostkeys.InvalidHostKey):  # what paramiko alone does with it
        paramiko.HostKeys(str(known))
    read = load([str(known), str(tmp_path / "missing")])
    assert read.keys == [("[127.0.0.1]:2222", host_key)]
    assert read.revoked_in(old_key, ("[127.0.0.1]:2222",)) == str(known)
    assert read.revoked_in(host_key, ("[127.0.0.1]:2222",)) is None
    assert read.authorities_for(("[127.0.0.1]:2222",)) == [str(known)]
    assert read.authorities_for(("web.example.com",)) == [str(known)]
    assert read.authorities_for(("example.org",)) == []
    assert read.lookup("[127.0.0.1]:2222") and not read.lookup("127.0.0.1")
    client = paramiko.SSHClient()
    read.add_to(client)
    assert client.get_host_keys().lookup("[127.0.0.1]:2222") == {"ssh-ed25519": host_key}
    assert ca_key not in [k for _, k in read.keys]
