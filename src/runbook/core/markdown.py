"""Plans and journals in, Markdown out, through the Jinja templates in templates/.

A team adapts the documents by putting its own copy of a template in `./templates/`; the
package's copies are the fallback.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2

from ..errors import RunbookError
from . import scripts
from .model import Action, Plan, PlannedStep, group_digest, mask

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
    if step.action is Action.RUN:
        return mask(step.command or "")
    if step.action is Action.BACKUP:
        return "\n".join(mask(scripts.backup_script(p, run_id)) for p in step.paths)
    if step.action is Action.RESTORE:
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
    approve_command: str = "",
    approvals: Sequence[Any] = (),
    sign_command: str = "",
) -> str:
    """The review document for one runbook on one or more hosts (`inv show`).

    `approvals`: where each `approval:` setting of the hosts stands (who signed, what is
    missing), with `sign_command` to sign; empty when no host asks for signatures.
    """
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
            "approve_command": approve_command,
            "approvals": list(approvals),
            "sign_command": sign_command,
        },
    )


def report(run: dict[str, Any], *, lang: str = "en", project_dir: Path = Path()) -> str:
    """The report of one run, from its journal (`inv report`)."""
    return _render("report", lang, project_dir, {"run": run})
