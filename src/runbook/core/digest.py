"""The digest: a sha256 over everything that decides what happens on a host.

What it covers is `digest_subject`; a reviewer approves it (`inv show`, `inv approve`), and a
release with `--approved` or signed approvals runs only the plan that has it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from .model import Plan

DIGEST_VERSION = 3  # what the digest covers; a change to it is a new version


def plan_digest(plan: Plan, *, portable: Callable[[str], str] = str) -> str:
    """sha256 over everything that decides what happens on the host (`digest_subject`)."""
    subject = digest_subject(plan, portable=portable)
    canonical = json.dumps(subject, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def digest_subject(plan: Plan, *, portable: Callable[[str], str] = str) -> dict[str, Any]:
    """What the digest is computed over, as plain JSON values.

    Covered: the runbook's name, title and description; every step and rollback step as it
    will be sent (secrets and `run.*` as placeholders, so the digest a reviewer sees is the
    one the release computes) with its options and note (a put: its content's sha256); the
    diffs of `changes:`; the connection: address, port, user, identity file, known_hosts
    files and the host keys they trust (looked up as `ssh` does: HostKeyAlias, HostName),
    sudo, pty (only when set), lock, backup directory, connect timeout and whether approval
    is required; where the operator's ssh_config decides it, the host name, user, port,
    ProxyJump, ProxyCommand and HostKeyAlias really used (`plan.ssh_config`); the signatures
    `approval` asks for (signers file and how many; only when set). Local paths go through
    `portable` (`~/...`,
    project-relative), so machines with the checkout in other places agree.
    """
    host = plan.host
    subject: dict[str, Any] = {
        "digest_version": DIGEST_VERSION,
        "runbook": plan.runbook,
        "title": plan.title,
        "description": plan.description,
        "host": {
            "name": host.name,
            "address": host.address,
            "user": host.user,
            "port": host.port,
            "identity": portable(host.identity) if host.identity else None,
            "known_hosts": [portable(k) for k in host.known_hosts],
            "sudo": host.sudo,
            "require_approval": host.require_approval,
            "lock": host.lock,
            "backup_dir": host.backup_dir,
            "connect_timeout": host.connect_timeout,
        },
        "trust": [[k.marker, k.key_type, k.fingerprint] for k in plan.trust],
        "steps": [s.to_json() for s in plan.steps],
        "rollback": [s.to_json() for s in plan.rollback],
        "changes": [c.to_json() for c in plan.changes],
    }
    if host.pty:  # commands run on a terminal (absent when not: digests stay as before)
        subject["host"]["pty"] = True
    if host.approval is not None:
        subject["host"]["approval"] = {
            "signers": portable(host.approval.signers),
            "required": host.approval.required,
        }
    if plan.ssh_config:  # where ssh_config sends the connection (absent: as before)
        subject["ssh_config"] = [list(pair) for pair in plan.ssh_config]
    if plan.templates:  # a project's own review or report templates (absent: as before)
        subject["templates"] = dict(plan.templates)
    # Through JSON and back: enums become their text, tuples lists, as the hash sees them.
    return dict(json.loads(json.dumps(subject, ensure_ascii=False)))


def group_digest(plans: Sequence[Plan]) -> str:
    """sha256 over the plan digests of several hosts, in order: approves a group as reviewed."""
    joined = "\n".join(f"{p.host.name} {p.digest}" for p in plans)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()
