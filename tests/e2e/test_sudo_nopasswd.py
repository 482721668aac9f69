"""sudo that asks no password, per-host passwords, requiretty, and known_hosts marker lines,
against the sandbox's real sshd and sudo.

The sandbox's login user is shared by every sandbox on the machine, and its sudo asks for a
password: the NOPASSWD case is a rule of its own, for running as a user made for it
(`sudo: rbnopasswd` steps), so sudo as root keeps asking for the password meanwhile.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook.errors import ConnectError
from runbook.sandbox import Sandbox
from runbook.sandbox.users import machine_lock, user_exists
from runbook.transport import connect

from .conftest import local_user, machine_wide, require_root
from .test_release_support import Project, release_project  # noqa: F401
from .test_transport import target_for

pytestmark = pytest.mark.e2e

RUNAS = "rbnopasswd"
# Read after the sandbox's own drop-in (release-runbook-sandbox): the last match wins.
DROPIN = Path("/etc/sudoers.d/release-runbook-sandbox-nopasswd")
TTY_DROPIN = Path("/etc/sudoers.d/release-runbook-sandbox-requiretty")

AS_RUNAS = f"""\
name: nopasswd
steps:
  - {{id: who, run: "id -un", sudo: {RUNAS}}}
"""
AS_ROOT = """\
name: asroot
steps:
  - {id: who, run: "id -u", sudo: true}
"""


def _write_sudoers(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")  # a name with a dot: sudo never reads it
    tmp.write_text(text)
    tmp.chmod(0o440)
    subprocess.run(["visudo", "-cqf", str(tmp)], check=True)
    tmp.rename(path)


@pytest.fixture
def nopasswd(release_project: Project) -> Iterator[Project]:  # noqa: F811
    """The project, a user `rbnopasswd`, and sudo to it without a password for the login user.

    The user and the drop-ins are machine-wide: one such test on the machine at a time.
    """
    require_root()
    with machine_wide(RUNAS):
        made = not user_exists(RUNAS)
        local_user(RUNAS, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin")
        user = release_project.box.user
        _write_sudoers(
            DROPIN,
            f"# release-runbook e2e: removed after the test\n{user} ALL=({RUNAS}) NOPASSWD: ALL\n",
        )
        project = release_project
        (project.dir / "runbooks" / "nginx-websocket.yaml").unlink()
        try:
            yield project
        finally:
            TTY_DROPIN.unlink(missing_ok=True)
            DROPIN.unlink(missing_ok=True)
            if made:
                with machine_lock():  # never beside another useradd
                    subprocess.run(["userdel", RUNAS], check=False)


def _release(project: Project, runbook: str) -> subprocess.CompletedProcess[str]:
    """`inv release --host sandbox --yes` of `runbook`, the project's only runbook."""
    (project.dir / "runbooks" / "only.yaml").write_text(runbook)
    return project.inv("release", "--host", "sandbox", "--yes")


def _no_password(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.env.pop("RUNBOOK_SUDO_PASSWORD", None)
    for name in ("RUNBOOK_SUDO_PASSWORD", "RUNBOOK_SUDO_PASSWORD_SANDBOX"):
        monkeypatch.delenv(name, raising=False)


def _steps_ok(project: Project) -> list[str]:
    return [
        e["step"]
        for e in project.events()
        if e["event"] == "step_end" and e.get("outcome") == "ok" and "step" in e
    ]


def test_nopasswd_sudo_runs_without_a_password_or_terminal(
    nopasswd: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_password(nopasswd, monkeypatch)
    done = _release(nopasswd, AS_RUNAS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert RUNAS in done.stdout
    assert "password" not in (done.stdout + done.stderr).lower()


def test_a_host_whose_sudo_asks_is_refused_before_the_step_with_the_hint(
    nopasswd: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_password(nopasswd, monkeypatch)
    done = _release(nopasswd, AS_ROOT)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "sudo on sandbox" in out and "asks for a password and none was given" in out
    assert "RUNBOOK_SUDO_PASSWORD_SANDBOX" in out and "sudo: false" in out
    assert "internal error" not in out.lower()
    assert _steps_ok(nopasswd) == []


def test_the_host_s_own_password_variable_wins(
    nopasswd: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = nopasswd.env["RUNBOOK_SUDO_PASSWORD"]
    _no_password(nopasswd, monkeypatch)
    nopasswd.env["RUNBOOK_SUDO_PASSWORD"] = "not-" + password  # the shared one is wrong
    nopasswd.env["RUNBOOK_SUDO_PASSWORD_SANDBOX"] = password
    done = _release(nopasswd, AS_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert password not in done.stdout + done.stderr


def test_requiretty_is_named_with_what_to_do(
    nopasswd: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_password(nopasswd, monkeypatch)
    _write_sudoers(TTY_DROPIN, f"Defaults>{RUNAS} requiretty\n")
    done = _release(nopasswd, AS_RUNAS)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "without a terminal" in out and "requiretty" in out
    assert _steps_ok(nopasswd) == []


# -- known_hosts marker lines ------------------------------------------------------------------


def _host_lines(box: Sandbox) -> list[str]:
    return [
        line
        for line in Path(box.host_entry()["known_hosts"]).read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def _other_key(tmp_path: Path) -> str:
    path = tmp_path / "ca"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return " ".join(Path(f"{path}.pub").read_text().split()[:2])


def test_a_cert_authority_line_beside_the_host_key_connects(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(
        f"@cert-authority * {_other_key(tmp_path)}\n" + "\n".join(_host_lines(sandbox)) + "\n"
    )
    with contextlib.closing(connect(target_for(sandbox, known_hosts=(str(known),)))) as link:
        assert link.run("echo hi").stdout == "hi\n"


def test_a_cert_authority_alone_is_refused_saying_the_host_shows_no_certificate(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"@cert-authority * {_other_key(tmp_path)}\n")
    with pytest.raises(ConnectError) as info:
        connect(target_for(sandbox, known_hosts=(str(known),)))
    message = str(info.value)
    assert "not known" in message and "@cert-authority" in message
    assert "the host presented a plain key, not a certificate" in message


def test_a_revoked_host_key_is_refused_with_the_file(sandbox: Sandbox, tmp_path: Path) -> None:
    lines = _host_lines(sandbox)
    known = tmp_path / "known_hosts"
    revoked = ["@revoked * " + " ".join(line.split()[1:3]) for line in lines]
    known.write_text("\n".join([*revoked, *lines]) + "\n")  # listed too: revoked still wins
    with pytest.raises(ConnectError) as info:
        connect(target_for(sandbox, known_hosts=(str(known),)))
    assert f"is marked @revoked in {known}" in str(info.value)
    assert "internal error" not in str(info.value).lower()
