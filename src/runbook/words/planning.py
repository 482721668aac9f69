"""The problems found while rendering and planning a runbook for a host (templates, vars,
puts, changes, --var, secrets): `input.` keys, said again by `Words.problems`."""

MESSAGES: dict[str, tuple[str, str]] = {}
