"""How a step looks on the operator's screen: its command, its details, its outcome.

The console and the gate make all of it visible (`text.visible`); `tail` does so before it
cuts lines, so the journal's output tails keep a carriage return inside its line.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.model import Action, Expect, Outcome, PlannedStep
from ..core.scripts import restore_script, step_script
from ..text import visible
from ..words import EN, Words
from .state import Attempt, Run

TAIL_LINES = 20

Work = Callable[[Run], Attempt]


def shown(step: PlannedStep, words: Words = EN) -> str:
    """The step in one line or block, as the console shows it in `words` and the journal
    records it (in English)."""
    if step.action in (Action.BACKUP, Action.RESTORE):
        return f"{words(f'action.{step.action}')} " + " ".join(step.paths)
    return step.display(words)


def where(step: PlannedStep, hosts: list[str], words: Words = EN) -> str:
    """Where a step runs, as the console and the gate say it: a `local` step runs on the
    operator's machine (once for each host of the batch), not on the host it is for."""
    if not step.local:
        return words.join(hosts)
    if len(hosts) > 1:
        return words("run.where.here-for-each", hosts=words.join(hosts))
    return words("run.where.here")


def on(words: Words, key: str, step: PlannedStep, hosts: list[str], **values: object) -> str:
    """`key` said of `step` on `hosts` (its `where`). A `local` step of one host is said by an
    entry of its own (`KEY.here`): the Japanese joins この端末 to the words after it, where a
    host name needs a space."""
    if step.local and len(hosts) == 1:
        return words(f"{key}.here", **values)
    return words(key, where=where(step, hosts, words), **values)


def command(runs: list[Run], steps: list[PlannedStep]) -> None:
    """The exact command, once if every host runs the same one, else per host."""
    console = runs[0].console
    texts = [r.clean(shown(r.filled(s), console.words)) for r, s in zip(runs, steps, strict=True)]
    if len(set(texts)) == 1:
        console.block(texts[0], "  $ " if steps[0].action is Action.RUN else "  ")
        return
    for run, text in zip(runs, texts, strict=True):
        console.block(text, f"  {run.plan.host.name}: ")


def details(run: Run, step: PlannedStep) -> str:
    """What `d` at a gate shows: the step's options and the whole script it sends."""
    step = run.filled(step)
    words = run.console.words
    backup_dir = run.plan.host.backup_dir
    script = _restore_scripts(run, step) or step_script(step, run.run_id, backup_dir, words)
    script = script or step.display(words)
    name = run.plan.host.name
    host = words("show.here-for", host=name) if step.local else name
    said = {"host": host, "id": step.id, "action": words(f"action.{step.action}")}
    lines = [words("show.details", **said, options=options(step, words))]
    if step.action is Action.RUN:
        lines.append(run.clean(words("show.expects", expects=expectations(step.expect, words))))
    lines += ["    " + ln for ln in run.clean(script).splitlines()]
    return "\n".join(lines)


def _restore_scripts(run: Run, step: PlannedStep) -> str:
    """A restore as it will be sent: from the backups this run may restore (the release's,
    read from its journal), not the review's placeholders; "" if it is not a restore."""
    if step.action is not Action.RESTORE:
        return ""
    shown = []
    for path in step.paths:
        made = run.backups.get(path)
        if made is None:
            shown.append(run.console.words("show.no-backup", path=path))
            continue
        shown.append(restore_script(path, made.backup, made.sha256, made.mode, made.target))
    return "\n".join(shown)


def options(step: PlannedStep, words: Words = EN) -> str:
    """A step's sudo, timeout and retries in words: "sudo: as deploy, timeout: 30 s, no retries"."""
    if not step.sudo:
        sudo = words("show.no-sudo")
    else:
        sudo = words("show.sudo") if step.sudo is True else words("show.sudo-as", user=step.sudo)
    timeout = (
        words("show.timeout", seconds=f"{step.timeout:g}")
        if step.timeout
        else words("show.no-timeout")
    )
    retries = (
        words("show.retries", retries=step.retries, delay=f"{step.delay:g}")
        if step.retries
        else words("show.no-retries")
    )
    return words.join((sudo, timeout, retries))


def expectations(expect: Expect, words: Words = EN) -> str:
    """What counts as success: "exits 0 or 2; stdout matches /ready/"."""
    codes = [str(c) for c in expect.exit]
    listed = words.join(codes[:-1])
    exits = words("show.exits-or", codes=listed, last=codes[-1]) if listed else codes[-1]
    said = [words("show.exits", codes=exits)]
    said += [
        words("show.matches", stream=name, pattern=rx)
        for name, rx in (("stdout", expect.stdout), ("stderr", expect.stderr))
        if rx
    ]
    return words("state.sep").join(said)


def outcome(run: Run, attempt: Attempt, duration: float, number: int, attempts: int) -> None:
    """How an attempt ended; its output too, unless it was shown line by line as it came."""
    if run.streamed:
        run.streamed = False  # shown as it came
    elif attempt.result is not None:
        output = (attempt.result.stdout + attempt.result.stderr).strip("\n")
        if output:
            run.console.block(tail(run.clean(output), 10), f"  {run.label}│ ")
    words = run.console.words
    message = run.clean(words.again(attempt.message))
    seconds = f"{duration:.2f}"
    if attempt.status is Outcome.OK:
        said = words("run.ok-said", seconds=seconds, message=message) if message else None
        run.say(said or words("run.ok", seconds=seconds), "green")
    elif attempt.status is Outcome.FAILED and number < attempts:
        run.say(words("run.retrying", number=number, attempts=attempts, message=message), "yellow")
    else:
        run.say(words("run.failed", message=message), "red")


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last `lines` lines of `text`, made visible.

    Only a newline ends a line: a carriage return, form feed or U+2028 stays inside its
    line, made visible (`visible`).
    """
    end = text[:-1] if text.endswith("\n") else text
    return visible("\n".join(end.rsplit("\n", lines)[-lines:]))
