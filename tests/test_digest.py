"""The digest binds everything that decides what happens on the host, and approval needs it whole.

Run through the CLI in a project of the test's own, as an attacker's pull request would change
it: a title, a description, a `known_hosts:` file, a key in it, the user, the lock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from runbook.core.model import Host
from runbook.core.trust import portable, trusted_keys

from .conftest import run_cli

RUNBOOK = """\
name: demo
title: Demo release
description: Changes one file.
steps:
  - id: hello
    run: echo hello
"""


def key_line(hosts: str, tmp: Path, name: str) -> tuple[str, str]:
    """A fresh ed25519 public key as a known_hosts line for `hosts`, and its fingerprint."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / name)], check=True
    )
    key_type, blob, *_ = (tmp / f"{name}.pub").read_text().split()
    printed = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(tmp / f"{name}.pub")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[1]
    return f"{hosts} {key_type} {blob}\n", printed


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "demo.yaml").write_text(RUNBOOK)
    (tmp_path / "hosts.yaml").write_text(
        "hosts:\n  web1: {address: 10.0.0.1, user: deploy, known_hosts: trusted_hosts}\n"
    )
    line, _ = key_line("10.0.0.1", tmp_path, "web1_key")
    (tmp_path / "trusted_hosts").write_text(line)
    return tmp_path


def digest(project: Path, *args: str) -> str:
    done = run_cli("release", "--host", "web1", "--dry-run", *args, cwd=project, env=_env(project))
    assert done.returncode == 0, done.stderr
    found = re.findall(r"^digest sha256:([0-9a-f]{64})$", done.stdout, re.MULTILINE)
    return found[0]


def _env(project: Path) -> dict[str, str]:
    return {"RUNBOOK_STATE_DIR": str(project / "state"), "HOME": str(project / "home")}


@pytest.mark.parametrize(
    ("what", "change"),
    [
        ("title", lambda p: _edit(p / "runbooks/demo.yaml", "title: Demo", "title: Other")),
        ("description", lambda p: _edit(p / "runbooks/demo.yaml", "one file.", "two files.")),
        ("user", lambda p: _edit(p / "hosts.yaml", "user: deploy", "user: root")),
        ("lock", lambda p: _edit(p / "hosts.yaml", "user: deploy", "user: deploy, lock: /x")),
        (
            "backup dir",
            lambda p: _edit(p / "hosts.yaml", "user: deploy", "user: deploy, backup_dir: /x"),
        ),
        (
            "connect timeout",
            lambda p: _edit(p / "hosts.yaml", "user: deploy", "user: deploy, connect_timeout: 3"),
        ),
        (
            "approval",
            lambda p: _edit(
                p / "hosts.yaml", "user: deploy", "user: deploy, require_approval: true"
            ),
        ),
        ("pty", lambda p: _edit(p / "hosts.yaml", "user: deploy", "user: deploy, pty: true")),
        ("a trusted key", lambda p: _add_key(p, "10.0.0.1")),
        ("a revoked key", lambda p: _add_key(p, "@revoked 10.0.0.1")),
        (
            "a known_hosts file",
            lambda p: _edit(p / "hosts.yaml", "trusted_hosts", "[trusted_hosts, evil]"),
        ),
    ],
)
def test_a_change_to_what_decides_the_run_changes_the_digest(demo: Path, what: str, change) -> None:  # type: ignore[no-untyped-def]
    before = digest(demo)
    change(demo)
    assert digest(demo) != before, what


def test_a_project_template_that_replaces_the_shipped_one_changes_the_digest(demo: Path) -> None:
    before = digest(demo)
    shipped = Path(__file__).parents[1] / "src" / "runbook" / "templates" / "review.en.md.j2"
    (demo / "templates").mkdir()
    (demo / "templates" / "review.en.md.j2").write_text(shipped.read_text())
    with_template = digest(demo)
    assert with_template != before  # what a reviewer is shown is bound too
    (demo / "templates" / "review.en.md.j2").write_text(shipped.read_text() + "\n")
    assert digest(demo) != with_template


def test_pty_false_is_the_digest_of_no_pty_setting(demo: Path) -> None:
    """`pty` enters the digest only when set: digests approved before it existed still hold."""
    before = digest(demo)
    _edit(demo / "hosts.yaml", "user: deploy", "user: deploy, pty: false")
    assert digest(demo) == before


def test_keys_for_other_hosts_and_comments_do_not_change_it(demo: Path) -> None:
    before = digest(demo)
    _add_key(demo, "10.0.0.2")
    _add_key(demo, "# 10.0.0.1")
    assert digest(demo) == before


def test_the_digest_does_not_depend_on_where_the_checkout_is(demo: Path, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    elsewhere = tmp_path_factory.mktemp("other") / "checkout"
    (elsewhere / "runbooks").mkdir(parents=True)
    for name in ("runbooks/demo.yaml", "hosts.yaml", "trusted_hosts"):
        (elsewhere / name).write_text((demo / name).read_text())
    assert digest(elsewhere) == digest(demo)


def test_an_evil_known_hosts_file_is_refused_by_the_approved_digest_and_named(demo: Path) -> None:
    shown = run_cli("show", "--host", "web1", cwd=demo, env=_env(demo))
    assert shown.returncode == 0, shown.stderr
    command = shown.stdout.split("```sh\n", 2)[-1].split("\n```", 1)[0]
    assert command.startswith("inv release --host web1 --approved ")
    approved = command.split()[-1]
    line, printed = key_line("10.0.0.1", demo, "impostor")
    (demo / "evil").write_text(line)
    _edit(demo / "hosts.yaml", "known_hosts: trusted_hosts", "known_hosts: [trusted_hosts, evil]")

    done = run_cli(
        "release", "--host", "web1", "--yes", "--approved", approved, cwd=demo, env=_env(demo)
    )

    assert done.returncode == 2
    assert "not the approved one" in done.stderr
    assert "differs: web1: host.known_hosts" in done.stderr
    assert printed in done.stderr  # the impostor's key, named
    assert not (demo / "state" / "runs").exists()  # nothing connected, nothing recorded


def test_a_short_digest_is_refused_and_the_full_one_runs_exactly_that_plan(demo: Path) -> None:
    full = digest(demo)
    short = run_cli("release", "--host", "web1", "--dry-run", "--approved", full[:8], cwd=demo)
    assert short.returncode == 2 and "64 hex digits" in short.stderr
    ok = run_cli(
        "release",
        "--host",
        "web1",
        "--dry-run",
        "--approved",
        f"sha256:{full}",
        cwd=demo,
        env=_env(demo),
    )
    assert ok.returncode == 0, ok.stderr


def test_show_prints_the_approval_command_with_every_option_it_was_given(demo: Path) -> None:
    (demo / "inv.yaml").write_text((demo / "hosts.yaml").read_text())
    (demo / "runbooks" / "demo.yaml").write_text(RUNBOOK + "vars: {greeting: hi}\n")
    args = ("--runbook", "demo", "--inventory", "inv.yaml", "--var", "greeting=hello world")
    shown = run_cli("show", "--host", "web1", *args, cwd=demo, env=_env(demo))
    assert shown.returncode == 0, shown.stderr
    command = shown.stdout.split("```sh\n", 2)[-1].split("\n```", 1)[0]
    assert command.startswith(
        "inv release --host web1 --runbook demo --inventory inv.yaml --var 'greeting=hello world'"
        " --approved "
    )
    words = shlex.split(command)  # the command as a shell would run it
    run = run_cli(*words[1:], "--dry-run", cwd=demo, env=_env(demo))
    assert run.returncode == 0, run.stderr


def test_require_approval_says_how_to_review_with_every_option(demo: Path) -> None:
    _edit(demo / "hosts.yaml", "user: deploy", "user: deploy, require_approval: true")
    (demo / "runbooks" / "demo.yaml").write_text(RUNBOOK + "vars: {greeting: hi}\n")
    done = run_cli(
        "release", "--host", "web1", "--yes", "--var", "greeting=yo", cwd=demo, env=_env(demo)
    )
    assert done.returncode == 2
    assert "requires --approved" in done.stderr
    assert "`inv show --host web1 --var greeting=yo`" in done.stderr


def test_trusted_keys_match_as_openssh_matches(tmp_path: Path) -> None:
    folder = tmp_path
    plain, plain_fp = key_line("[10.0.0.1]:2222,web1", folder, "a")
    other, _ = key_line("10.0.0.1", folder, "b")  # port 22: not for [10.0.0.1]:2222
    wild, wild_fp = key_line("10.0.0.*,!10.0.0.9", folder, "c")
    salt = os.urandom(20)
    mac = hmac.new(salt, b"[10.0.0.1]:2222", hashlib.sha1).digest()
    hashed_entry = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(mac).decode()}"
    hashed, hashed_fp = key_line(hashed_entry, folder, "d")
    (folder / "kh").write_text(
        plain + other + wild + hashed + "@cert-authority *.x ssh-ed25519 !!\n"
    )
    host = Host(name="web1", address="10.0.0.1", port=2222, known_hosts=(str(folder / "kh"),))
    found = {k.fingerprint for k in trusted_keys(host)}
    assert found == {plain_fp, hashed_fp}  # a bare pattern means port 22 only
    five = Host(name="web5", address="10.0.0.5", known_hosts=(str(folder / "kh"),))
    assert wild_fp in {k.fingerprint for k in trusted_keys(five)}
    nine = Host(name="web9", address="10.0.0.9", known_hosts=(str(folder / "kh"),))
    assert wild_fp not in {k.fingerprint for k in trusted_keys(nine)}  # negated


def test_portable_paths_read_the_same_on_any_machine() -> None:
    assert portable(str(Path.home() / ".ssh" / "id")) == "~/.ssh/id"
    assert portable(str(Path.cwd() / "keys" / "deploy")) == "keys/deploy"
    assert portable("~/.ssh/known_hosts") == "~/.ssh/known_hosts"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _add_key(project: Path, hosts: str) -> None:
    line, _ = key_line(hosts, project, f"k{len(list(project.glob('k*')))}")
    with (project / "trusted_hosts").open("a") as out:
        out.write(line)
