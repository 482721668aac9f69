"""Signed approvals, an approval's differences and `inv approve` (runbook.words.signing): the
English is what it was, byte for byte, and `--lang ja` says them in Japanese, leaving only
values (names, paths, fingerprints, digests, ssh-keygen's own words) in English.

The signatures are made and checked by the real ssh-keygen, as a release checks them."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from runbook.commands import signatures, signed, sshkeygen
from runbook.commands.approval import _walk, check_approval, digest_of, remember_review
from runbook.commands.inputs import plans_for
from runbook.errors import BAD_INPUT, RefusedError
from runbook.options import Options
from runbook.words import EN, Words
from tests.conftest import run_cli
from tests.test_signatures import _keygen

JA = Words("ja")
RUNBOOK = 'name: demo\nsteps:\n  - {id: hello, run: "echo hello"}\n'
OLDER = "cd" * 32
# Words that are names in any language: programs, fields of the signed text, settings.
TERMS = {
    "ssh", "ssh-keygen", "ssh-agent", "ssh-add", "OpenSSH", "SSH", "SHA256", "sha256",
    "runbook", "target", "digest", "signed-at", "approval", "signers", "allowed_signers", "KiB",
    "UTF", "SSH_AUTH_SOCK", "id_ed25519", "inv", "approve", "ssh_config", "Debian", "apt-get",
    "openssh-client", "sig",
}  # fmt: skip


def english_left(said: str, *values: object) -> list[str]:
    """The words of `said` that are neither a value of the message nor a name."""
    for value in sorted((str(v) for v in values), key=len, reverse=True):
        said = said.replace(value, " ")
    said = re.sub(r"`[^`]*`|SHA256:[\w+/]+|sha256:\w+|--[\w-]+|\S*/\S*", " ", said)
    words = re.findall(r"[A-Za-z][A-Za-z_0-9-]+", said)
    return [w for w in words if w not in TERMS and not re.search(r"\d", w)]


def japanese(text: str) -> bool:
    return re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text) is not None


# --- a team with a signers file ----------------------------------------------------------------


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A group `web` (web1, web2) that needs two reviewers; carol is the operator."""
    monkeypatch.setenv("RUNBOOK_OPERATOR", "carol")
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "demo.yaml").write_text(RUNBOOK)
    keys = tmp_path / "keys"
    keys.mkdir()
    listed = {name: _keygen(keys / name) for name in ("alice", "bob", "carol", "pat")}
    _keygen(keys / "stranger")
    (tmp_path / "reviewers").write_text(
        "".join(f"{'*@example.com' if n == 'pat' else n} {k}\n" for n, k in listed.items())
    )
    (tmp_path / "hosts.yaml").write_text(
        "hosts:\n  web1: {address: 10.0.0.1}\n  web2: {address: 10.0.0.2}\n"
        "groups:\n  web: {hosts: [web1, web2], approval: {signers: reviewers, required: 2}}\n"
    )
    return tmp_path


def _sign(project: Path, key: str, message: signed.Message, name: str) -> Path:
    """A signature file over `message` by the key `key`, under approvals/demo/ as `name`."""
    text = project / f"{name}.txt"
    text.write_text(message.text(), encoding="utf-8")
    signature = sshkeygen.sign(project / "keys" / key, text, shown_key=key, terminal=False)
    path = project / "approvals" / "demo" / f"{name}.sig"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(message.text() + signature, encoding="utf-8")
    return path


def _refusal(project: Path) -> tuple[str, str]:
    opts = Options(host="web", project=project)
    *_, plans = plans_for(opts)
    with pytest.raises(RefusedError) as refused:
        signatures.require(opts, plans)
    return refused.value.message, digest_of(plans)


def test_a_refusal_names_every_file_that_does_not_count_in_english_and_japanese(
    team: Path,
) -> None:
    _, digest = _refusal(team)
    at = "2026-12-01T10:00:00+00:00"
    _sign(team, "alice", signed.Message("demo", "web", digest, at), "a1-alice")
    _sign(team, "alice", signed.Message("demo", "web", digest, at[:-7] + "5:00+00:00"), "a2-again")
    _sign(team, "bob", signed.Message("demo", "web", OLDER, at), "b1-older")
    _sign(team, "carol", signed.Message("demo", "web", digest, at), "c1-operator")
    _sign(team, "stranger", signed.Message("demo", "web", digest, at), "d1-stranger")
    _sign(team, "pat", signed.Message("demo", "web", digest, at), "e1-pattern")
    _sign(team, "bob", signed.Message("billing", "web", digest, at), "f1-runbook")
    _sign(team, "bob", signed.Message("demo", "web1", digest, at), "g1-target")
    forged = _sign(team, "bob", signed.Message("demo", "web", digest, at), "h1-forged")
    forged.write_text(forged.read_text().replace(at, at.replace("10:", "11:")))
    (team / "approvals" / "demo" / "i1-junk.sig").write_text("hello\n")

    english, _ = _refusal(team)

    lines = english.split("\n")
    assert lines[:2] == [
        "approval for web: 1 of 2 signatures: signed by alice; 1 missing",
        f"  each must be over this plan, sha256:{digest}, by a distinct principal of "
        f"reviewers other than the operator ({', '.join(signed.operator_names())})",
    ]
    fingerprint = sshkeygen.fingerprint_of(_keygen_line(team, "stranger"))
    folder = "approvals/demo"
    # ssh-keygen's own reason for the forged file, whatever this OpenSSH says
    ssh_keygen = lines[9].partition("corrupted (ssh-keygen: ")[2].removesuffix(")")
    assert ssh_keygen
    assert lines[2:] == [
        f"  not counted: {folder}/i1-junk.sig: not an approval: no SSH signature in it",
        f"  not counted: {folder}/a2-again.sig: alice signed twice: counted once",
        f"  not counted: {folder}/c1-operator.sig: signed by carol, the operator: the person "
        "who releases cannot approve their own release",
        f"  not counted: {folder}/d1-stranger.sig: unknown key {fingerprint}: reviewers does "
        "not list it, or not as valid now",
        f"  not counted: {folder}/e1-pattern.sig: reviewers names its key by a pattern "
        "(*@example.com): list each reviewer by name",
        f"  not counted: {folder}/f1-runbook.sig: it approves runbook billing",
        f"  not counted: {folder}/g1-target.sig: it was signed for web1, not web",
        f"  not counted: {folder}/h1-forged.sig: the signature does not verify: the file was "
        f"altered, forged or corrupted (ssh-keygen: {ssh_keygen})",
        f"  not counted: {folder}/b1-older.sig: bob signed an older plan "
        f"(sha256:{OLDER[:16]}…, at {at}): the runbook, the inventory or --var changed since; "
        "it needs signing again",
    ]

    said = JA.again(english).split("\n")
    assert len(said) == len(lines)
    assert said[0] == "web の承認: 署名は 2 件中 1 件(alice が署名済み)で、1 件足りません"
    assert (
        said[3]
        == f"  数えない署名: {folder}/a2-again.sig: alice が 2 回署名しています: 1 回と数えます"
    )
    for line in said:
        assert japanese(line), line
        left = english_left(
            line,
            "web1",
            "web",
            "alice",
            "bob",
            "carol",
            "reviewers",
            "*@example.com",
            "billing",
            ssh_keygen,
            *signed.operator_names(),
        )
        assert left == [], line


def _keygen_line(project: Path, name: str) -> str:
    return (project / "keys" / f"{name}.pub").read_text()


def test_on_the_command_line_the_refusal_and_the_review_are_in_japanese(team: Path) -> None:
    _sign(team, "bob", signed.Message("demo", "web", OLDER, "2026-12-01T10:00:00+00:00"), "b1")
    env = {"RUNBOOK_STATE_DIR": str(team / ".state"), "RUNBOOK_OPERATOR": "carol"}
    args = ("release", "--host", "web", "--dry-run")

    english = run_cli(*args, "--lang", "en", cwd=team, env=env)
    assert english.returncode == BAD_INPUT, english
    assert "approval for web: 0 of 2 signatures: 2 missing\n" in english.stderr
    assert "  not counted: approvals/demo/b1.sig: bob signed an older plan" in english.stderr

    japanese_run = run_cli(*args, cwd=team, env={**env, "LANG": "ja_JP.UTF-8"})
    assert japanese_run.returncode == BAD_INPUT, japanese_run
    stderr = japanese_run.stderr
    assert "web の承認: 署名は 2 件中 0 件で、2 件足りません" in stderr, stderr
    assert "  数えない署名: approvals/demo/b1.sig: bob が署名したのは以前の計画です" in stderr
    assert "not counted" not in stderr and "each must" not in stderr

    review = run_cli("show", "--host", "web", "--lang", "ja", cwd=team, env=env)
    assert review.returncode == 0, review.stderr
    assert "- `approvals/demo/b1.sig`：bob が署名したのは以前の計画です" in review.stdout
    assert "signed an older plan" not in review.stdout


def test_inv_approve_says_what_it_signed_in_japanese(team: Path) -> None:
    key = str(team / "keys" / "alice")
    env = {"RUNBOOK_STATE_DIR": str(team / ".state"), "RUNBOOK_OPERATOR": "carol"}
    english = run_cli("approve", "--host", "web", "--key", key, "--lang", "en", cwd=team, env=env)
    assert english.returncode == 0, english.stderr
    out = english.stdout.splitlines()
    assert out[0].startswith("signed the plan of demo for web, digest sha256:")
    assert out[1].startswith("  by alice (SHA256:") and " at 20" in out[1]
    assert re.fullmatch(
        r"  written to approvals/demo/\w+\.alice\.sig \(commit it with the runbook\)", out[2]
    )
    assert out[3] == "  the text signed:" and out[4] == "    release-runbook approval v1"
    assert out[-1] == (
        "good signatures over this plan so far: alice (2 required; the operator's own will not "
        "count)"
    )

    said = run_cli("approve", "--host", "web", "--key", key, "--lang", "ja", cwd=team, env=env)
    assert said.returncode == 0, said.stderr
    lines = said.stdout.splitlines()
    assert lines[0].startswith("web 向けの demo の計画に署名しました。ダイジェスト sha256:")
    assert lines[4] == "    release-runbook approval v1"  # the signed text stays as it is
    for line in (*lines[:4], lines[-1]):
        assert japanese(line), line
        assert english_left(line, "demo", "web", "alice") == [], line


# --- files that are no approval ------------------------------------------------------------------

GOOD = signed.Message("demo", "web", "ab" * 32, "2024-04-16T12:00:00+00:00").text()


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("", "it does not start with the lines of a 'release-runbook approval v1' text"),
        (
            GOOD.replace("target: web\n", "tarjet: web\n"),
            "expected 'target:', found 'tarjet: web'",
        ),
        (GOOD.replace("runbook: demo", "runbook: ../demo"), "its runbook or target is not a name"),
        (GOOD.replace("ab" * 32, "ab"), "its digest is not 64 hex digits"),
        (GOOD.replace("+00:00", ""), "its signed-at is not a time with a zone"),
    ],
)
def test_a_text_that_is_no_approval_says_why(text: str, english: str) -> None:
    with pytest.raises(ValueError) as caught:
        signed.Message.parse(text)
    assert str(caught.value) == english
    said = JA.again(EN("error.sign.not-an-approval", reason=caught.value))
    assert said.startswith("承認のファイルではありません: ") and japanese(said[15:]), said
    assert english_left(said, "'release-runbook approval v1'", "'target:'", "'tarjet: web'") == []


def test_files_that_cannot_be_approvals_say_why(tmp_path: Path) -> None:
    (tmp_path / "a.sig").mkdir()
    (tmp_path / "b.sig").write_bytes(b"x" * (signed.MAX_FILE_BYTES + 1))
    (tmp_path / "c.sig").write_bytes(b"\xff\xfe")
    os.symlink("/nonexistent", tmp_path / "d.sig")
    found, bad = signed.signed_files(tmp_path)
    assert found == []
    assert [n.reason for n in bad] == [
        "not an approval: not a regular file",
        "not an approval: larger than 64 KiB",
        "not an approval: not UTF-8 text",
        "not an approval: not a regular file",
    ]
    for n in bad:
        said = JA.again(n.reason)
        assert japanese(said) and english_left(said) == [], said


def test_an_unreadable_signers_file_is_said_in_japanese(team: Path) -> None:
    (team / "reviewers").unlink()
    (team / "reviewers").mkdir()
    message, _ = _refusal_or_problem(team)
    assert message == (
        f"the signers file {team / 'reviewers'} of approval: cannot be read (not a regular file)"
    )
    said = JA.again(message)
    assert said == (
        f"approval: の署名者ファイル {team / 'reviewers'} を読めません"
        "(通常のファイルではありません)"
    )
    # `inv show` says it in the reader's language, in the review
    opts = Options(host="web", project=team, lang="ja")
    *_, plans = plans_for(opts)
    (status,) = signatures.statuses(opts, plans, ("carol",))
    assert status.problem == said


def _refusal_or_problem(project: Path) -> tuple[str, str]:
    opts = Options(host="web", project=project)
    *_, plans = plans_for(opts)
    with pytest.raises(RefusedError) as refused:
        signatures.require(opts, plans)
    return refused.value.message, refused.value.hint or ""


# --- ssh-keygen and ssh-add ----------------------------------------------------------------------


def test_ssh_keygens_refusals_are_said_in_japanese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    (tmp_path / "m").write_text("hello\n")
    locked = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(tmp_path / "locked")]
    subprocess.run(locked, check=True)
    refusals: list[tuple[str, str | None]] = []
    for key in ("locked", "missing"):
        with pytest.raises(RefusedError) as caught:
            sshkeygen.sign(tmp_path / key, tmp_path / "m", shown_key=key, terminal=False)
        refusals.append((caught.value.message, caught.value.hint))
    with pytest.raises(RefusedError) as caught:
        sshkeygen.agent_keys()
    refusals.append((caught.value.message, caught.value.hint))
    monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "no-agent"))
    with pytest.raises(RefusedError) as caught:
        sshkeygen.agent_keys()
    refusals.append((caught.value.message, caught.value.hint))
    with pytest.raises(RefusedError) as caught:
        sshkeygen.program("rbjs-no-such-program")
    refusals.append((caught.value.message, caught.value.hint))

    assert refusals == [
        (
            "the key locked has a passphrase and the ssh-agent does not hold it; with no "
            "terminal there is nowhere to type it",
            "`ssh-add locked` first (then inv approve uses the agent), or run on a terminal",
        ),
        (
            f"cannot read the key missing: Couldn't load public key {tmp_path / 'missing'}: "
            "No such file or directory",
            None,
        ),
        (
            "no --key, and no ssh-agent to sign with (SSH_AUTH_SOCK is not set)",
            "pass --key ~/.ssh/id_ed25519 (your private key), or start ssh-agent and ssh-add it",
        ),
        (
            "cannot reach the ssh-agent: Error connecting to agent: No such file or directory",
            "check SSH_AUTH_SOCK, or pass --key with your private key",
        ),
        (
            "rbjs-no-such-program not found: signed approvals need OpenSSH 8.2 or later",
            "install it (Debian: apt-get install openssh-client)",
        ),
    ]
    ssh_said = (  # ssh-keygen's and ssh-add's own words stay as they are
        f"Couldn't load public key {tmp_path / 'missing'}: No such file or directory",
        "Error connecting to agent: No such file or directory",
    )
    for message, hint in refusals:
        for text in (message, hint or ""):
            said = JA.again(text)
            assert not text or japanese(said), said
            values = ("locked", "missing", "rbjs-no-such-program", "apt-get install", *ssh_said)
            assert english_left(said, *values) == [], said


@pytest.mark.parametrize(
    "said",
    [
        EN("error.sign.wrong-passphrase", key="kfile"),
        EN("error.sign.wrong-passphrase-hint"),
        EN("error.sign.key-too-open", key="kfile"),
        EN("error.sign.public-only", key="kfile"),
        EN("error.sign.public-only-hint"),
        EN("error.sign.cannot-sign", key="kfile", reason=EN("error.sign.no-reason")),
        EN("error.sign.agent-empty"),
        EN("error.sign.agent-empty-hint"),
        EN("error.sign.agent-unreachable", reason=EN("error.sign.ssh-add-failed")),
        EN("error.sign.timeout", name="ssh-keygen", seconds="20"),
        EN("error.sign.timeout-hint"),
        EN("error.sign.key-counted", fingerprint="SHA256:abc"),
        EN("error.sign.unknown-key-why", fingerprint="SHA256:abc", signers="rfile", why="expired"),
        EN("error.sign.agents-key", fingerprint="SHA256:abc"),
        EN("error.sshconfig.exited", status=255),
        EN("error.notify.left-again"),
        "not delivered when the run ended (left for `inv report`)",
    ],
)
def test_the_rest_is_said_in_japanese(said: str) -> None:
    japanese_said = JA.again(said)
    assert japanese(japanese_said), japanese_said
    assert english_left(japanese_said, "kfile", "rfile", "expired", "ssh-keygen", "ssh -G") == []


def test_the_english_of_the_rest_is_what_it_was() -> None:
    assert EN("error.sign.unknown-key-why", fingerprint="F", signers="rfile", why="w") == (
        "unknown key F: rfile does not list it, or not as valid now (w)"
    )
    assert EN("error.sign.cannot-sign", key="kfile", reason=EN("error.sign.no-reason")) == (
        "ssh-keygen could not sign with kfile: no reason given"
    )
    assert EN("error.sshconfig.exited", status=255) == "ssh -G exited 255"
    assert EN("error.sign.agents-key", fingerprint="F") == "the agent's key F"


# --- what differs from the reviewed plan -------------------------------------------------------


def test_what_differs_from_the_review_is_said_line_by_line(team: Path) -> None:
    state = team / ".state"
    opts = Options(host="web", project=team)
    *_, plans = plans_for(opts)
    remember_review(state, plans[:1])  # web1 alone: web2 was never reviewed
    (reviewed,) = (state / "reviews").glob("*.json")
    record = json.loads(reviewed.read_text())
    before = record["hosts"]["web1"]
    before["title"] = "Old title"
    before["host"]["known_hosts"] = ["~/evil", *before["host"]["known_hosts"]]
    before["steps"][0]["id"] = "bye"
    for n in range(8):
        before[f"gone{n}"] = n
    reviewed.write_text(json.dumps(record))
    wanted = reviewed.name.removesuffix(".json")

    with pytest.raises(RefusedError) as refused:
        check_approval(plans, wanted, state_dir=state, show_command="inv show --host web")

    english = refused.value.message
    lines = english.split("\n")
    assert lines[0].startswith("the plan for these hosts is not the approved one")
    assert lines[1:] == [
        "  differs: web1: gone0: 0 → null",
        "  differs: web1: gone1: 1 → null",
        "  differs: web1: gone2: 2 → null",
        "  differs: web1: gone3: 3 → null",
        "  differs: web1: gone4: 4 → null",
        "  differs: web1: gone5: 5 → null",
        "  differs: web1: gone6: 6 → null",
        "  differs: web1: gone7: 7 → null",
        "  differs: ... and 4 more",
    ]
    said = JA.again(english).split("\n")
    assert said[0].startswith("これらのホスト の計画は承認されたものではありません")
    assert said[1] == "  相違: web1: gone0: 0 → null"
    assert said[-1] == "  相違: ... ほか 4 件"

    # Fewer of them: each kind of line.
    for n in range(8):
        del before[f"gone{n}"]
    reviewed.write_text(json.dumps(record))
    with pytest.raises(RefusedError) as refused:
        check_approval(plans, wanted, state_dir=state, show_command="inv show --host web")
    lines = refused.value.message.split("\n")[1:]
    assert lines == [
        '  differs: web1: host.known_hosts: removed "~/evil"',
        '  differs: web1: steps[0].id: "bye" → "hello"',
        '  differs: web1: title: "Old title" → "demo"',
        "  differs: web2: not among the reviewed hosts",
    ]
    said = JA.again(refused.value.message).split("\n")[1:]
    assert said == [
        '  相違: web1: host.known_hosts: "~/evil" がなくなりました',
        '  相違: web1: steps[0].id: "bye" → "hello"',
        '  相違: web1: title: "Old title" → "demo"',
        "  相違: web2: レビューしたホストに含まれていません",
    ]


def test_items_added_or_in_another_order_and_a_whole_plan() -> None:
    walked = _walk({"a": [1, 2], "b": [3]}, {"a": [2, 1], "b": [3, 4]}, "")
    assert walked == [
        ("error.approval.differs-reordered", {"where": "a"}),
        ("error.approval.differs-added", {"where": "b", "value": "4"}),
    ]
    for key, values in walked:
        line = EN(key, **{**values, "where": f"web1: {values['where']}"})
        assert japanese(JA.again(line)) and english_left(JA.again(line), "web1") == [], line
    assert (
        EN(*walked[0][:1], where="web1: a") == "  differs: web1: a: the same items in another order"
    )
    assert EN(walked[1][0], where="web1: b", value="4") == "  differs: web1: b: added 4"
    ((key, values),) = _walk(1, "x", "")
    line = EN(key, host="web1", **values)
    assert line == '  differs: web1: plan: 1 → "x"'
    assert JA.again(line) == '  相違: web1: 計画: 1 → "x"'


def test_an_unknown_language_is_refused_before_anything_is_signed_or_started(team: Path) -> None:
    env = {"RUNBOOK_STATE_DIR": str(team / ".state")}
    key = str(team / "keys" / "alice")
    approve = run_cli("approve", "--host", "web", "--key", key, "--lang", "fr", cwd=team, env=env)
    assert approve.returncode == BAD_INPUT and "unknown language 'fr'" in approve.stderr
    assert not (team / "approvals").exists()
    demo = run_cli("demo", "--lang", "fr", cwd=team, env=env)
    assert demo.returncode == BAD_INPUT and "unknown language 'fr'" in demo.stderr
    assert not (team / ".sandbox").exists()
