"""The messages of a connection that failed or was refused (transport): said again at the CLI
boundary and in reports in the reader's language (`error.` keys are matched by `Words.again`)."""

MESSAGES: dict[str, tuple[str, str]] = {}
