"""release-runbook: one YAML runbook that is both the reviewed procedure and the thing that runs."""

__version__ = "0.1.0"
