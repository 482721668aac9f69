"""What the sandbox tasks, the task layer (Invoke's options, the environment) and a project's
own templates say: the sandbox's progress said by key, errors by `error.` keys said again."""

MESSAGES: dict[str, tuple[str, str]] = {}
