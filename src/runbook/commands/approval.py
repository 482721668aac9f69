"""Approval: a release runs only the plan a reviewer approved, by its full digest.

`inv show` keeps what it showed (the digest's subject, per host) under `<state>/reviews/`, so a
release whose digest differs from the approved one can say what differs, not only that it does.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.digest import digest_subject, group_digest
from ..core.model import Plan
from ..core.trust import portable
from ..errors import RefusedError
from ..options import Options
from ..words import EN
from .inputs import command_line

FULL_DIGEST = re.compile(r"[0-9a-f]{64}")
MAX_DIFFERENCES = 8

# One line of what differs: its catalog key (`error.approval.differs-...`) and values.
Difference = tuple[str, dict[str, str]]


def digest_of(plans: Sequence[Plan]) -> str:
    """One host's plan digest; for several hosts the digest over all of theirs."""
    return plans[0].digest if len(plans) == 1 else group_digest(plans)


def approve_command(opts: Options, plans: Sequence[Plan]) -> str:
    """The release command that runs exactly these plans, with their full digest."""
    return command_line("release", opts, "--approved", digest_of(plans))


def check_approval(
    plans: Sequence[Plan], approved: str | None, *, state_dir: Path, show_command: str
) -> None:
    """`--approved DIGEST` must be the plan's full digest; a host with `require_approval`
    runs only with it, or with the signatures of its `approval:` (commands.signatures), which
    approve the digest too. `show_command` is how to review (for the hint)."""
    if not approved:
        for plan in plans:
            if plan.host.require_approval and plan.host.approval is None:
                raise RefusedError(
                    EN("error.approval.required", host=plan.host.name),
                    hint=EN("error.approval.required-hint", command=show_command),
                )
        return
    wanted = approved.strip().lower().removeprefix("sha256:")
    if not FULL_DIGEST.fullmatch(wanted):
        raise RefusedError(
            EN("error.approval.whole-digest"),
            hint=EN("error.approval.whole-digest-hint", command=show_command),
        )
    actual = digest_of(plans)
    if actual == wanted:
        return
    what = plans[0].host.name if len(plans) == 1 else EN("error.approval.these-hosts")
    # One line each: `Words.again` says a refusal's lines again one by one.
    differences = "".join("\n" + EN(k, **v) for k, v in _differences(state_dir, wanted, plans))
    raise RefusedError(
        EN(
            "error.approval.mismatch",
            what=what,
            actual=actual,
            wanted=wanted,
            differences=differences,
        ),
        hint=EN("error.approval.mismatch-hint", command=show_command),
    )


def remember_review(state_dir: Path, plans: Sequence[Plan]) -> None:
    """Keep what `inv show` showed, by digest (best effort: a review never fails for it)."""
    folder = state_dir / "reviews"
    record = {"digest": digest_of(plans), "hosts": {p.host.name: _subject(p) for p in plans}}
    with contextlib.suppress(OSError):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / f"{record['digest']}.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=False, indent=1, sort_keys=True)


def _differences(state_dir: Path, wanted: str, plans: Sequence[Plan]) -> list[Difference]:
    """What differs between the reviewed plan (if this machine kept it) and this one."""
    try:
        reviewed = json.loads((state_dir / "reviews" / f"{wanted}.json").read_text("utf-8"))
        hosts = reviewed["hosts"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    found: list[Difference] = []
    for plan in plans:
        host = plan.host.name
        before = hosts.get(host) if isinstance(hosts, dict) else None
        if before is None:
            found.append(("error.approval.differs-not-reviewed", {"host": host}))
            continue
        for key, values in _walk(before, _subject(plan), ""):
            where = f"{host}: {values['where']}"
            if key == "error.approval.differs":  # a value changed: no words of ours in it
                values = {"difference": f"{where}: {values['before']} → {values['after']}"}
            found.append((key, {**values, "host": host, "where": where}))
    extra = len(found) - MAX_DIFFERENCES
    more = [("error.approval.differs-more", {"count": str(extra)})] if extra > 0 else []
    return found[:MAX_DIFFERENCES] + more


def _subject(plan: Plan) -> dict[str, Any]:
    return digest_subject(plan, portable=portable)


def _walk(before: Any, after: Any, where: str) -> list[Difference]:
    """The paths where two JSON values differ, with the values when they are short."""
    if isinstance(before, dict) and isinstance(after, dict):
        keys = sorted(set(before) | set(after))
        return [d for k in keys for d in _walk(before.get(k), after.get(k), f"{where}.{k}")]
    if isinstance(before, list) and isinstance(after, list):
        if len(before) == len(after) and all(isinstance(v, dict) for v in before + after):
            pairs = zip(before, after, strict=True)
            return [d for i, (b, a) in enumerate(pairs) for d in _walk(b, a, f"{where}[{i}]")]
        if before != after:
            path = where.lstrip(".")
            old = [json.dumps(v, ensure_ascii=False) for v in before]
            new = [json.dumps(v, ensure_ascii=False) for v in after]
            gone = [_said("removed", path, value=_short(v)) for v in old if v not in new]
            added = [_said("added", path, value=_short(v)) for v in new if v not in old]
            return gone + added or [_said("reordered", path)]
        return []
    if before == after:
        return []
    before_text = _short(json.dumps(before, ensure_ascii=False))
    after_text = _short(json.dumps(after, ensure_ascii=False))
    path = where.lstrip(".")
    return [_said("" if path else "plan", path, before=before_text, after=after_text)]


def _said(kind: str, where: str, **values: str) -> Difference:
    """A line of what differs (`kind` "": a value changed), `where` in the plan (a host's
    whole plan: `plan`)."""
    return "error.approval.differs" + (f"-{kind}" if kind else ""), {"where": where, **values}


def _short(text: str) -> str:
    return text if len(text) <= 100 else text[:97] + "..."
