"""The messages a run records in English (how it ended, what a step said), which the report
says again in the reader's language (`Words.again`)."""

MESSAGES: dict[str, tuple[str, str]] = {
    # --- how a run ended (the end message: console, journal, report, notification) ------------
    "end.release-verified": ("release done and verified", "リリース完了、確認済み"),
    "end.release-unverified": (
        "release done (no check step verified it)",
        "リリース完了（確認の手順では検証していません）",
    ),
    "end.rollback-done": ("rollback done", "切り戻し完了"),
    "end.rollback-done-unrestored": (
        "rollback done: its steps ran, but no rollback step put back {paths} (backed up)",
        "切り戻し完了: 切り戻し手順は実行しましたが、{paths}（バックアップ済み）を戻した手順は"
        "ありません",
    ),
    "end.interrupted": ("interrupted by the operator (Ctrl-C)", "作業者が中断しました（Ctrl-C）"),
    "end.signalled": (
        "ended by {signal} (the terminal closed, a shutdown or a kill), not by the operator",
        "{signal} で終了しました（端末が閉じた、シャットダウン、または kill）。"
        "作業者の操作ではありません",
    ),
    "end.rollback-signalled": (
        "rollback ended by {signal}: {hands_on}",
        "{signal} で切り戻しが終了しました: {hands_on}",
    ),
    "end.rollback-interrupted": (
        "rollback interrupted (Ctrl-C): {hands_on}",
        "切り戻しを中断しました（Ctrl-C）: {hands_on}",
    ),
    "end.stopped-at-prompt": (
        "stopped by the operator at the sudo password prompt of step {step} (Ctrl-C): it did "
        "not start",
        "作業者が手順 {step} の sudo パスワード入力で中止しました（Ctrl-C）: "
        "手順は開始していません",
    ),
    "end.hands-on": ("the host needs hands-on care", "ホストを直接確認し対処する必要があります"),
    "end.no-rollback-steps": (
        "the runbook has no rollback steps: {hands_on}",
        "ランブックに切り戻し手順がありません: {hands_on}",
    ),
    "end.remove-failed": (
        "removing the files put created failed: {why}: {hands_on}",
        "put が作成したファイルの削除に失敗しました: {why}: {hands_on}",
    ),
    "end.no-such-step": (
        "no step '{step}' in the runbook",
        "ランブックに手順 '{step}' はありません",
    ),
    # The kind of step written in: a word given as a value ("step") is never said again.
    "end.stopped": (
        "stopped by the operator at step {number} ({step})",
        "作業者が手順 {number}（{step}）で中止しました",
    ),
    "end.stopped-rollback": (
        "stopped by the operator at rollback step {number} ({step}): {hands_on}",
        "作業者が切り戻し手順 {number}（{step}）で中止しました: {hands_on}",
    ),
    "end.lost": (
        "step {step} on {hosts}: the connection was lost while it ran; its outcome is unknown, "
        "and the host lock stays held by this run. When the host is reachable again, check it "
        "(the command may still be running there) and run `inv rollback --break-lock {held}`",
        "{hosts} の手順 {step}: 実行中に接続が切れたため結果は不明で、ホストのロックはこの実行が"
        "保持したままです。ホストに接続できるようになったら確認し（コマンドがまだ動いているかも"
        "しれません）、`inv rollback --break-lock {held}` を実行してください",
    ),
    # "the old state is back" claimed more than the tool knows (a run step without a backup
    # is back only if a rollback step undoes it): what ran, and what was verified.
    "end.rolled-back": (
        "step {step} failed ({why}); rollback done on {hosts}: its steps ran and the backed-up "
        "files are back, verified",
        "手順 {step} が失敗しました（{why}）。{hosts} の切り戻しが完了しました: 切り戻し手順を"
        "実行し、バックアップしたファイルは検証済みで元に戻っています",
    ),
    "end.rolled-back-some": (
        "step {step} failed ({why}); rollback done on {hosts}: its steps ran and the backed-up "
        "files are back, verified; not changed: {unchanged}",
        "手順 {step} が失敗しました（{why}）。{hosts} の切り戻しが完了しました: 切り戻し手順を"
        "実行し、バックアップしたファイルは検証済みで元に戻っています。変更なし: {unchanged}",
    ),
    "end.rolled-back-unrestored": (
        "step {step} failed ({why}); rollback done on {hosts}: its steps ran, but no rollback "
        "step put back {paths} (backed up)",
        "手順 {step} が失敗しました（{why}）。{hosts} の切り戻しが完了しました: 切り戻し手順は"
        "実行しましたが、{paths}（バックアップ済み）を戻した手順はありません",
    ),
    # What journals written before said, so that their reports are said again too.
    "end.rolled-back-before": (
        "step {step} failed ({why}); rollback done on {hosts}, the old state is back",
        "手順 {step} が失敗しました（{why}）。{hosts} の切り戻しが完了し、元の状態に戻りました",
    ),
    "end.rolled-back-some-before": (
        "step {step} failed ({why}); rollback done on {hosts}, the old state is back; not "
        "changed: {unchanged}",
        "手順 {step} が失敗しました（{why}）。{hosts} の切り戻しが完了し、元の状態に戻りました。"
        "変更なし: {unchanged}",
    ),
    "end.rollback-step-failed": (
        "rollback step {step} failed: {why}; {hands_on}",
        "切り戻し手順 {step} が失敗しました: {why}。{hands_on}",
    ),
    "end.failed-left": (
        "step {step} failed: {why}; host left as it is",
        "手順 {step} が失敗しました: {why}。ホストはそのままです",
    ),
    "end.failed-left-nothing": (
        "step {step} failed: {why}; host left as it is (nothing to roll back: no backup was "
        "made yet)",
        "手順 {step} が失敗しました: {why}。ホストはそのままです（バックアップはまだないため"
        "切り戻すものはありません）",
    ),
    "end.outside-window": (
        "step {number} ({step}) not started: outside the booked window. {lines}. Nothing more "
        'ran; {again}, or give --outside-window "REASON"',
        "手順 {number}（{step}）は開始していません: 作業可能時間帯外です。{lines}。これ以上は"
        '何も実行していません。{again}。または --outside-window "理由" を付けてください',
    ),
    "end.rollback-because": ("step {step} failed: {why}", "手順 {step} が失敗しました: {why}"),
    # Why `inv rollback` rolls back (a rollback's reason, recorded).
    "end.rollback-of-run": ("inv rollback of run {run}", "実行 {run} の inv rollback"),
    # --- what a step said (recorded; said again in the report) ----------------------------------
    "step.done-by-hand": ("done by hand", "手作業で完了"),
    "step.not-confirmed": ("not confirmed by a person (--yes)", "人による確認なし（--yes）"),
    "step.lost": ("the connection was lost while it ran", "実行中に接続が切れました"),
    "step.left-at-prompt": (
        "not started: the operator left at the sudo password prompt (Ctrl-C)",
        "未開始: 作業者が sudo パスワード入力で中断しました（Ctrl-C）",
    ),
    "step.not-started-left": ("not started: the operator left", "未開始: 作業者が中断しました"),
    "step.exit-status": ("exit status {code}", "終了コード {code}"),
    # One host's message when several failed together (joined with "; "): the words in front
    # let it be said again ("{host}: {message}" alone would be only values).
    "step.on-host": ("on host {host}: {message}", "ホスト {host}: {message}"),
    "step.copy-differs": (
        "the copy of {path} differs from it (content, mode or owner)",
        "{path} のコピーが元と異なります（内容、モード、所有者のいずれか）",
    ),
    "step.backed-up": ("{path} in {backup} sha256:{sha}", "{path} を {backup} に保存 sha256:{sha}"),
    "step.backed-up-through": (
        "{path} (→ {target}) in {backup} sha256:{sha}",
        "{path}（→ {target}）を {backup} に保存 sha256:{sha}",
    ),
    "step.no-backup": (
        "no backup of {path} was made by the release",
        "リリースでは {path} のバックアップが作られていません",
    ),
    "step.restored": ("{path} sha256:{sha} verified", "{path} を復元、sha256:{sha} を検証済み"),
    "step.restored-through": (
        "{path} (→ {target}) sha256:{sha} verified",
        "{path}（→ {target}）を復元、sha256:{sha} を検証済み",
    ),
    "step.put-not-reviewed": (
        "the content of {step} is not the reviewed one",
        "{step} の内容がレビューされたものと異なります",
    ),
    "step.put-silent": ("{dest}: the put did not say what it did", "{dest}: put の結果が不明です"),
    "step.put-created": (
        "{dest} created ({mode}) sha256:{sha} verified",
        "{dest} を作成（{mode}）、sha256:{sha} を検証済み",
    ),
    "step.put-replaced": (
        "{dest} replaced ({mode}) sha256:{sha} verified",
        "{dest} を置き換え（{mode}）、sha256:{sha} を検証済み",
    ),
    "step.removed": ("removed {paths}", "{paths} を削除"),
    "step.ws-valid": (
        "{status}, Sec-WebSocket-Accept valid",
        "{status}、Sec-WebSocket-Accept 正常",
    ),
    "step.ws-valid-subprotocol": (
        "{status}, Sec-WebSocket-Accept valid, subprotocol {sub}",
        "{status}、Sec-WebSocket-Accept 正常、サブプロトコル {sub}",
    ),
    "step.ws-no-subprotocol": (
        "101 but the server did not agree to subprotocol {subprotocol}",
        "101 ですが、サーバーはサブプロトコル {subprotocol} に同意しませんでした",
    ),
    "step.http-status": ("got {got}, expected {status}", "{got} が返りました（期待値 {status}）"),
    "step.http-no-header": (
        "no {name} header (expected /{pattern}/)",
        "{name} ヘッダーがありません（期待値 /{pattern}/）",
    ),
    "step.http-header-differs": (
        "{name}: {value} does not match /{pattern}/",
        "{name}: {value} が /{pattern}/ に一致しません",
    ),
    "step.http-header-matches": ("{name} matches", "{name} 一致"),
    "step.http-ok-headers": ("{status}, {headers}", "{status}、{headers}"),
    "step.no-answer": (
        "no answer from {url} within {seconds} s",
        "{url} から {seconds} 秒以内に応答がありません",
    ),
    "step.refused": ("connection refused by {url}", "{url} に接続を拒否されました"),
    "step.unresolved": (
        "cannot resolve the host of {url}: {why}",
        "{url} のホスト名を解決できません: {why}",
    ),
    "step.connection-failed": (
        "connection to {url} failed: {why}",
        "{url} への接続に失敗しました: {why}",
    ),
    "step.unreachable": ("cannot reach {url}: {why}", "{url} に到達できません: {why}"),
    "step.check-failed": ("check of {url} failed: {why}", "{url} の確認に失敗しました: {why}"),
    "step.left-may-run": (
        "left while it ran ({why}): it could not be ended on the host (the connection is "
        "gone?), it may still be running; the host lock stays held by this run",
        "実行中に中断（{why}）: ホスト上で終了させられませんでした（接続が切れた？）。まだ"
        "実行中かもしれず、ホストのロックはこの実行が保持したままです",
    ),
    "step.stopped-after": ("stopped after {why}", "{why} の後に停止"),
    "step.ended-here": (
        "ended on this machine after {why}",
        "{why} の後、この端末で終了させました",
    ),
    "step.ended-there": ("ended on the host after {why}", "{why} の後、ホスト上で終了させました"),
    "step.second-ctrl-c": ("a second Ctrl-C", "2 回目の Ctrl-C"),
    "step.exit-status-said": ("exit status {code}: {last}", "終了コード {code}: {last}"),
    "step.timed-out": ("timed out after {seconds} s", "{seconds} 秒でタイムアウト"),
    "step.no-exit-status": (
        "ended without an exit status (killed?)",
        "終了コードなしで終了しました（強制終了？）",
    ),
    "step.no-match": ("{stream} does not match {pattern}", "{stream} が {pattern} に一致しません"),
}
