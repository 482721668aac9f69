"""Four eyes, signed: `inv approve` with real `ssh-keygen`, and releases to the real sandbox.

Keys are made by the tests with ssh-keygen; the project's `reviewers` file (OpenSSH
allowed_signers) lists two reviewers, alice and bob, and the operator (`e2e-operator`, as
`RUNBOOK_OPERATOR` says in these projects). mallory's key is in no file. Refusals are checked
with `--dry-run`, which checks the signatures as the release does; the cases that should run,
run for real against the sandbox's sshd.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from runbook.words import local_time

from .test_release_support import (
    Project,
    digest_shown,
    events_of,
    expect_exit,
    release_project,
)

pytestmark = pytest.mark.e2e
__all__ = ["release_project"]  # the fixture, imported so that pytest finds it here

PEOPLE = ("alice", "bob", "e2e-operator", "mallory")
PASSPHRASE = "correct horse battery staple"
FORGED = "the signature does not verify: the file was altered, forged or corrupted"


@dataclass
class Keys:
    """Private keys by name (carol's has a passphrase) and their fingerprints."""

    dir: Path

    def __getitem__(self, name: str) -> Path:
        return self.dir / name

    def fingerprint(self, name: str) -> str:
        printed = subprocess.run(
            ["ssh-keygen", "-l", "-f", str(self.dir / f"{name}.pub")],
            check=True,
            capture_output=True,
            text=True,
        )
        return printed.stdout.split()[1]

    def signers_line(self, principal: str, name: str | None = None) -> str:
        key_type, blob, *_ = (self.dir / f"{name or principal}.pub").read_text().split()
        return f"{principal} {key_type} {blob}\n"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("keys")
    for name in PEOPLE:
        _keygen(folder / name, "")
    _keygen(folder / "carol", PASSPHRASE)
    return Keys(folder)


def _keygen(path: Path, passphrase: str) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", path.name, "-f", str(path)],
        check=True,
    )


@pytest.fixture
def approving(release_project: Project, keys: Keys) -> Project:
    """The release project with `approval: {signers: reviewers, required: 1}` on the sandbox."""
    (release_project.dir / "reviewers").write_text(
        "".join(keys.signers_line(p) for p in ("alice", "bob", "e2e-operator"))
    )
    _require(release_project, 1)
    return release_project


def _require(project: Project, required: int) -> None:
    _edit_host(project, approval={"signers": "reviewers", "required": required})


def _edit_host(project: Project, **settings: object) -> None:
    path = project.dir / "hosts.yaml"
    data = yaml.safe_load(path.read_text())
    data["hosts"]["sandbox"].update(settings)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _approve(project: Project, keys: Keys, name: str) -> subprocess.CompletedProcess[str]:
    done = project.inv("approve", "--host", "sandbox", "--key", str(keys[name]))
    assert done.returncode == 0, _output(done)
    return done


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def _refused(project: Project, *more: str) -> str:
    """A dry run refused before anything: exit 2, no traceback; its message."""
    done = project.inv("release", "--host", "sandbox", "--dry-run", *more)
    assert done.returncode == 2, _output(done)
    assert "Traceback" not in done.stderr + done.stdout
    assert "dry run: nothing was connected" not in done.stdout
    return done.stderr


def _signed_at(path: Path) -> str:
    found = re.search(r"^signed-at: (.+)$", path.read_text(), re.MULTILINE)
    assert found, path.read_text()
    return found.group(1)


def _files(project: Project) -> list[Path]:
    return sorted((project.dir / "approvals" / "nginx-websocket").glob("*.sig"))


# --- signing ---------------------------------------------------------------------------------


def test_approve_signs_the_digest_show_prints_and_the_digest_stays_the_same(
    approving: Project, keys: Keys
) -> None:
    project = approving
    shown = project.inv("show", "--host", "sandbox")
    assert shown.returncode == 0, _output(shown)
    digest = digest_shown(shown.stdout.split("# Signed approvals")[0])
    assert "Missing: **1** of 1" in shown.stdout
    assert "inv approve --host sandbox" in shown.stdout

    done = _approve(project, keys, "alice")

    (path,) = _files(project)
    assert path.name == f"{digest}.alice.sig"
    assert f"digest sha256:{digest}" in done.stdout
    assert "by alice (" + keys.fingerprint("alice") in done.stdout
    assert f"approvals/nginx-websocket/{path.name}" in done.stdout
    text = path.read_text()
    message = text.split("-----BEGIN SSH SIGNATURE-----")[0]
    assert message == (
        "release-runbook approval v1\nrunbook: nginx-websocket\ntarget: sandbox\n"
        f"digest: sha256:{digest}\nsigned-at: {_signed_at(path)}\n"
    )
    # Anyone can check it by hand with OpenSSH alone.
    signature = path.with_suffix(".armored")
    signature.write_text(text[len(message) :])
    by_hand = subprocess.run(
        [
            "ssh-keygen",
            "-Y",
            "verify",
            "-f",
            str(project.dir / "reviewers"),
            "-I",
            "alice",
            "-n",
            "release-runbook",
            "-s",
            str(signature),
        ],
        input=message,
        capture_output=True,
        text=True,
        check=False,
    )
    signature.unlink()
    assert by_hand.returncode == 0, by_hand.stderr
    again = project.inv("show", "--host", "sandbox")
    assert digest_shown(again.stdout.split("# Signed approvals")[0]) == digest
    assert f"| `alice` | `{keys.fingerprint('alice')}` | {_signed_at(path)} |" in again.stdout
    assert "Signed: 1 of 1" in again.stdout


# --- releases that run -------------------------------------------------------------------------


def test_one_reviewers_signature_lets_the_release_run_and_is_recorded_and_reported(
    approving: Project, keys: Keys
) -> None:
    project = approving
    _approve(project, keys, "alice")
    (path,) = _files(project)

    done = project.inv("release", "--host", "sandbox", "--yes")

    assert done.returncode == 0, _output(done)
    assert "101" in project.upgrade_status("101")
    (start,) = events_of(project, "start")
    assert start["approvers"] == [
        {
            "principal": "alice",
            "fingerprint": keys.fingerprint("alice"),
            "signed_at": _signed_at(path),
        }
    ]
    report = project.inv("report")
    assert report.returncode == 0, _output(report)
    assert "## Approvals" in report.stdout
    # When it was signed, on the operator's clock (the journal keeps it as signed).
    row = f"| `alice` | `{keys.fingerprint('alice')}` | {local_time(_signed_at(path))} |"
    assert row in report.stdout
    japanese = project.inv("report", "--lang", "ja")
    assert "## 承認" in japanese.stdout and row in japanese.stdout


def test_two_required_refuses_one_signature_and_runs_with_two_distinct_reviewers(
    approving: Project, keys: Keys
) -> None:
    project = approving
    _require(project, 2)
    _approve(project, keys, "alice")
    _approve(project, keys, "alice")  # the same reviewer again counts once

    refused = _refused(project)
    assert "1 of 2 signatures: signed by alice; 1 missing" in refused
    assert not project.journals(), "a refusal before connecting writes no journal"
    again = project.inv("release", "--host", "sandbox", "--yes")
    assert again.returncode == 2 and "1 of 2" in again.stderr, _output(again)
    assert "404" in project.upgrade_status("404"), "nothing may have run"

    _approve(project, keys, "bob")
    done = project.inv("release", "--host", "sandbox", "--yes")

    assert done.returncode == 0, _output(done)
    assert "101" in project.upgrade_status("101")
    (start,) = events_of(project, "start")
    assert {a["principal"] for a in start["approvers"]} == {"alice", "bob"}
    assert {a["fingerprint"] for a in start["approvers"]} == {
        keys.fingerprint("alice"),
        keys.fingerprint("bob"),
    }


# --- refusals ----------------------------------------------------------------------------------


def test_the_operators_own_signature_does_not_count(approving: Project, keys: Keys) -> None:
    project = approving
    _approve(project, keys, "e2e-operator")

    refused = _refused(project)

    assert "0 of 1 signatures: 1 missing" in refused
    assert "signed by e2e-operator, the operator" in refused
    # Another operator may release it: the signature itself is good.
    other = project.inv(
        "release", "--host", "sandbox", "--dry-run", env={"RUNBOOK_OPERATOR": "someone-else"}
    )
    assert other.returncode == 0, _output(other)


def test_a_signature_over_the_plan_before_the_runbook_changed_is_refused_naming_it(
    approving: Project, keys: Keys
) -> None:
    project = approving
    _approve(project, keys, "alice")
    (path,) = _files(project)
    runbook = project.dir / "runbooks" / "nginx-websocket.yaml"
    runbook.write_text(
        runbook.read_text().replace(
            "title: Let WebSocket upgrades through nginx", "title: Let upgrades through"
        )
    )

    refused = _refused(project)

    assert "0 of 1 signatures: 1 missing" in refused
    assert f"{path.name}: alice signed an older plan" in refused
    assert "the runbook, the inventory or --var changed since" in refused
    shown = project.inv("show", "--host", "sandbox")
    assert "alice signed an older plan" in shown.stdout


def test_a_signature_by_a_key_not_in_the_signers_file_is_refused_as_unknown(
    approving: Project, keys: Keys
) -> None:
    project = approving
    signed = _approve(project, keys, "mallory")
    assert "will not count until a line for it is added" in signed.stdout

    refused = _refused(project)

    assert f"unknown key {keys.fingerprint('mallory')}" in refused
    assert "0 of 1" in refused


def _alter_signed_at(data: bytes) -> bytes:
    return re.sub(rb"signed-at: \d{4}", b"signed-at: 1999", data)


def _garble_the_armour(data: bytes) -> bytes:
    return data.replace(b"SSH SIGNATURE-----\n", b"SSH SIGNATURE-----\n!!", 1)


def _flip_a_signature_byte(data: bytes) -> bytes:
    text = data.decode()
    head, _, rest = text.partition("-----BEGIN SSH SIGNATURE-----\n")
    body, _, tail = rest.partition("-----END SSH SIGNATURE-----")
    blob = bytearray(base64.b64decode("".join(body.split())))
    blob[-3] ^= 0x01
    armored = base64.b64encode(bytes(blob)).decode()
    lines = "\n".join(armored[i : i + 70] for i in range(0, len(armored), 70))
    return (
        f"{head}-----BEGIN SSH SIGNATURE-----\n{lines}\n-----END SSH SIGNATURE-----{tail}".encode()
    )


CORRUPTIONS: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "text": (_alter_signed_at, FORGED),
    "signature": (_flip_a_signature_byte, FORGED),
    "armour": (_garble_the_armour, FORGED),
    "truncated": (lambda b: b[: len(b) // 2], FORGED),
    "no-signature": (lambda b: b.split(b"-----BEGIN")[0], "not an approval: no SSH signature"),
    "binary": (lambda b: b"\xff\xfe" + b, "not an approval: not UTF-8 text"),
    "extra-line": (
        lambda b: b.replace(b"target: sandbox", b"target: sandbox\nextra: 1"),
        "not an approval: it does not start with",
    ),
    "huge": (lambda b: b + b"#" * 70_000, "not an approval: larger than 64 KiB"),
}


def test_forged_or_corrupted_signature_files_are_refused_each_with_its_reason(
    approving: Project, keys: Keys
) -> None:
    project = approving
    _approve(project, keys, "alice")
    (good,) = _files(project)
    folder = good.parent
    for name, (change, _) in CORRUPTIONS.items():
        (folder / f"{name}.sig").write_bytes(change(good.read_bytes()))
    good.unlink()
    (folder / "zero.sig").symlink_to("/dev/zero")
    os.mkfifo(folder / "fifo.sig")

    refused = _refused(project)

    assert "0 of 1 signatures: 1 missing" in refused
    for name, (_, reason) in CORRUPTIONS.items():
        assert f"{name}.sig: {reason}" in refused, name
    assert "zero.sig: not an approval: not a regular file" in refused
    assert "fifo.sig: not an approval: not a regular file" in refused


def test_approvals_stand_in_for_approved_and_a_wrong_approved_is_still_refused(
    approving: Project, keys: Keys
) -> None:
    project = approving
    _edit_host(project, require_approval=True)
    _approve(project, keys, "bob")

    ran = project.inv("release", "--host", "sandbox", "--dry-run")
    assert ran.returncode == 0, _output(ran)
    digest = digest_shown(ran.stdout)
    both = project.inv("release", "--host", "sandbox", "--dry-run", "--approved", digest)
    assert both.returncode == 0, _output(both)
    wrong = _refused(project, "--approved", "0" * 64)
    assert "is not the approved one" in wrong


def test_a_missing_signers_file_is_refused_naming_it(approving: Project) -> None:
    (approving.dir / "reviewers").unlink()

    refused = _refused(approving)

    assert "the signers file" in refused and "reviewers" in refused
    assert "cannot be read (No such file or directory)" in refused


# --- the key ------------------------------------------------------------------------------------


def test_a_key_with_a_passphrase_and_no_agent_fails_at_once_with_a_clear_message(
    approving: Project, keys: Keys
) -> None:
    started = time.monotonic()
    done = approving.inv(
        "approve",
        "--host",
        "sandbox",
        "--key",
        str(keys["carol"]),
        env={"SSH_AUTH_SOCK": "", "SSH_ASKPASS": "", "DISPLAY": ""},
        timeout=30,
    )

    assert time.monotonic() - started < 15
    assert done.returncode == 2, _output(done)
    assert "has a passphrase and the ssh-agent does not hold it" in done.stderr
    assert "ssh-add" in done.stderr
    assert "Traceback" not in done.stderr
    assert not _files(approving)


def test_on_a_terminal_approve_asks_for_the_passphrase_there(
    approving: Project, keys: Keys
) -> None:
    child = approving.spawn(
        "approve", "--host", "sandbox", "--key", str(keys["carol"]), drop=("SSH_AUTH_SOCK",)
    )
    child.expect("passphrase")
    child.sendline(PASSPHRASE)

    code, rest = expect_exit(child)

    assert code == 0, rest
    assert f"({keys.fingerprint('carol')})" in rest
    assert len(_files(approving)) == 1


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An ssh-agent of this test's own; the environment that points at it."""
    socket = tmp_path / "agent.sock"
    process = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(socket)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        yield {"SSH_AUTH_SOCK": str(socket)}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def _ssh_add(env: dict[str, str], key: Path, tmp_path: Path, passphrase: str = "") -> None:
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho '{passphrase}'\n")
    askpass.chmod(0o700)
    subprocess.run(
        ["ssh-add", "-q", str(key)],
        env={
            "PATH": os.environ["PATH"],
            **env,
            "SSH_ASKPASS": str(askpass),
            "SSH_ASKPASS_REQUIRE": "force",
        },
        stdin=subprocess.DEVNULL,
        check=True,
        timeout=20,
        capture_output=True,
    )


def test_the_agents_key_signs_without_key_and_a_pub_file_names_it(
    approving: Project, keys: Keys, agent: dict[str, str], tmp_path: Path
) -> None:
    project = approving
    _require(project, 2)
    (project.dir / "reviewers").write_text(keys.signers_line("alice") + keys.signers_line("carol"))
    _ssh_add(agent, keys["carol"], tmp_path, PASSPHRASE)  # a passphrase, typed once into the agent

    by_agent = project.inv("approve", "--host", "sandbox", env=agent)
    assert by_agent.returncode == 0, _output(by_agent)
    assert f"by carol ({keys.fingerprint('carol')})" in by_agent.stdout

    _ssh_add(agent, keys["alice"], tmp_path)
    two = project.inv("approve", "--host", "sandbox", env=agent)
    # Two keys in the agent, both listed: it cannot guess which one is the reviewer's.
    assert two.returncode == 2, _output(two)
    assert "the ssh-agent holds 2 keys: say which one signs with --key" in two.stderr
    by_pub = project.inv("approve", "--host", "sandbox", "--key", f"{keys['alice']}.pub", env=agent)
    assert by_pub.returncode == 0, _output(by_pub)
    assert "by alice (" in by_pub.stdout

    ran = project.inv("release", "--host", "sandbox", "--dry-run")
    assert ran.returncode == 0, _output(ran)


def test_without_key_and_without_an_agent_approve_says_what_to_do(approving: Project) -> None:
    done = approving.inv("approve", "--host", "sandbox", env={"SSH_AUTH_SOCK": ""})

    assert done.returncode == 2, _output(done)
    assert "no --key, and no ssh-agent to sign with" in done.stderr
