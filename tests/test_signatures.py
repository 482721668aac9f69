"""Signed approvals without a host: the signed text, the operator, the journal field, the digest,
and a group approved by its own digest (real ssh-keygen, `--dry-run` only).

The releases themselves, against the sandbox's sshd, are in tests/e2e/test_approvals.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from runbook.commands import signatures, signed, sshkeygen
from runbook.commands.inputs import plans_for
from runbook.core.model import Approval, Host
from runbook.journal.events import Approver, Event, Start
from runbook.options import Options

from .conftest import run_cli
from .test_journal import V1

DIGEST = "ab" * 32
RUNBOOK = 'name: demo\nsteps:\n  - {id: hello, run: "echo hello"}\n'


# --- the signed text ---------------------------------------------------------------------------


def test_the_signed_text_is_canonical_and_reads_back() -> None:
    message = signed.Message("demo", "web", DIGEST, "2024-04-16T12:00:00+00:00")
    assert message.text() == (
        "release-runbook approval v1\nrunbook: demo\ntarget: web\n"
        f"digest: sha256:{DIGEST}\nsigned-at: 2024-04-16T12:00:00+00:00\n"
    )
    assert signed.Message.parse(message.text()) == message


GOOD = signed.Message("demo", "web", DIGEST, "2024-04-16T12:00:00+00:00").text()


@pytest.mark.parametrize(
    "text",
    [
        "",
        GOOD.replace("v1", "v2"),
        GOOD.rstrip("\n"),
        GOOD + "more: 1\n",
        GOOD.replace("runbook: demo", "runbook: ../demo"),
        GOOD.replace("target: web", "target: web extra"),
        GOOD.replace("target: web\n", ""),
        GOOD.replace(DIGEST, DIGEST[:-1]),
        GOOD.replace(DIGEST, DIGEST.upper()),
        GOOD.replace("sha256:", ""),
        GOOD.replace("+00:00", ""),
        GOOD.replace("2024-04-16T12:00:00", "yesterday"),
        GOOD.replace("\n", "\r\n"),
    ],
)
def test_any_other_text_is_not_an_approval(text: str) -> None:
    with pytest.raises(ValueError):
        signed.Message.parse(text)


# --- the operator ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "operators", "mine"),
    [
        ("sato", ("sato",), True),
        ("Sato", ("sato",), True),
        ("sato@example.com", ("sato",), True),
        ("sato", ("sato@example.com",), True),
        ("sato@other.example", ("sato@example.com",), True),  # the same user name: not counted
        ("satoshi", ("sato",), False),
        ("alice@example.com", ("sato", "root"), False),
        ("root", ("sato", "root"), True),
    ],
)
def test_the_operators_principal_is_the_one_with_their_user_name(
    principal: str, operators: tuple[str, ...], mine: bool
) -> None:
    assert signed.is_operator(principal, operators) is mine


def test_the_operator_is_runbook_operator_and_the_login_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "deploy")
    monkeypatch.setenv("RUNBOOK_OPERATOR", "sato")
    assert signed.operator_names() == ("sato", "deploy")
    monkeypatch.delenv("RUNBOOK_OPERATOR")
    assert signed.operator_names() == ("deploy",)


# --- the journal and the inventory -------------------------------------------------------------


def test_the_approvers_go_through_the_journal_and_old_journals_have_none() -> None:
    approvers = (
        Approver("alice", "SHA256:abc", "2024-04-16T12:00:00+00:00"),
        Approver("bob", "SHA256:def", "2024-04-16T12:05:00+00:00"),
    )
    start = Start(run="r1", host="web1", approvers=approvers)
    data = json.loads(json.dumps(start.to_json()))
    assert data["approvers"][0] == {
        "principal": "alice",
        "fingerprint": "SHA256:abc",
        "signed_at": "2024-04-16T12:00:00+00:00",
    }
    assert Event.from_json(data) == start
    old = json.loads(V1.read_text().splitlines()[0])
    assert "approvers" not in old
    loaded = Event.from_json(old)
    assert isinstance(loaded, Start) and loaded.approvers == ()
    odd = Event.from_json({**data, "approvers": [{"principal": "x"}, "junk", 3]})
    assert isinstance(odd, Start) and odd.approvers == (Approver("x", "?", "?"),)
    wrong = Event.from_json({**data, "approvers": "alice"})
    assert isinstance(wrong, Start) and wrong.approvers == ()


def test_a_hosts_approval_setting_comes_back_from_the_journals_plan() -> None:
    host = Host(name="web1", address="10.0.0.1", approval=Approval("/p/reviewers", 2))
    assert Host.from_json(json.loads(json.dumps(host.to_json()))) == host
    assert Host.from_json({"name": "web1", "address": "a"}).approval is None


# --- through the command line ------------------------------------------------------------------


def _keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
    )
    key_type, blob, *_ = (path.parent / f"{path.name}.pub").read_text().split()
    return f"{key_type} {blob}"


@pytest.fixture
def team(tmp_path: Path) -> Path:
    """A project with a group `web` (web1, web2) that needs one reviewer's signature."""
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "demo.yaml").write_text(RUNBOOK)
    (tmp_path / "keys").mkdir()
    lines = [f"{name} {_keygen(tmp_path / 'keys' / name)}\n" for name in ("alice", "bob")]
    (tmp_path / "reviewers").write_text("".join(lines))
    (tmp_path / "hosts.yaml").write_text(
        "hosts:\n  web1: {address: 10.0.0.1}\n  web2: {address: 10.0.0.2}\n"
        "groups:\n  web: {hosts: [web1, web2], approval: {signers: reviewers}}\n"
    )
    return tmp_path


def _inv(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        *args,
        cwd=project,
        env={"RUNBOOK_OPERATOR": "carol", "RUNBOOK_STATE_DIR": str(project / ".state")},
    )


def _digest(project: Path, host: str) -> str:
    done = _inv(project, "show", "--host", host)
    assert done.returncode == 0, done.stderr
    return done.stdout.split("# Signed approvals")[0].rsplit("sha256:", 1)[1][:64]


def test_a_group_is_approved_by_signatures_over_the_groups_digest(team: Path) -> None:
    before = {host: _digest(team, host) for host in ("web", "web1")}
    refused = _inv(team, "release", "--host", "web", "--dry-run")
    assert refused.returncode == 2 and "approval for web: 0 of 1" in refused.stderr

    signed = _inv(team, "approve", "--host", "web", "--key", str(team / "keys" / "alice"))

    assert signed.returncode == 0, signed.stderr
    assert f"digest sha256:{before['web']}" in signed.stdout
    (path,) = (team / "approvals" / "demo").glob("*.sig")
    assert path.name == f"{before['web']}.alice.sig"
    ran = _inv(team, "release", "--host", "web", "--dry-run")
    assert ran.returncode == 0, ran.stderr
    # The signature approves the group's digest, not web1's on its own.
    alone = _inv(team, "release", "--host", "web1", "--dry-run")
    assert alone.returncode == 2 and "approval for web1: 0 of 1" in alone.stderr
    # Signatures are not part of the plan.
    assert {host: _digest(team, host) for host in ("web", "web1")} == before


def test_the_approval_setting_is_bound_by_the_digest(team: Path) -> None:
    hosts = team / "hosts.yaml"
    before = _digest(team, "web")
    hosts.write_text(
        hosts.read_text().replace("signers: reviewers}", "signers: reviewers, required: 2}")
    )
    assert _digest(team, "web") != before  # lowering it again would need new signatures too
    hosts.write_text(hosts.read_text().replace(", approval: {signers: reviewers, required: 2}", ""))
    without = _digest(team, "web")
    assert without != before
    assert _inv(team, "release", "--host", "web", "--dry-run").returncode == 0


def test_inv_check_validates_the_approval_setting(team: Path) -> None:
    assert _inv(team, "check").returncode == 0
    hosts = team / "hosts.yaml"
    hosts.write_text(hosts.read_text().replace("signers: reviewers}", "signers: reviewers, n: 2}"))
    done = _inv(team, "check")
    assert done.returncode == 2 and "unknown key 'n'" in done.stderr


def test_without_approval_settings_nothing_runs_ssh_keygen(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "runbooks" / "demo.yaml").write_text(RUNBOOK)

    def no_program(name: str) -> str:
        raise AssertionError(f"{name} was run")

    monkeypatch.setattr(sshkeygen, "program", no_program)
    opts = Options(host="web1", project=project)
    *_, plans = plans_for(opts)
    assert signatures.require(opts, plans) == ()
    assert signatures.statuses(opts, plans, ()) == []


def test_the_agents_keys_are_named_by_their_fingerprints(tmp_path: Path) -> None:
    line = _keygen(tmp_path / "k")
    printed = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(tmp_path / "k.pub")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[1]
    assert sshkeygen.fingerprint_of(line + " comment") == printed
    assert sshkeygen.fingerprint_of("ssh-ed25519 !!!") is None
    assert sshkeygen.fingerprint_of("") is None


def test_a_certificate_of_the_signers_ca_counts_while_it_is_valid(team: Path) -> None:
    keys = team / "keys"
    ca = _keygen(keys / "ca")
    (team / "reviewers").write_text(f"dave cert-authority {ca}\n")
    _keygen(keys / "dave")
    _keygen(keys / "old")
    for name, validity in (("dave", "-5m:+1h"), ("old", "20200101:20200102")):
        public = str(keys / f"{name}.pub")
        ca_key = str(keys / "ca")
        command = ["ssh-keygen", "-q", "-s", ca_key, "-I", name, "-n", "dave", "-V", validity]
        subprocess.run([*command, public], check=True)

    expired = _inv(team, "approve", "--host", "web", "--key", str(keys / "old-cert.pub"))
    assert expired.returncode == 0, expired.stderr
    refused = _inv(team, "release", "--host", "web", "--dry-run")
    assert refused.returncode == 2 and "0 of 1" in refused.stderr
    assert "unknown key" in refused.stderr and "not as valid now" in refused.stderr

    signed = _inv(team, "approve", "--host", "web", "--key", str(keys / "dave-cert.pub"))
    assert signed.returncode == 0, signed.stderr
    assert "by dave (" in signed.stdout
    ran = _inv(team, "release", "--host", "web", "--dry-run")
    assert ran.returncode == 0, ran.stderr
