"""`put`, `changes:` and `git_rev` without a socket: plans made from a project on disk, and the
put scripts run by the executor on this machine (LocalTransport), on real files in a tmp dir.

What is checked: the bytes reviewed are the bytes sent (a source edited or a branch moved after
the review cannot slip into the release's steps; both change the digest of a new review), the
host side (created exclusively beside dest, refused over an unbacked-up file, never written
through a planted symlink, removed by rollback only while unchanged), and what the review, the
dry run and the gate show.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest

from runbook.commands import Options, RunOptions
from runbook.commands import check as check_command
from runbook.commands.fleet import release as release_command
from runbook.commands.review import dry_run
from runbook.console import Console
from runbook.core import markdown, scripts
from runbook.core.load import load_runbook
from runbook.core.model import Host, Plan, PlannedStep
from runbook.core.plan import make_plan
from runbook.errors import DONE, STEP_FAILED, InputError
from runbook.execute import Run, release, rollback
from runbook.execute.preview import live_diff
from runbook.gate import YesGate
from runbook.journal.events import Backup, Put, Remove, Restore
from runbook.testing import MemoryJournal, ScriptedGate
from runbook.transport.local import LocalTransport

from .conftest import git, make_repo

HOST = Host(name="web1", address="10.0.0.1", sudo=False)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def project_with(tmp_path: Path, runbook: str, files: dict[str, str | bytes]) -> Path:
    """A project folder: runbooks/r.yaml and `files`, relative to it."""
    project = tmp_path / "project"
    (project / "runbooks").mkdir(parents=True)
    (project / "runbooks" / "r.yaml").write_text(runbook)
    for name, data in files.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return project


def plan_for(project: Path, run_id: str | None = None, **overrides: str) -> Plan:
    """The plan of the project's runbook (one plan, reviewed and run: `run_id` plays no part)."""
    runbook = load_runbook(project / "runbooks" / "r.yaml")
    return make_plan(runbook, HOST, "hosts.yaml", overrides)


def problems_of(project: Path) -> str:
    with pytest.raises(InputError) as raised:
        plan_for(project)
    return str(raised.value)


def local_run(plan: Plan, run_id: str = "run-1", **options: Any) -> tuple[Run, io.StringIO]:
    """A Run whose "host" is this machine's shell (no sudo), with a memory journal."""
    screen = io.StringIO()
    run = Run(
        plan=plan,
        run_id=run_id,
        transport=LocalTransport(),
        journal=MemoryJournal(),
        console=Console(screen, colour=False),
        **options,
    )
    return run, screen


def journal(run: Run) -> MemoryJournal:
    assert isinstance(run.journal, MemoryJournal)
    return run.journal


def put_runbook(dest: Path, *, backup: bool, src: str = "files/app.conf") -> str:
    first = f"  - id: backup\n    backup: {dest}\n" if backup else ""
    return (
        "name: r\nsteps:\n"
        + first
        + f"  - id: put\n    put: {{src: {src}, dest: {dest}, mode: '0640'}}\n"
        + "rollback:\n  - id: say\n    run: echo rolled\n"
        + (f"  - id: restore\n    restore: {dest}\n" if backup else "")
    )


@pytest.fixture
def host_dir(tmp_path: Path) -> Path:
    """The "host's" directory: only its owner may write to it, as a put requires."""
    folder = tmp_path / "host"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    return folder


# --- the plan: what is read, and when --------------------------------------------------------


def test_put_content_sha256_and_size_are_on_the_step_and_in_the_digest(tmp_path: Path) -> None:
    project = project_with(tmp_path, put_runbook(Path("/etc/app.conf"), backup=True), {})
    (project / "files").mkdir()
    (project / "files" / "app.conf").write_text("one\n")
    first = plan_for(project)
    put = first.steps[1].put
    assert put is not None and put.sha256 == sha(b"one\n") and put.size == 4
    assert put.content == b"one\n" and put.backed_up
    (project / "files" / "app.conf").write_text("two\n")
    assert plan_for(project).digest != first.digest  # a new review sees the edit


def test_a_source_edited_after_the_review_plan_does_not_reach_the_release(tmp_path: Path) -> None:
    project = project_with(
        tmp_path, put_runbook(Path("/etc/app.conf"), backup=True), {"files/app.conf": "old\n"}
    )
    runbook = load_runbook(project / "runbooks" / "r.yaml")
    review = make_plan(runbook, HOST, "hosts.yaml")
    (project / "files" / "app.conf").write_text("edited after the review\n")
    actual = review  # the release runs the reviewed plan: it is not rendered again
    assert actual.steps[1].put is not None and actual.steps[1].put.content == b"old\n"
    assert make_plan(runbook, HOST, "hosts.yaml").digest == review.digest  # read once


def test_the_journal_keeps_a_puts_sha256_not_its_bytes(tmp_path: Path) -> None:
    project = project_with(
        tmp_path, put_runbook(Path("/etc/app.conf"), backup=True), {"files/app.conf": "x" * 5000}
    )
    plan = plan_for(project, run_id="r1")
    recorded = plan.record()["steps"][1]["put"]
    assert recorded["sha256"] == sha(b"x" * 5000) and recorded["size"] == 5000
    assert "content" not in recorded and "diff" not in recorded
    back = PlannedStep.from_json(plan.record()["steps"][1])
    assert (
        back.put is not None and back.put.content == b"" and back.put.sha256 == recorded["sha256"]
    )


def test_sources_out_of_the_project_through_a_symlink_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("not for the host\n")
    project = project_with(
        tmp_path,
        "name: r\nsteps:\n"
        "  - id: out\n    put: {src: files/link, dest: /etc/a}\n"
        "  - id: in\n    put: {src: files/inner, dest: /etc/b}\n",
        {"files/real.conf": "inside\n"},
    )
    (project / "files" / "link").symlink_to(outside)
    (project / "files" / "inner").symlink_to(project / "files" / "real.conf")
    text = problems_of(project)
    assert "runbooks/r.yaml:4: step 'out': src files/link is outside the project" in text
    assert "step 'in'" not in text  # a link that stays inside is a file of the project


def test_too_big_not_a_file_and_not_text_are_refused_with_the_line(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        "name: r\nsteps:\n"
        "  - id: huge\n    put: {src: huge.bin, dest: /etc/a}\n"
        "  - id: inline\n    put: {src: big.conf, dest: /etc/b}\n"
        "  - id: folder\n    put: {src: files, dest: /etc/c}\n"
        "  - id: binary-template\n    put: {src: blob.bin, dest: /etc/d, template: true}\n",
        {
            "huge.bin": b"x" * (1024 * 1024 + 1),
            "big.conf": "y" * (scripts.PUT_INLINE_MAX + 1),
            "files/x": "",
            "blob.bin": b"\xff\xfe",
        },
    )
    text = problems_of(project)
    assert "r.yaml:4: step 'huge': src huge.bin is larger than 1048576 bytes" in text
    # A put carries what a source may hold (its script travels on stdin, not a command line).
    assert "r.yaml:6: step 'inline': src big.conf is larger than 1048576 bytes" in text
    assert "r.yaml:8: step 'folder': src files is a directory" in text
    assert "r.yaml:10: step 'binary-template': blob.bin is not UTF-8 text" in text


def test_put_goes_in_steps_not_in_rollback(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        "name: r\nsteps:\n  - id: a\n    run: 'true'\n"
        "rollback:\n  - id: back\n    put: {src: a.conf, dest: /etc/a}\n",
        {"a.conf": "a\n"},
    )
    with pytest.raises(InputError) as raised:
        load_runbook(project / "runbooks" / "r.yaml")
    assert "r.yaml:7: rollback step 'back': put uploads files in steps" in str(raised.value)


def test_a_template_made_of_run_values_through_a_var_is_refused_at_review(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        "name: r\nvars:\n  stamp: '{{ run.id }}'\nsteps:\n"
        "  - id: a\n    put: {src: a.j2, dest: /etc/a, template: true}\n",
        {"a.j2": "built by {{ stamp }}\n"},
    )
    with pytest.raises(InputError) as raised:
        plan_for(project)  # the one plan, reviewed and run: the value is not known yet
    assert "takes run.* or a secret through a var" in str(raised.value)


def test_a_template_keeps_its_final_newline_and_is_not_shell_quoted(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        'name: r\nvars:\n  who: "it\'s $(me)"\nsteps:\n'
        "  - id: a\n    put: {src: a.j2, dest: /etc/a, template: true}\n",
        {"a.j2": "name = {{ who }}\non = {{ host.name }}\n"},
    )
    put = plan_for(project).steps[0].put
    assert put is not None and put.content == b"name = it's $(me)\non = web1\n"


# --- git_rev and changes: a moving branch -----------------------------------------------------


def git_project(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    runbook = (
        "name: r\nvars:\n  commit: \"{{ git_rev('clone', 'origin/feature') }}\"\n"
        "changes:\n  - {repo: clone, from: origin/main, to: '{{ commit }}', paths: [app.conf]}\n"
        "steps:\n  - id: deploy\n    run: git checkout --detach {{ commit }}\n"
    )
    project = project_with(tmp_path, runbook, {})
    ids = make_repo(
        project / "clone",
        {"main": {"app.conf": "a\n"}, "origin/main": None, "origin/feature": {"app.conf": "b\n"}},
    )
    return project, project / "clone", ids


def test_a_branch_that_moves_changes_the_digest_but_not_a_release_of_the_review(
    tmp_path: Path,
) -> None:
    project, clone, ids = git_project(tmp_path)
    runbook = load_runbook(project / "runbooks" / "r.yaml")
    review = make_plan(runbook, HOST, "hosts.yaml")
    assert review.vars["commit"] == ids["origin/feature"]
    assert review.changes[0].to_commit == ids["origin/feature"]
    assert "-a\n+b\n" in review.changes[0].diff

    git(clone, "checkout", "-q", "--detach", ids["origin/feature"])
    (clone / "app.conf").write_text("c\n")
    git(clone, "commit", "-q", "-am", "moved")
    git(clone, "update-ref", "refs/remotes/origin/feature", "HEAD")

    actual = make_plan(runbook, HOST, "hosts.yaml")  # this command's reads: the reviewed commit
    assert actual.steps[0].command == f"git checkout --detach {ids['origin/feature']}"
    again = plan_for(project)
    assert again.vars["commit"] != ids["origin/feature"]
    assert again.digest != review.digest


def test_the_digest_binds_the_changes_diff(tmp_path: Path) -> None:
    project, _, ids = git_project(tmp_path)
    one = plan_for(project)
    two = plan_for(project, commit=ids["origin/feature"])  # the same commit, given literally
    assert one.digest == two.digest
    three = plan_for(project, commit=ids["main"])  # nothing changes: an empty diff
    assert three.changes[0].diff == "" and three.digest != one.digest


def test_git_runs_without_the_callers_git_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, _, ids = git_project(tmp_path)
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'diff.noprefix'='true'")
    plan = plan_for(project)
    assert plan.vars["commit"] == ids["origin/feature"]
    assert "--- a/app.conf" in plan.changes[0].diff


# --- the host side, on this machine ----------------------------------------------------------


def test_a_put_creates_a_new_file_and_rollback_removes_it(tmp_path: Path, host_dir: Path) -> None:
    dest = host_dir / "new.conf"
    project = project_with(
        tmp_path, put_runbook(dest, backup=False), {"files/app.conf": "new file\n"}
    )
    run, _ = local_run(plan_for(project, run_id="run-1"))
    assert release([run], YesGate()) == DONE
    assert dest.read_bytes() == b"new file\n" and (dest.stat().st_mode & 0o777) == 0o640
    (made,) = journal(run).of(Put)
    assert made.created and made.sha256 == sha(b"new file\n") and made.backup is None
    assert [p.name for p in host_dir.iterdir()] == ["new.conf"]  # no temporary file left

    back, _ = local_run(
        plan_for(project, run_id="run-2"), run_id="run-2", created={str(dest): made}
    )
    assert rollback([back], YesGate(), "test") == DONE
    assert not dest.exists()
    (removed,) = journal(back).of(Remove)
    assert removed.path == str(dest)


def test_a_put_over_a_file_no_step_backed_up_is_refused_and_changes_nothing(
    tmp_path: Path, host_dir: Path
) -> None:
    dest = host_dir / "live.conf"
    dest.write_text("live\n")
    project = project_with(tmp_path, put_runbook(dest, backup=False), {"files/app.conf": "new\n"})
    run, screen = local_run(plan_for(project, run_id="run-1"))
    assert release([run], YesGate()) == STEP_FAILED
    assert dest.read_text() == "live\n"
    assert "exists and no earlier step of this run backed it up" in screen.getvalue()
    assert [p.name for p in host_dir.iterdir()] == ["live.conf"]
    assert not journal(run).of(Put)


def test_a_symlink_planted_after_the_backup_is_replaced_not_written_through(
    tmp_path: Path, host_dir: Path
) -> None:
    target = tmp_path / "target.txt"
    target.write_text("the link's target must not change\n")
    before = sha(target.read_bytes())
    dest = host_dir / "app.conf"
    dest.write_text("live\n")
    runbook = (
        f"name: r\nsteps:\n  - id: backup\n    backup: {dest}\n"
        f"  - id: plant\n    run: rm {dest} && ln -s {target} {dest}\n"  # what an attacker does
        f"  - id: put\n    put: {{src: files/app.conf, dest: {dest}}}\n"
        f"rollback:\n  - id: restore\n    restore: {dest}\n"
    )
    project = project_with(tmp_path, runbook, {"files/app.conf": "new\n"})
    run, _ = local_run(plan_for(project, run_id="run-1"))
    assert release([run], YesGate()) == DONE
    assert not dest.is_symlink() and dest.read_text() == "new\n"
    assert sha(target.read_bytes()) == before
    (made,) = journal(run).of(Put)
    assert not made.created and made.backup

    back, _ = local_run(plan_for(project, run_id="run-2"), run_id="run-2", backups=run.backups)
    assert rollback([back], YesGate(), "test") == DONE
    assert dest.read_text() == "live\n" and not dest.is_symlink()
    assert journal(back).of(Restore)
    assert sha(target.read_bytes()) == before


def test_a_put_into_a_directory_others_may_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    project = project_with(
        tmp_path, put_runbook(shared / "a.conf", backup=False), {"files/app.conf": "x\n"}
    )
    run, screen = local_run(plan_for(project, run_id="run-1"))
    assert release([run], YesGate()) == STEP_FAILED
    assert "may be written by a user other than" in screen.getvalue()
    assert list(shared.iterdir()) == []


def test_rollback_leaves_a_created_file_that_changed_since(tmp_path: Path, host_dir: Path) -> None:
    dest = host_dir / "new.conf"
    project = project_with(tmp_path, put_runbook(dest, backup=False), {"files/app.conf": "a\n"})
    run, _ = local_run(plan_for(project, run_id="run-1"))
    assert release([run], YesGate()) == DONE
    dest.write_text("edited by hand since\n")
    back, screen = local_run(
        plan_for(project, run_id="run-2"), run_id="run-2", created=dict(run.created)
    )
    assert rollback([back], YesGate(), "test") != DONE
    assert dest.read_text() == "edited by hand since\n"
    assert "changed since the put" in screen.getvalue()


def test_the_host_verifies_the_sha256_of_what_it_wrote() -> None:
    script = scripts.put_script("/x/a", b"data", "0" * 64, "0644", None, replace=True)
    assert 'test "$(sha256sum < "$t" | cut -d " " -f 1)" = ' + "0" * 64 in script
    assert "mktemp /x/.a.put.XXXXXXXXXX" in script and 'mv -fT "$t" "$d"' in script


# --- what people see ---------------------------------------------------------------------------


def test_the_gate_shows_the_live_file_as_a_diff_and_never_reads_through_a_link(
    tmp_path: Path, host_dir: Path
) -> None:
    dest = host_dir / "app.conf"
    dest.write_text("listen 80;\nroot /srv;\n\x1b[2J\n")
    project = project_with(
        tmp_path, put_runbook(dest, backup=True), {"files/app.conf": "listen 8080;\nroot /srv;\n"}
    )
    plan = plan_for(project, run_id="run-1")
    made = Backup(step="backup", path=str(dest), backup=f"{dest}.bak", sha256="0" * 64)
    run, _ = local_run(plan, backups={str(dest): made})
    shown = live_diff(run, plan.steps[1])
    assert "-listen 80;\n    +listen 8080;" in shown and " root /srv;" in shown
    assert "\\x1b[2J" in shown and "\x1b" not in shown
    dest.unlink()
    secret = tmp_path / "shadow"
    secret.write_text("root:secret-hash\n")
    dest.symlink_to(secret)
    shown = live_diff(run, plan.steps[1])
    assert "a symbolic link to" in shown and "secret-hash" not in shown


def test_gate_refusal_is_announced_before_the_question(tmp_path: Path, host_dir: Path) -> None:
    dest = host_dir / "live.conf"
    dest.write_text("live\n")
    project = project_with(tmp_path, put_runbook(dest, backup=False), {"files/app.conf": "new\n"})
    run, screen = local_run(plan_for(project, run_id="run-1"))
    gate = ScriptedGate(["abort"])
    release([run], gate)
    assert "the put will be refused" in screen.getvalue()
    assert "the put will be refused" in gate.asked[0][1]  # and in the details (d)


def review_project(tmp_path: Path) -> Path:
    project = project_with(
        tmp_path,
        "name: r\nsteps:\n  - id: site\n"
        "    put: {src: confs/site.conf, dest: /etc/nginx/site.conf, diff_base: main}\n",
        {},
    )
    make_repo(project, {"main": {"confs/site.conf": "listen 80;\n"}})
    (project / "confs" / "site.conf").write_text("listen 8080;\n# ```` four backticks\n")
    return project


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_review_shows_a_put_as_a_diff_in_a_fence_nothing_inside_closes(
    tmp_path: Path, lang: str
) -> None:
    project = review_project(tmp_path)
    text = markdown.review([plan_for(project)], lang=lang, project_dir=project)
    assert "`````diff\n--- a/confs/site.conf (main " in text
    assert "-listen 80;\n+listen 8080;\n+# ```` four backticks\n`````" in text
    assert "⚠" in text  # no earlier backup of its dest
    assert "'<the " in text  # the script without its base64 data


def test_the_dry_run_and_check_show_the_put_and_warn(tmp_path: Path) -> None:
    project = review_project(tmp_path)
    (project / "hosts.yaml").write_text("hosts:\n  web1: {address: 10.0.0.1, sudo: false}\n")
    text = dry_run([plan_for(project)], approve_command="inv release --approved D")
    assert "diff against main (" in text and "| +listen 8080;" in text
    checked = check_command(Options(project=project))
    assert checked.startswith("warning: runbooks/r.yaml:4: step 'site' puts /etc/nginx/site.conf")
    assert checked.endswith("ok: 1 runbook and 1 host valid; 1 plans rendered")


def test_release_dry_run_refuses_an_approval_of_an_edited_source(tmp_path: Path) -> None:
    project = review_project(tmp_path)
    (project / "hosts.yaml").write_text("hosts:\n  web1: {address: 10.0.0.1, sudo: false}\n")
    opts = Options(project=project, host="web1")
    reviewed = plan_for(project).digest
    (project / "confs" / "site.conf").write_text("listen 9090;\n")
    with pytest.raises(Exception, match="not the approved one"):
        release_command(opts, RunOptions(dry_run=True, approved=reviewed), Console(io.StringIO()))


def test_a_failure_after_a_put_rolls_back_with_yes_and_removes_the_new_file_first(
    tmp_path: Path, host_dir: Path
) -> None:
    dest = host_dir / "new.conf"
    runbook = (
        f"name: r\nsteps:\n  - id: put\n    put: {{src: a.conf, dest: {dest}}}\n"
        "  - id: test\n    run: 'false'\n"
        f"rollback:\n  - id: after\n    run: test ! -e {dest}\n"  # the file is gone by then
    )
    project = project_with(tmp_path, runbook, {"a.conf": "a\n"})
    run, screen = local_run(plan_for(project, run_id="run-1"))
    assert release([run], YesGate()) == STEP_FAILED
    assert not dest.exists()
    assert "rollback done" in screen.getvalue()
    names = [e.name for e in journal(run).events]
    assert names.index("remove") < names.index("step_start", names.index("rollback_start"))
