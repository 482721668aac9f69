"""The refusals of signed approvals and of an approval that does not match what is about to
run: `error.` keys, said again by `Words.again` at the CLI boundary."""

MESSAGES: dict[str, tuple[str, str]] = {}
