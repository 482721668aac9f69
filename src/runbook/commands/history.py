"""Runs read back: `inv history`, `inv report`, and what rollback and `--from` need to know."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..core import markdown, mdsafe
from ..core.model import Outcome, Phase, Plan, Result
from ..errors import RefusedError
from ..journal import RunKind, RunRecord, all_runs, find_run
from ..journal.events import (
    Gate,
    Lock,
    LockBroken,
    Put,
    Remove,
    Restore,
    RollbackStart,
    StepEnd,
    StepStart,
)
from ..journal.state import host_state, passed, step_outcomes
from ..options import Options
from ..text import visible, visible_all
from ..words import EN, Words, choose
from . import team
from .review import write_output

OUTCOME_MARKS = {
    Outcome.OK: "✅",
    Outcome.FAILED: "❌",
    Outcome.SKIPPED: "⏭",
    Outcome.UNKNOWN: "❔",
    Outcome.DONE_EARLIER: "↩",
    Outcome.NOT_RUN: "·",
}


def history(opts: Options) -> str:
    """Every run, newest first; a release says who rolled it back, a rollback what it undoes,
    a resumed release what it resumes."""
    words = opts.words
    # English keeps the journal's own words and times, which scripts may read; Japanese is
    # for people: results in words, times on the operator's clock.
    english = words.lang == "en"

    def said(result: object) -> str:
        return str(result) if english else words.result(str(result))

    runs = list(all_runs(opts.state_dir))
    undone = _rollbacks_by_release(runs)
    rows = []
    for r in runs:
        if opts.host and r.host != opts.host:
            continue
        result = said(r.result)
        by = undone.get(r.id)
        if by is not None and r.kind is RunKind.RELEASE:
            ended = (
                words("history.rollback-unfinished")
                if by.result is Result.UNFINISHED
                else said(by.result)
            )
            result = words("history.by", result=ended, run=by.id)
        links = ""
        if r.start.rolls_back:
            links = words("history.undoes", run=r.start.rolls_back)
        elif r.start.resumes:
            links = words("history.resumes", run=r.start.resumes)
        started = r.start.started_at if english else words.time(r.start.started_at)
        kind = str(r.kind) if english else words(f"kind.{r.kind}")
        cells = (r.id, kind, r.host, r.start.runbook, result, started, links)
        rows.append(tuple(visible(str(c)) for c in cells))
    if not rows:
        return words("history.none", path=opts.state_dir / "runs")
    head = tuple(words(f"history.{c}") for c in ("run", "kind", "host", "runbook", "result"))
    head = (*head, words("history.started"), "")
    widths = [max(_cells(x) for x in col) for col in zip(head, *rows, strict=True)]
    return "\n".join(
        "  ".join(c + " " * (w - _cells(c)) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in (head, *rows)
    )


def _cells(text: str) -> int:
    """Terminal cells `text` takes: a wide character (Japanese) takes two, so columns line up."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _rollbacks_by_release(runs: list[RunRecord]) -> dict[str, RunRecord]:
    """release id -> the rollback run that undid it (the newest; one that finished first)."""
    found: dict[str, RunRecord] = {}
    for run in reversed(runs):  # oldest first: a later rollback takes over
        if run.kind is not RunKind.ROLLBACK or not run.start.rolls_back:
            continue
        if run.result is Result.REFUSED:
            continue
        earlier = found.get(run.start.rolls_back)
        if earlier is None or earlier.result is not Result.ROLLED_BACK:
            found[run.start.rolls_back] = run
    return found


def report(
    opts: Options,
    run_id: str | None,
    *,
    lang: str | None = None,
    output: str | None = None,
    force: bool = False,
) -> str:
    """The report of the latest run, or --run ID, or the latest on --host.

    The latest run of a batch (`--parallel`) reports every host of the batch. Its language:
    `lang`, else `--lang`, else the locale, else the one the run was made in (its journal).
    """
    words = opts.words  # an unknown --lang is refused before a journal is read
    record = find_run(opts.state_dir, run_id, host=opts.host)
    words = Words(lang) if lang else choose(opts.lang, recorded=record.start.lang)
    records = [record]
    if record.start.batch and not run_id and not opts.host:
        records = [find_run(opts.state_dir, rid) for rid in record.start.batch]
    records = team.resend(records)  # notifications the run could not deliver
    parts = [
        markdown.report(run_summary(r, words), lang=words.lang, project_dir=opts.project)
        for r in records
    ]
    if len(records) > 1:
        head = mdsafe.text(words.join(f"{r.host} ({words.result(r.result)})" for r in records))
        runbook = mdsafe.text(record.start.runbook)
        title = words("report.batch", runbook=runbook, count=len(records))
        parts.insert(0, f"# {title}\n\n{words('report.batch-head', hosts=head)}\n")
    text = "\n".join(parts)
    if output:
        write_output(opts.project / output, text, force=force, name=output)
        return words("cli.written", run=record.id, path=output)
    return text


def resumed_runs(state_dir: Path, plans: list[Plan], step_id: str) -> dict[str, RunRecord]:
    """For `--from STEP`: each host's interrupted or failed release, whose backups carry over."""
    ids = [s.id for s in plans[0].steps]
    if step_id not in ids:
        raise RefusedError(
            EN("error.from.no-step", step=step_id, runbook=plans[0].runbook),
            hint=EN("error.from.steps", steps=", ".join(ids)),
        )
    before = ids[: ids.index(step_id)]
    found = {}
    undone: dict[str, RunRecord] | None = None  # read once, for every host
    for plan in plans:
        host = plan.host.name
        try:
            earlier = find_run(
                state_dir, host=host, kind=RunKind.RELEASE, started=True, runbook=plan.runbook
            )
        except RefusedError:
            earlier = None
        if earlier is None or earlier.result in (Result.DONE, Result.ROLLED_BACK):
            raise RefusedError(
                EN("error.from.nothing-to-resume", step=step_id, host=host, runbook=plan.runbook),
                hint=EN("error.from.nothing-to-resume-hint"),
            )
        if undone is None:
            undone = _rollbacks_by_release(list(all_runs(state_dir)))
        _refuse_resuming(earlier, before, step_id, undone)
        _refuse_rewritten(earlier, plan, before, step_id)
        found[host] = earlier
    return found


def _refuse_rewritten(earlier: RunRecord, plan: Plan, before: list[str], step_id: str) -> None:
    """Refuse `--from step_id` when a step before it is not, now, the step `earlier` ran: it
    would be taken as done as written now, though what ran was something else (the steps
    from `step_id` on may differ: that is the fix)."""
    plan_record = earlier.start.plan if isinstance(earlier.start.plan, dict) else {}
    recorded = plan_record.get(str(Phase.STEPS), [])
    ran = {str(s.get("id")): _canonical(s) for s in recorded if isinstance(s, dict)}
    now = {s.id: _canonical(s.to_json()) for s in plan.steps}
    for sid in before:
        if ran.get(sid) != now[sid]:
            raise RefusedError(
                EN("error.from.rewritten", step=step_id, earlier=sid, run=earlier.id),
                hint=EN("error.from.rewritten-hint"),
            )


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _refuse_resuming(
    earlier: RunRecord, before: list[str], step_id: str, undone: dict[str, RunRecord]
) -> None:
    """Refuse `--from step_id` of `earlier` unless its steps `before` are done in it, and no
    rollback (its own, or a later `inv rollback`: `undone`, by release) undid part of them."""
    state = host_state(earlier)
    run = {"run": earlier.id, "host": earlier.host}
    if earlier.damaged:
        lines = earlier.damaged_lines
        raise RefusedError(
            EN("error.from.damaged", step=step_id, lines=lines, journal=earlier.path, **run),
            hint=EN("error.from.damaged-hint"),
        )
    undone_by = undone.get(earlier.id)
    if state.rollback is not None or undone_by is not None:
        rollback = undone_by.id if undone_by is not None else earlier.id
        raise RefusedError(
            EN("error.from.rolled-back", step=step_id, **run),
            hint=EN("error.from.rolled-back-hint", rollback=rollback),
        )
    outcomes = step_outcomes(earlier)
    for sid in before:
        outcome = outcomes.get((Phase.STEPS, sid))
        if not passed(outcome):
            said_as = (Outcome.FAILED, Outcome.UNKNOWN, Outcome.SKIPPED)
            how = outcome if outcome in said_as else Outcome.NOT_RUN
            said = EN(f"error.from.outcome.{how}")
            raise RefusedError(
                EN("error.from.not-done", step=step_id, earlier=sid, outcome=said, **run),
                hint=EN("error.from.not-done-hint", resume=state.resume_at or sid),
            )


def not_rollbackable(
    state_dir: Path, released: RunRecord, runs: list[RunRecord] | None = None
) -> str | None:
    """Why a release cannot be rolled back (already done, nothing changed, no backup), or None.

    The refusal is whole: "nothing to roll back" only for a run that changed nothing. `runs`:
    every run, when the caller has read them already.
    """
    state = host_state(released)
    if released.damaged:
        lines = released.damaged_lines
        return EN("error.rollback.damaged", run=released.id, lines=lines, journal=released.path)
    every = runs if runs is not None else list(all_runs(state_dir))
    undone = _rollbacks_by_release(every)
    later = undone.get(released.id)
    run = {"run": released.id, "host": released.host}
    if state.rolled_back:
        return EN("error.rollback.already-in-run", **run)
    if later is not None and later.result is Result.ROLLED_BACK:
        return EN("error.rollback.already-by", **run, by=later.id)
    if not state.changed and not released.backups and not released.created:
        if state.skipped:
            skipped = ", ".join(state.skipped)
            return EN("error.rollback.nothing-skipped", **run, skipped=skipped)
        return EN("error.rollback.nothing", **run)
    if state.without_backup:
        return EN("error.rollback.no-backup", **run, steps=", ".join(state.changed))
    newer = _newer_release(released, every, undone)
    if newer is not None:
        command = f"inv rollback --run {newer.id}"
        return EN(
            "error.rollback.newer",
            **run,
            newer=newer.id,
            runbook=released.start.runbook,
            command=command,
        )
    return None


def _newer_release(
    released: RunRecord, every: list[RunRecord], undone: dict[str, RunRecord]
) -> RunRecord | None:
    """A later release of the same runbook on the same host that changed it and stands (not
    rolled back; `undone`: each release's rollback run): rolling `released` back would put
    back files under that one's feet."""
    for run in every:  # newest first
        if run.id <= released.id:
            break
        if run.kind is not RunKind.RELEASE or run.host != released.host:
            continue
        if run.start.runbook != released.start.runbook or run.result is Result.REFUSED:
            continue
        state = host_state(run)
        rollback = undone.get(run.id)
        if state.rolled_back or (rollback is not None and rollback.result is Result.ROLLED_BACK):
            continue
        if state.changed:
            return run
    return None


def rollbackable_elsewhere(state_dir: Path, latest: RunRecord, host: str | None) -> list[RunRecord]:
    """The latest release of each other runbook (on `host`) that can be rolled back."""
    seen = {latest.start.runbook}
    found = []
    every = list(all_runs(state_dir))
    for run in every:
        if run.kind is not RunKind.RELEASE or run.result is Result.REFUSED:
            continue
        if (host and run.host != host) or run.start.runbook in seen:
            continue
        seen.add(run.start.runbook)
        if not_rollbackable(state_dir, run, every) is None:
            found.append(run)
    return found


def run_summary(record: RunRecord, words: Words = EN) -> dict[str, Any]:
    """A run as the report template wants it: its steps with their outcomes, gates, output.

    Every string is made visible (`text.visible`): a journal may be older than the tool that
    sanitises what it records, or edited, and its plan is kept as it ran. What the tool
    recorded in English is also there said in `words`' language (the `*_said` fields), and
    each time also on the operator's clock (the `*_local` fields).
    """
    return visible_all(_summary(record, words))  # type: ignore[no-any-return]


def _summary(record: RunRecord, words: Words) -> dict[str, Any]:
    start = record.start
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    for phase in Phase:
        for step in start.plan.get(phase, []):
            entries[(phase, step["id"])] = {
                "phase": phase,
                "id": step["id"],
                "number": step["number"],
                "title": step["title"],
                "action": step["action"],
                "outcome": Outcome.NOT_RUN,
                "gates": [],
                "attempts": 0,
                "duration": 0.0,
                "command": "",
                "exit": None,
                "stdout_tail": "",
                "stderr_tail": "",
                "message": "",
                "detail": "",
            }
    running = done = None  # the step started and not ended; the last step that ended
    for event in record.events:
        if not isinstance(event, (Gate, StepStart, StepEnd)):
            continue
        entry = entries.get((event.phase, event.step))
        if entry is None:
            continue
        if isinstance(event, Gate):
            entry["gates"].append(event.answer)
        elif isinstance(event, StepStart):
            entry.update(command=event.command, attempts=event.attempt, outcome=Outcome.UNKNOWN)
            running = entry
        else:
            entry["duration"] = round(entry["duration"] + (event.duration or 0), 3)
            entry.update(
                outcome=event.outcome,
                exit=event.exit,
                stdout_tail=event.stdout_tail,
                stderr_tail=event.stderr_tail,
                message=event.message,
                detail=event.detail,
            )
            running, done = None, entry
    for entry in entries.values():
        entry["mark"] = OUTCOME_MARKS.get(entry["outcome"], "?")
        if entry["outcome"] in (Outcome.NOT_RUN, Outcome.SKIPPED, Outcome.DONE_EARLIER):
            entry["duration"] = None  # it never ran: no time to show
        entry["message"] = _without_exit(entry["message"], entry["exit"])
        entry["outcome_said"] = words.outcome(entry["outcome"])
        entry["gates_said"] = [words.answer(g) for g in entry["gates"]]
        entry["message_said"] = words.again(entry["message"])
        # A step's one line (a put's, a check's) in the reader's language; a script is code.
        script = entry["action"] in ("run", "backup", "restore")
        entry["command_said"] = entry["command"] if script else words.again(entry["command"])
    end = record.end
    return {
        "id": record.id,
        "kind": record.kind,
        "host": record.host,
        "runbook": start.runbook,
        "operator": start.operator,
        "started_at": start.started_at,
        "ended_at": end.at if end else None,
        "started_local": words.time(start.started_at),
        "ended_local": words.time(end.at) if end else None,
        "result_said": words.result(record.result),
        "message_said": words.again(end.message) if end else "",
        "lang": words.lang,
        "digest": start.digest,
        "approvers": [
            {**asdict(a), "signed_local": words.time(a.signed_at)} for a in start.approvers
        ],
        "rolls_back": start.rolls_back,
        "from_step": start.from_step,
        "result": record.result,
        "exit_code": end.exit_code if end else None,
        "message": end.message if end else "",
        "steps": [e for e in entries.values() if e["phase"] == Phase.STEPS],
        "rollback": [e for e in entries.values() if e["phase"] == Phase.ROLLBACK],
        "rollback_started": bool(record.of(RollbackStart)),
        "backups": [b.to_json() for b in record.backups.values()],
        "restores": [r.to_json() for r in record.of(Restore)],
        "puts": [p.to_json() for p in record.of(Put)],
        "removes": [r.to_json() for r in record.of(Remove)],
        "lock": next((lock.to_json() for lock in record.of(Lock)), None),
        "lock_broken": [b.to_json() for b in record.of(LockBroken)],
        # Without an end the tool was killed: while a step ran, or between steps (at a gate).
        "stopped_in": running["id"] if (running and not end) else None,
        "stopped_after": done["id"] if (done and not running and not end) else None,
        "next": host_state(record).summary(words),
        **team.summary(record, words),
    }


def _without_exit(message: str, exit_status: int | None) -> str:
    """A failure's message without the "exit status N" the report shows beside it."""
    said = f"exit status {exit_status}"
    if exit_status is None or not message.startswith(said):
        return message
    return message[len(said) :].removeprefix(":").strip()
