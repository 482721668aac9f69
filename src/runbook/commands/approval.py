"""Approval: a release runs only the plan a reviewer approved, by its digest."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.model import Plan, group_digest
from ..errors import RefusedError


def digest_of(plans: Sequence[Plan]) -> str:
    """One host's plan digest; for several hosts the digest over all of theirs."""
    return plans[0].digest if len(plans) == 1 else group_digest(plans)


def check_approval(plans: Sequence[Plan], approved: str | None) -> None:
    """--approved: the digest of the one host, or for a group the digest `inv show` gives it."""
    if not approved:
        for plan in plans:
            if plan.host.require_approval:
                raise RefusedError(
                    f"host {plan.host.name} requires --approved DIGEST",
                    hint=f"review with inv show --host {plan.host.name}; its "
                    f"digest starts {digest_of(plans)[:12]}",
                )
        return
    wanted = approved.removeprefix("sha256:").lower()
    if len(wanted) < 8:
        raise RefusedError("--approved needs at least 8 characters of the digest")
    actual = digest_of(plans)
    if not actual.startswith(wanted):
        what = plans[0].host.name if len(plans) == 1 else "these hosts"
        raise RefusedError(
            f"the plan for {what} is not the approved one: digest sha256:{actual[:12]}…, "
            f"approved {wanted[:12]}…",
            hint="the runbook, inventory or --var changed since the review; review again with "
            "inv show",
        )
