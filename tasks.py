"""`inv --list`: the release-runbook tasks (defined in src/runbook/tasks.py)."""

from runbook.tasks import ns

__all__ = ["ns"]
