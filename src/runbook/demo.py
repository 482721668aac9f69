"""`inv demo`: the whole story on the sandbox: the check fails, the release fixes it, the report."""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import checks, commands, sandbox
from .commands.inputs import resolve_runbook
from .console import Console
from .errors import DONE
from .options import Options, RunOptions
from .words import Words, choose

DEMO_RUNBOOK = "nginx-websocket"


def run(
    project: Path,
    *,
    lang: str | None = None,
    console: Console | None = None,
    ports: Mapping[str, int] | None = None,
    program: str = "inv",
) -> int:
    """`lang`: the language of its lines, the release's and the report (None: the locale's).
    `program`: `inv` as the operator can type it again (the commands it prints)."""
    words = choose(lang)
    console = console or Console(words=words)
    # The demo releases the shipped runbook: refuse before starting anything where it is not.
    resolve_runbook(Options(runbook=DEMO_RUNBOOK, project=project))
    root = sandbox.default_root(project)
    console.say(words("demo.sandbox"), "bold")
    ports = ports or {}
    sandbox.up(
        root,
        inventory=project / sandbox.INVENTORY,
        say=console.progress,
        ssh_port=ports.get("ssh_port"),
        http_port=ports.get("http_port"),
        backend_port=ports.get("backend_port"),
        words=words,
    )
    box = sandbox.Sandbox.load(root)
    for line in box.reset(words=words):  # a second demo starts from the broken config again
        console.progress(line)

    console.say(words("demo.before", url=box.cable_url), "bold")
    _show_check(console, checks.check_websocket(box.cable_url), box.backend_log, words)

    console.say(f"\n3. inv release --host sandbox --inventory {sandbox.INVENTORY} --yes", "bold")
    password = box.sudo_password
    if password and "RUNBOOK_SUDO_PASSWORD" not in os.environ:
        os.environ["RUNBOOK_SUDO_PASSWORD"] = password  # the sandbox's own, generated password
    opts = Options(
        runbook=DEMO_RUNBOOK,
        inventory=sandbox.INVENTORY,
        host="sandbox",
        project=project,
        program=program,
        lang=words.lang,
    )
    code = commands.release(opts, RunOptions(yes=True), console, interactive=False)

    console.say(words("demo.after", url=box.cable_url), "bold")
    settled = _settled(checks.check_websocket, box.cable_url)
    _show_check(console, settled, box.backend_log, words)

    console.say("\n5. inv report", "bold")
    console.say(commands.report(opts, None, lang=words.lang))
    if code == DONE:
        inv = shlex.quote(program)
        undo = f"{inv} rollback --yes"
        if password:
            undo = f'RUNBOOK_SUDO_PASSWORD="$(cat {box.sudo_password_file})" {undo}'
        console.say(words("demo.undo", undo=undo, down=f"{inv} sandbox.down"), "bold")
    return code


def _settled(check: Callable[[str], Any], url: str, tries: int = 10) -> Any:
    """The check once nginx's old workers are gone: right after a reload they may still answer."""
    result = check(url)
    for _ in range(tries):
        if result.ok:
            break
        time.sleep(0.2)
        result = check(url)
    return result


def _show_check(console: Console, result: object, log: Path, words: Words) -> None:
    ok = getattr(result, "ok", False)
    console.progress(
        ("✅ " if ok else "❌ ") + words.again(str(getattr(result, "summary", ""))),
        "green" if ok else "red",
    )
    try:
        last = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
    except OSError:
        last = []
    if last:
        console.progress(words("demo.app-log", line=last[0]), "dim")
