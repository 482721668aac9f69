"""What the tool's own scripts say on the host (backup, restore, put: `core.scripts`), as it
arrives in a step's message: `step.` keys, said again by `Words.again` where a step's message
is shown (console, report)."""

MESSAGES: dict[str, tuple[str, str]] = {}
