"""The message for a login the host refused: which keys were offered, from where, and what
to change (a passphrase, the agent, MaxAuthTries, a method other than keys)."""

from __future__ import annotations

from runbook.errors import ConnectError
from runbook.words import EN

from .ssh_auth import LoginReport

TOO_MANY = "too many authentication failures"  # sshd's words at MaxAuthTries


def login_error(report: LoginReport, who: str, settings: str, where: str) -> ConnectError:
    """Why the login failed, from what was offered: never a wrong reason."""
    offered = len(report.offered)
    agent = _agent_words(report)
    if report.other_methods:
        accepted = any(o.endswith("(accepted)") for o in report.offered)
        return ConnectError(
            EN(
                "error.transport.login.other-methods." + ("after-key" if accepted else "no-key"),
                who=who,
                methods=", ".join(report.other_methods),
                user=repr(report.user),
            ),
            hint=EN("error.transport.login.other-methods.hint"),
        )
    if report.disconnect and TOO_MANY in report.disconnect.lower():
        from_agent = sum(1 for o in report.offered if o.startswith("agent key"))
        tail = (
            EN(
                "error.transport.login.too-many.agent",
                from_agent=from_agent,
                keys=report.agent_keys,
            )
            if from_agent
            else ""
        )
        return ConnectError(
            EN(
                "error.transport.login.too-many",
                who=who,
                offered=offered,
                said=report.disconnect,
                agent=tail,
            ),
            hint=EN("error.transport.login.too-many.hint"),
        )
    if report.disconnect:
        return ConnectError(
            EN(
                "error.transport.login.closed",
                who=who,
                user=repr(report.user),
                offered=offered,
                said=report.disconnect,
            ),
            hint=EN("error.transport.login.closed.hint"),
        )
    if report.encrypted:
        others = EN("error.transport.login.encrypted.others", offered=offered) if offered else ""
        return ConnectError(
            EN(
                "error.transport.login.encrypted",
                who=who,
                user=repr(report.user),
                keys=", ".join(report.encrypted),
                agent=agent,
                others=others,
            ),
            hint=EN("error.transport.login.encrypted.hint"),
        )
    tried = (
        EN("error.transport.login.tried", offered=offered, keys=", ".join(report.offered))
        if offered
        else EN("error.transport.login.tried-none")
    )
    return ConnectError(
        EN(
            "error.transport.login.refused",
            who=who,
            user=repr(report.user),
            tried=tried,
            agent=agent,
            only=", IdentitiesOnly" if report.identities_only else "",
        ),
        hint=EN("error.transport.login.refused.hint", settings=settings, where=where),
    )


def _agent_words(report: LoginReport) -> str:
    if report.agent_problem:
        return EN("error.transport.agent.unreachable", where=report.agent_problem)
    if report.agent is None:
        return EN("error.transport.agent.none")
    return EN("error.transport.agent.keys", keys=report.agent_keys, where=report.agent)
