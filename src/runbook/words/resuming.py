"""The refusals of `inv rollback` and `--from` (commands.history, commands.fleet): what a
run did and did not do, read from its journal; `error.` keys, said again by `Words.again` at
the CLI boundary."""

MESSAGES: dict[str, tuple[str, str]] = {
    # Rollback and --from (commands.history, commands.fleet).
    "error.rollback.newer": (
        "run {run} on {host} is not the latest release of {runbook} there: run {newer} "
        "changed the host since, and rolling back the older run would put its files back "
        "under the newer one; roll the newer one back first: {command}",
        "{host} の実行 {run} はそこでの {runbook} の最新のリリースではありません: その後に実行 "
        "{newer} がホストを変更しており、古い実行を切り戻すと新しい実行の下でファイルを戻すことに"
        "なります。先に新しい方を切り戻してください: {command}",
    ),
    "error.rollback.damaged": (
        "the journal of run {run} is damaged (line {lines} of {journal} is not an event): "
        "what it changed and backed up cannot be known, so it is not rolled back",
        "実行 {run} のジャーナルが壊れています（{journal} の {lines} 行目がイベントでは"
        "ありません）: 何を変更しバックアップしたか分からないため、切り戻しません",
    ),
    "error.rollback.already-in-run": (
        "run {run} on {host} was already rolled back (in the run)",
        "{host} の実行 {run} はすでに切り戻されています（その実行の中で）",
    ),
    "error.rollback.already-by": (
        "run {run} on {host} was already rolled back (by run {by})",
        "{host} の実行 {run} はすでに切り戻されています（実行 {by} で）",
    ),
    "error.rollback.nothing": (
        "nothing to roll back: run {run} on {host} changed nothing (no step that changes "
        "the host ran)",
        "切り戻すものがありません: {host} の実行 {run} は何も変更していません"
        "（ホストを変更する手順は実行されませんでした）",
    ),
    "error.rollback.nothing-skipped": (
        "nothing to roll back: run {run} on {host} changed nothing (no step that changes "
        "the host ran; skipped: {skipped})",
        "切り戻すものがありません: {host} の実行 {run} は何も変更していません"
        "（ホストを変更する手順は実行されませんでした。スキップ: {skipped}）",
    ),
    "error.rollback.no-backup": (
        "run {run} on {host} changed the host without a backup (steps {steps}): roll back by hand",
        "{host} の実行 {run} はバックアップなしでホストを変更しました（手順 {steps}）: "
        "手作業で切り戻してください",
    ),
    "error.rollback.history-hint": (
        "inv history shows every run",
        "inv history ですべての実行を確認できます",
    ),
    "error.rollback.elsewhere-hint": (
        "the latest release of another runbook can be: {releases}; {rest}",
        "別の runbook の最新リリースなら切り戻せます: {releases}; {rest}",
    ),
    "error.rollback.lock-stays-hint": (
        "no connection was made, so a stale lock stays; `inv release --break-lock {runs}` "
        "removes it; {rest}",
        "接続していないので古いロックは残ります。`inv release --break-lock {runs}` "
        "で削除できます; {rest}",
    ),
    "error.from.no-step": (
        "--from {step}: no such step in {runbook}",
        "--from {step}: {runbook} にその手順はありません",
    ),
    "error.from.steps": ("steps: {steps}", "手順: {steps}"),
    "error.from.nothing-to-resume": (
        "--from {step}: no interrupted or failed release of {runbook} on {host} to resume",
        "--from {step}: {host} に再開できる {runbook} の中断・失敗したリリースがありません",
    ),
    "error.from.rolled-back": (
        "--from {step}: run {run} on {host} was rolled back, or partly: the steps before it "
        "are not done any more",
        "--from {step}: {host} の実行 {run} は切り戻されました（一部だけかもしれません）: "
        "その前の手順はもう完了していません",
    ),
    "error.from.rolled-back-hint": (
        "see `inv report --run {rollback}`; finish the rollback, then release without --from",
        "`inv report --run {rollback}` を確認し、切り戻しを終えてから --from なしで"
        "リリースしてください",
    ),
    "error.from.not-done": (
        "--from {step}: step {earlier} of run {run} on {host} is not done ({outcome}): it "
        "cannot be taken as done",
        "--from {step}: {host} の実行 {run} の手順 {earlier} は完了していません（{outcome}）: "
        "完了済みとして扱えません",
    ),
    "error.from.damaged": (
        "--from {step}: the journal of run {run} on {host} is damaged (line {lines} of "
        "{journal}): which steps are done cannot be known",
        "--from {step}: {host} の実行 {run} のジャーナルが壊れています（{journal} の {lines} "
        "行目）: どの手順が完了したか分かりません",
    ),
    "error.from.damaged-hint": (
        "check the host by hand, then release without --from",
        "ホストを直接確認してから、--from なしでリリースしてください",
    ),
    "error.from.rewritten": (
        "--from {step}: step {earlier} is not what run {run} ran (the runbook, the inventory or "
        "--var changed it since): it cannot be taken as done",
        "--from {step}: 手順 {earlier} は実行 {run} が実行したものと違います（その後 runbook、"
        "インベントリ、--var のどれかで変わりました）: 完了済みとして扱えません",
    ),
    "error.from.rewritten-hint": (
        "release without --from, or undo the change to the steps before the one you resume at",
        "--from なしでリリースするか、再開する手順より前の手順への変更を元に戻してください",
    ),
    "error.from.outcome.failed": ("it failed", "失敗しました"),
    "error.from.outcome.unknown": ("its end is unknown", "終わったかどうか分かりません"),
    "error.from.outcome.not-run": ("it did not run", "実行されていません"),
    "error.from.outcome.skipped": ("it was skipped", "スキップされました"),
    "error.from.not-done-hint": (
        "resume where that run stopped: --from {resume}",
        "その実行が止まったところから再開してください: --from {resume}",
    ),
    "error.from.nothing-to-resume-hint": (
        "inv history lists the runs; release without --from",
        "inv history で実行の一覧を見られます。--from なしでリリースしてください",
    ),
}
