"""The words in a sentence (outcomes, results, answers), `inv check`, the dry run, `inv
preflight`, `inv history`, the host's state and next moves, the error boundary."""

MESSAGES: dict[str, tuple[str, str]] = {
    # --- words in a sentence: outcomes, results, answers, kinds --------------------------------
    "outcome.ok": ("ok", "成功"),
    "outcome.failed": ("failed", "失敗"),
    "outcome.unknown": ("unknown", "不明"),
    "outcome.skipped": ("skipped", "スキップ"),
    "outcome.not-run": ("not run", "未実行"),
    "outcome.done-earlier": ("done earlier", "以前の実行で完了"),
    "result.done": ("done", "完了"),
    "result.failed": ("failed", "失敗"),
    "result.rolled-back": ("rolled back", "切り戻し済み"),
    "result.rollback-failed": ("rollback failed", "切り戻し失敗"),
    "result.stopped": ("stopped", "中止"),
    "result.interrupted": ("interrupted", "中断"),
    "result.unknown": ("outcome unknown", "結果不明"),
    "result.refused": ("refused", "拒否"),
    "result.unfinished": ("unfinished", "未完了"),
    "answer.yes": ("yes", "はい"),
    "answer.skip": ("skip", "スキップ"),
    "answer.abort": ("abort", "中止"),
    "answer.retry": ("retry", "再試行"),
    "answer.rollback": ("rollback", "切り戻し"),
    "answer.refused": ("refused", "拒否"),
    "answer.no gate": ("no gate", "確認なし"),
    "answer.by-yes": ("{answer} (--yes)", "{answer}（--yes）"),
    "kind.release": ("release", "リリース"),
    "kind.rollback": ("rollback", "切り戻し"),
    "phase.step": ("step", "手順"),
    "phase.rollback-step": ("rollback step", "切り戻し手順"),
    "list.and": (", ", "、"),
    # --- inv check and the dry run -------------------------------------------------------------
    "check.warning": ("warning: {warning}", "警告: {warning}"),
    "check.runbook": ("{count} runbook", "ランブック {count} 件"),
    "check.runbooks": ("{count} runbooks", "ランブック {count} 件"),
    "check.host": ("{count} host", "ホスト {count} 台"),
    "check.hosts": ("{count} hosts", "ホスト {count} 台"),
    "check.ok": (
        "ok: {runbooks} and {hosts} valid; {plans} plans rendered",
        "OK: {runbooks}と{hosts}は正常、計画 {plans} 件を生成しました",
    ),
    "dry.ssh-config": ("(ssh config)", "（ssh の設定）"),
    "dry.plan": (
        "plan {runbook} for {host} ({target})",
        "{host} 向けの {runbook} の計画（{target}）",
    ),
    "dry.trusts": ("trusts {key}", "信頼するホスト鍵: {key}"),
    "dry.trusts-none": (
        "trusts no host key for {address} yet (the connection will be refused)",
        "{address} の信頼するホスト鍵はまだありません（接続は拒否されます）",
    ),
    "dry.rollback": ("rollback:", "切り戻し:"),
    "dry.here": ("on this machine", "この端末で実行"),
    "dry.removed-first": (
        "  first (no gate): remove each file a put created, while it has the put's sha256: {paths}",
        "  最初に（確認なし）: put が作成した各ファイルを、put の sha256 のままなら削除: {paths}",
    ),
    "dry.nothing": (
        "dry run: nothing was connected or changed",
        "ドライラン: 接続も変更もしていません",
    ),
    "dry.digest-all": (
        "digest of all {count} hosts sha256:{digest}",
        "全 {count} 台のダイジェスト sha256:{digest}",
    ),
    "dry.approve": ("approve with: {command}", "承認するには: {command}"),
    # --- inv preflight (the frame; each check's own words are English for now) -------------
    "preflight.head": ("preflight {runbook} on {host}", "{host} で {runbook} の事前確認"),
    "preflight.ok": ("  ok       {check}{note}", "  OK       {check}{note}"),
    "preflight.problem": ("  PROBLEM  {check}: {problem}", "  問題     {check}: {problem}"),
    "preflight.hint": ("           hint: {hint}", "           ヒント: {hint}"),
    "preflight.failed": (
        "preflight: problems on {hosts}; fix them, then {command} again",
        "事前確認: {hosts} に問題があります。直してから、もう一度 {command}",
    ),
    "preflight.passed": (
        "preflight: every check passed on {hosts}; next: {command}",
        "事前確認: {hosts} ですべての確認に合格しました。次: {command}",
    ),
    # --- inv history -------------------------------------------------------------------------
    "history.run": ("run", "実行"),
    "history.kind": ("kind", "種別"),
    "history.host": ("host", "ホスト"),
    "history.runbook": ("runbook", "ランブック"),
    "history.result": ("result", "結果"),
    "history.started": ("started", "開始"),
    "history.rollback-unfinished": ("rollback-unfinished", "切り戻し未完了"),
    "history.by": ("{result} (by {run})", "{result}（{run} による）"),
    "history.undoes": ("undoes {run}", "{run} を切り戻し"),
    "history.resumes": ("resumes {run}", "{run} を再開"),
    "history.none": ("no runs yet in {path}", "{path} にはまだ実行がありません"),
    # --- the host's state and the next moves (journal.state) ----------------------------------
    "state.line": ("the host {host}: {state}", "ホスト {host}: {state}"),
    "state.sep": ("; ", "。"),
    "state.only-skipped": (
        "no step of this run changed it; skipped, so not done: {steps}",
        "この実行で変更した手順はありません。スキップした手順（未実施）: {steps}",
    ),
    "state.damaged": (
        "its journal is damaged (line {lines} of {journal} is not an event): what follows may "
        "miss steps or backups",
        "ジャーナルが壊れています（{journal} の {lines} 行目がイベントではありません）: "
        "以下の内容には手順やバックアップの記録が欠けているかもしれません",
    ),
    "state.ran-here": (
        "ran on this machine, not on the host: {steps}",
        "ホストではなくこの端末で実行した手順: {steps}",
    ),
    "state.unchanged": ("not changed by this run", "この実行では変更されていません"),
    "state.skipped": ("skipped, so not done: {steps}", "スキップした手順（未実施）: {steps}"),
    "state.rolled-back": (
        "rolled back (its steps ran)",
        "切り戻し済み（切り戻し手順を実行しました）",
    ),
    "state.rolled-back-run": (
        "run {run} rolled back (its steps ran)",
        "実行 {run} を切り戻し済み（切り戻し手順を実行しました）",
    ),
    "state.rollback-unfinished": (
        "the rollback did not finish ({result}): it needs hands-on care",
        "切り戻しが完了していません（{result}）。直接確認し対処する必要があります",
    ),
    "state.rollback-unfinished-run": (
        "the rollback of run {run} did not finish ({result}): it needs hands-on care",
        "実行 {run} の切り戻しが完了していません（{result}）。直接確認し対処する必要があります",
    ),
    "state.may-run": ("{steps} may still be running there", "{steps} はまだ実行中かもしれません"),
    "state.lock-held": (
        "the host lock stays held by run {run}",
        "ホストのロックは実行 {run} が保持したままです",
    ),
    "next.command": ("next: {command}  ({why})", "次: {command}  （{why}）"),
    "next.by-hand": ("next: {why}", "次: {why}"),
    "move.report": ("the report", "レポート"),
    "move.hands-on": ("check the host by hand", "ホストを直接確認してください"),
    "move.hands-on-damaged": (
        "check the host by hand: the journal cannot tell what was changed ({journal})",
        "ホストを直接確認してください: ジャーナルからは何が変更されたか分かりません（{journal}）",
    ),
    "move.hands-on-rollback": (
        "the rollback did not finish: check the host by hand",
        "切り戻しが完了していません。ホストを直接確認してください",
    ),
    "move.rollback-again": (
        "when the host is reachable and checked, run the rollback again",
        "ホストに接続でき確認できたら、切り戻しをもう一度実行",
    ),
    "move.not-started": (
        "{host} was not started: when ready, release it",
        "{host} は未開始です: 準備ができたらリリース",
    ),
    "move.rerun": ("fix the cause, then run it again", "原因を直してから、もう一度実行"),
    "move.release-again": (
        "after fixing the cause, release again",
        "原因を直してから、もう一度リリース",
    ),
    "move.check-first": (
        "check the host first: a command may still run there",
        "まずホストを確認してください（コマンドがまだ実行中かもしれません）",
    ),
    "move.check-first-idle": (
        "check that run is over first (it was killed between steps: no command of it was running)",
        "まずその実行が終わっていることを確認してください（手順の合間に強制終了されました。"
        "実行中のコマンドはありませんでした）",
    ),
    "move.rollback": ("to undo what changed", "変更を元に戻す"),
    "move.by-hand": (
        "to undo what changed: by hand, no backup of {steps}",
        "変更は手作業で戻してください（{steps} のバックアップなし）",
    ),
    "move.resume": (
        "after fixing the cause, resume at {step}",
        "原因を直してから、{step} から再開",
    ),
    # After a stop the operator chose (an abort, Ctrl-C, a closed window): no cause to fix.
    "move.resume-when-ready": ("when ready, resume at {step}", "準備ができたら、{step} から再開"),
    "move.release-again-when-ready": (
        "when ready, release again",
        "準備ができたら、もう一度リリース",
    ),
    "report.batch": ("{runbook} on {count} hosts together", "{runbook}（{count} 台同時）"),
    "report.batch-head": (
        "{hosts}. One report per host follows.",
        "{hosts}。以下、ホストごとのレポートです。",
    ),
    # --- the error boundary ---------------------------------------------------------------------
    "cli.error": ("error: {message}", "エラー: {message}"),
    "cli.hint": ("  hint: {hint}", "  ヒント: {hint}"),
    "cli.interrupted": ("interrupted", "中断しました"),
    "cli.unknown-language": ("unknown language '{lang}'", "不明な言語 '{lang}'"),
    "cli.languages": ("use one of: {languages}", "次のどれかを使ってください: {languages}"),
    "cli.written": (
        "report of run {run} written to {path}",
        "実行 {run} のレポートを {path} に書き出しました",
    ),
    # A booked window in words (core.window): `mon, tue 23:00-01:00 (next day) Asia/Tokyo`.
    "when.window": ("{days} {start}-{end}{after} {tz}", "{days} {start}〜{end}{after}（{tz}）"),
    "when.every-day": ("every day", "毎日"),
    "when.next-day": (" (next day)", "（翌日）"),
    "when.list": ("{first}, {rest}", "{first}・{rest}"),
    "when.mon": ("mon", "月"),
    "when.tue": ("tue", "火"),
    "when.wed": ("wed", "水"),
    "when.thu": ("thu", "木"),
    "when.fri": ("fri", "金"),
    "when.sat": ("sat", "土"),
    "when.sun": ("sun", "日"),
}
