"""A planted secret and the sudo password, looked for everywhere the tool writes or prints.

The secret (RUNBOOK_SECRET_TOKEN) is a unique random value wrapped in shell and URL trouble
(quotes, `$( )`, a space); the test searches for its random core, so a leak is found even
quoted, escaped or percent-encoded. It must show as *** everywhere — console (stdout and
stderr) of a release, of `inv --debug release`, of a failing release and its rollback, of a
failing check and of a refused sudo password; the journals; `inv report` (en, ja); `inv show`;
`inv release --dry-run`; `inv history` — while the commands on the host really received it
(each writes the sha256 of what it got).
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .test_attack_support import Target, run_id, sha256, shown, target

pytestmark = pytest.mark.e2e
__all__ = ["target"]  # the fixture, imported so that pytest finds it here

SHA = "printf '%s' {{ secrets.token }} | sha256sum | cut -d' ' -f1 > {{ out }}/"


def _probe_runbooks(target: Target) -> None:
    """`leak` succeeds; `failing` backs up, prints the secret, fails and rolls back; `check`
    fails a check whose URL carries the secret."""
    conf = target.dir.parent / "app.conf"  # root's directory: `out` is anyone's, refused
    conf.write_text("setting = 1\n")
    common: dict[str, Any] = {
        "vars": {
            "out": str(target.out),
            "pwfile": str(target.box.sudo_password_file),
            "conf": str(conf),
            "site": target.box.http_url,
        },
        "secrets": ["token"],
    }
    target.write_runbook(
        {
            "title": "Leak probe {{ secrets.token }}",
            "description": "Deploys with {{ secrets.token }}.",
            **common,
            "steps": [
                {
                    "id": "receive",
                    "title": "Receive {{ secrets.token }}",
                    "note": "uses `{{ secrets.token }}`",
                    "run": SHA + "sha-plain",
                },
                {"id": "receive-sudo", "sudo": True, "run": SHA + "sha-sudo"},
                {"id": "receive-local", "local": True, "run": SHA + "sha-local"},
                {
                    "id": "echo",
                    "run": "printf 'token=%s\\n' {{ secrets.token }}\n"
                    "printf 'stderr token=%s\\n' {{ secrets.token }} >&2\n",
                },
                {"id": "password", "sudo": True, "run": "cat {{ pwfile }}\ncat {{ pwfile }} >&2\n"},
            ],
            "rollback": [{"id": "undo", "run": "echo undo {{ secrets.token }}"}],
        },
        name="leak",
    )
    target.write_runbook(
        {
            "title": "Failing probe",
            **common,
            "steps": [
                {"id": "backup", "sudo": True, "backup": "{{ conf }}"},
                {
                    "id": "fail",
                    "sudo": True,
                    "run": "printf 'out %s\\n' {{ secrets.token }}\n"
                    "cat {{ pwfile }}\n"
                    "printf 'failing with %s\\n' {{ secrets.token }} >&2\nexit 1\n",
                },
            ],
            "rollback": [
                {"id": "restore", "sudo": True, "restore": "{{ conf }}"},
                {"id": "after", "run": "echo restored for {{ secrets.token }} >&2"},
            ],
        },
        name="failing",
    )
    target.write_runbook(
        {
            "title": "Check probe",
            **common,
            "steps": [
                {"id": "check", "check": {"http": {"url": "{{ site }}?t={{ secrets.token }}"}}}
            ],
        },
        name="check",
    )


def test_a_secret_and_the_sudo_password_show_as_stars_everywhere(target: Target) -> None:
    core = secrets.token_hex(12)
    token = f'tok-{core} it\'s "$(true)"'
    wrong_core = secrets.token_hex(12)
    password = target.env["RUNBOOK_SUDO_PASSWORD"]
    never = {"secret": core, "sudo password": password, "wrong sudo password": wrong_core}
    env = {"RUNBOOK_SECRET_TOKEN": token}
    _probe_runbooks(target)
    seen: dict[str, str] = {}

    def run(label: str, *args: str, code: int, extra: dict[str, str] | None = None) -> str:
        result = target.inv(*args, env={**env, **(extra or {})})
        assert result.returncode == code, f"{label}: {shown(result)}"
        seen[label] = result.stdout + result.stderr
        return result.stdout

    release = ("release", "--host", "sandbox", "--yes", "--runbook")
    ok = run("release", *release, "leak", code=0)
    debug = run("--debug release", "--debug", *release, "leak", code=0)
    failing = run("failing release", *release, "failing", code=1)
    check = run("failing check", *release, "check", code=1)
    run(
        "wrong sudo password (--debug)",
        "--debug",
        *release,
        "leak",
        code=2,
        extra={"RUNBOOK_SUDO_PASSWORD": f"wrong-{wrong_core}"},
    )
    run("dry run", "release", "--host", "sandbox", "--dry-run", "--runbook", "leak", code=0)
    for lang in ("en", "ja"):
        run(
            f"show {lang}", "show", "--host", "sandbox", "--runbook", "leak", "--lang", lang, code=0
        )
    run(
        "show --output",
        "show",
        "--host",
        "sandbox",
        "--runbook",
        "failing",
        "--output",
        "review.md",
        code=0,
    )
    run_ids = [
        run_id(subprocess.CompletedProcess([], 0, text, "")) for text in (ok, debug, failing, check)
    ]
    for rid, langs in zip(run_ids, (("en", "ja"), (), ("en", "ja"), ("en",)), strict=True):
        for lang in langs:
            run(f"report {rid} {lang}", "report", "--run", rid, "--lang", lang, code=0)
    run("report --output", "report", "--run", run_ids[2], "--output", "report.md", code=0)
    run("history", "history", code=0)
    for path in sorted(target.state.rglob("*")):
        if path.is_file():
            seen[f"state file {path.relative_to(target.state)}"] = path.read_text()
    for name in ("review.md", "report.md"):
        seen[name] = (target.dir / name).read_text()

    leaks = [
        f"{what} in {where}"
        for where, text in seen.items()
        for what, value in never.items()
        if value in text
    ]
    assert leaks == [], "\n".join(leaks)
    # ... and the commands did get the value: on the host, as root, and locally.
    for name in ("sha-plain", "sha-sudo", "sha-local"):
        assert (target.out / name).read_text().strip() == sha256(token), name
    # What the operator sees instead.
    assert "***" in seen["release"] and "token=***" in seen["release"]
    assert "stderr token=***" in seen["release"]
    assert "step 1/5 on sandbox: Receive ***" in seen["release"]
    assert "uses `***`" in seen["release"]
    assert "failing with ***" in seen["failing release"]
    assert "rollback done" in failing
    assert "refused the password" in seen["wrong sudo password (--debug)"]
    assert "Traceback" in seen["wrong sudo password (--debug)"]  # --debug did show more
    assert "***" in check
    assert "# Leak probe ***" in seen["show en"] and "Deploys with ***." in seen["show ja"]
    assert "1. [receive] Receive ***" in seen["dry run"]
    assert "1. Receive *** |" in seen[f"report {run_ids[0]} en"]
    assert "token=***" in seen[f"report {run_ids[0]} ja"]
    assert len(target.journals()) == 5


def test_the_sudo_password_typed_wrong_is_neither_shown_nor_recorded(target: Target) -> None:
    """The wrong password is a secret too: the refusal names the user, never the value."""
    wrong = f"Wr0ng-{secrets.token_hex(10)}"
    target.write_runbook(
        {
            "title": "Sudo probe",
            "vars": {"out": str(target.out)},
            "steps": [{"id": "root", "sudo": True, "run": "touch {{ out }}/ran-as-root"}],
        }
    )

    result = target.inv(
        "release", "--host", "sandbox", "--yes", env={"RUNBOOK_SUDO_PASSWORD": wrong}
    )

    assert result.returncode == 2, shown(result)
    assert "refused the password" in result.stderr
    assert not (target.out / "ran-as-root").exists()
    (journal,) = target.journals()
    for text in (result.stdout, result.stderr, journal.read_text()):
        assert wrong not in text
    assert not Path(target.box.lock_path).exists()
