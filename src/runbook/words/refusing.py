"""The messages of refusals by the commands and the executor (locks, rollback, approvals, inputs)
and preflight's lines: `error.` keys are said again by `Words.again` at the CLI boundary."""

MESSAGES: dict[str, tuple[str, str]] = {}
