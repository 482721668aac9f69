"""The problems found in the input files (YAML, the schema, a runbook, an inventory), each said
again by `Words.problems` at the CLI boundary: their keys start with `input.`."""

MESSAGES: dict[str, tuple[str, str]] = {
    # The frame every problem is said in (errors.InputError's English, byte for byte).
    "problems.one": ("1 problem in the input:", "入力に問題が 1 件あります:"),
    "problems.many": ("{count} problems in the input:", "入力に問題が {count} 件あります:"),
    "problems.hint": ("{problem} (hint: {hint})", "{problem}(ヒント: {hint})"),
}
