"""Plans and journals in, Markdown out, through the Jinja templates in templates/.

A team adapts the documents by putting its own copy of a template in `./templates/`; the
package's copies are the fallback.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2

from . import scripts
from ..errors import RunbookError
from .model import Plan, PlannedStep, mask

LANGUAGES = ("en", "ja")
PACKAGED = Path(__file__).parent.parent / "templates"


def _environment(project_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(project_dir / "templates"), str(PACKAGED)]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["mask"] = lambda text: mask(str(text))
    env.filters["script"] = step_script
    env.filters["code"] = _inline_code
    env.filters["blockquote"] = lambda text: "\n".join(
        "> " + line for line in mask(str(text)).strip().splitlines()
    )
    return env


def step_script(step: PlannedStep, run_id: str = "{run.id}") -> str:
    """The shell the tool sends for a step (secrets masked), or "" when nothing runs remotely."""
    if step.action == "run":
        return mask(step.command or "")
    if step.action == "backup":
        return "\n".join(mask(scripts.backup_script(p, run_id)) for p in step.paths)
    if step.action == "restore":
        return "\n".join(
            mask(
                scripts.restore_script(
                    p, scripts.backup_path(p, "{released run.id}"), "{sha256 recorded at backup}"
                )
            )
            for p in step.paths
        )
    return ""


def _inline_code(text: Any) -> str:
    """`text` as inline Markdown code, even when it holds backticks."""
    value = mask(str(text))
    return f"`` {value} ``" if "`" in value else f"`{value}`"


def _render(name: str, lang: str, project_dir: Path, context: dict[str, Any]) -> str:
    if lang not in LANGUAGES:
        raise RunbookError(f"unknown language '{lang}'", hint="use one of: " + ", ".join(LANGUAGES))
    env = _environment(project_dir)
    try:
        return env.get_template(f"{name}.{lang}.md.j2").render(context)
    except jinja2.TemplateNotFound as exc:
        raise RunbookError(f"template {exc.name} not found in ./templates or the package") from exc
    except jinja2.TemplateError as exc:
        where = f"{getattr(exc, 'filename', None) or name}:{getattr(exc, 'lineno', '?')}"
        raise RunbookError(f"template {where}: {exc}") from exc


def review(
    plans: Sequence[Plan],
    *,
    lang: str = "en",
    window: str | None = None,
    operators: Sequence[str] = (),
    project_dir: Path = Path(),
    target: str | None = None,
) -> str:
    """The review document for one runbook on one or more hosts (SPEC 6, `inv show`)."""
    from .model import group_digest

    first = plans[0]
    return _render(
        "review",
        lang,
        project_dir,
        {
            "plans": plans,
            "first": first,
            "window": window,
            "operators": list(operators),
            "group_digest": group_digest(plans) if len(plans) > 1 else None,
            "target": target or first.host.name,
        },
    )


def report(run: dict[str, Any], *, lang: str = "en", project_dir: Path = Path()) -> str:
    """The report of one run, from its journal (SPEC 6, `inv report`)."""
    return _render("report", lang, project_dir, {"run": run})


OUTCOME_MARKS = {
    "ok": "✅",
    "failed": "❌",
    "skipped": "⏭",
    "unknown": "❔",
    "done-earlier": "↩",
    "not-run": "·",
}


def run_summary(record: Any) -> dict[str, Any]:
    """A journal (journal.RunRecord) as the report template wants it: steps with outcomes."""
    start = record.start
    plan = start.get("plan", {})
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    for phase in ("steps", "rollback"):
        for step in plan.get(phase, []):
            entries[(phase, step["id"])] = {
                "phase": phase,
                "id": step["id"],
                "number": step["number"],
                "title": step["title"],
                "action": step["action"],
                "outcome": "not-run",
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
        key = (event.get("phase", ""), event.get("step", ""))
        entry = entries.get(key)
        kind = event["event"]
        if kind in ("gate", "step_start", "step_end") and entry is None:
            continue
        if kind == "gate":
            entry["gates"].append(event["answer"])  # type: ignore[index]
        elif kind == "step_start":
            entry.update(
                command=event.get("command", ""),
                attempts=event.get("attempt", 1),  # type: ignore[union-attr]
                outcome="unknown",
            )
            running = entry
        elif kind == "step_end":
            entry["duration"] = round(entry["duration"] + (event.get("duration") or 0), 3)  # type: ignore[index]
            entry.update(
                {
                    k: event.get(k, entry[k])
                    for k in ("outcome", "exit", "stdout_tail", "stderr_tail", "message", "detail")  # type: ignore[union-attr,index]
                }
            )
            running, done = None, entry
    for entry in entries.values():
        entry["mark"] = OUTCOME_MARKS.get(entry["outcome"], "?")
    end = record.end
    return {
        "id": record.id,
        "kind": record.kind,
        "host": record.host,
        "runbook": start.get("runbook", "?"),
        "operator": start.get("operator", "?"),
        "started_at": start.get("started_at", "?"),
        "ended_at": end.get("at") if end else None,
        "digest": start.get("digest", "?"),
        "rolls_back": start.get("rolls_back"),
        "from_step": start.get("from_step"),
        "result": record.result,
        "exit_code": end.get("exit_code") if end else None,
        "message": end.get("message", "") if end else "",
        "steps": [e for e in entries.values() if e["phase"] == "steps"],
        "rollback": [e for e in entries.values() if e["phase"] == "rollback"],
        "rollback_started": bool(record.of("rollback_start")),
        "backups": list(record.backups.values()),
        "restores": record.of("restore"),
        "lock": next(iter(record.of("lock")), None),
        "lock_broken": record.of("lock_broken"),
        # Without an end the tool was killed: while a step ran, or between steps (at a gate).
        "stopped_in": running["id"] if (running and not end) else None,
        "stopped_after": done["id"] if (done and not running and not end) else None,
    }
