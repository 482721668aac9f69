"""What the dry run, `inv show --output`, a step's one-line summary (gate, report), the booked
window's days and the notifications' delivery say."""

MESSAGES: dict[str, tuple[str, str]] = {}
