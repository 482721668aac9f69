"""What the operator reads while a run goes: the gates, a step's details and put preview,
the progress lines, the prompts, the host's state when it stops, and the refusals of the
journal it writes (`error.journal.`/`error.state.`, said again at the CLI boundary)."""

MESSAGES: dict[str, tuple[str, str]] = {
    # --- the gates ------------------------------------------------------------------------------
    "gate.before": (
        "  Run {step}? [y]es / [s]kip / [a]bort / [d]etails: ",
        "  {step} を実行しますか？ [y]はい / [s]スキップ / [a]中止 / [d]詳細: ",
    ),
    "gate.done": (
        "  Done with {step}? [y]es / [s]kip / [a]bort / [d]etails: ",
        "  {step} は完了しましたか？ [y]はい / [s]スキップ / [a]中止 / [d]詳細: ",
    ),
    "gate.failed": ("  {step} failed.", "  {step} が失敗しました。"),
    "gate.after-failure.rollback": (
        "{failed} [r]etry / roll[b]ack / [a]bort (leave the host as it is): ",
        "{failed} [r]再試行 / [b]切り戻し / [a]中止（ホストはこのまま）: ",
    ),
    "gate.after-failure.in-rollback": (
        "{failed} [r]etry / [a]bort (the rollback stops here, the host stays as it is now): ",
        "{failed} [r]再試行 / [a]中止（切り戻しをここで止め、ホストは今の状態のままです）: ",
    ),
    "gate.after-failure.no-rollback": (
        "{failed} [r]etry / [a]bort (no backup yet: a rollback would have nothing to restore): ",
        "{failed} [r]再試行 / [a]中止（バックアップがまだないため、切り戻しで戻せるものは"
        "ありません）: ",
    ),
    "gate.please-answer": (
        "  please answer one of: {choices}",
        "  次のどれかで答えてください: {choices}",
    ),
    "gate.step": (
        "{kind} {number}/{total} ({id}) on {where}",
        "{where} の{kind} {number}/{total}（{id}）",
    ),
    # A local step of one host: "this machine" written in (この端末の, no space before の).
    "gate.step.here": (
        "{kind} {number}/{total} ({id}) on this machine",
        "この端末の{kind} {number}/{total}（{id}）",
    ),
    "prompt.sudo": ("sudo password: ", "sudo パスワード: "),
    "prompt.secret": ("secret {name}: ", "シークレット {name}: "),
    # --- a step at its gate: what `d` shows ----------------------------------------------------
    "show.details": (
        "  {host}: id {id}, {action}, {options}",
        "  {host}: ID {id}、{action}、{options}",
    ),
    "show.here-for": ("this machine (for {host})", "この端末（{host} のため）"),
    "show.expects": ("  expects: {expects}", "  期待する結果: {expects}"),
    "show.no-sudo": ("no sudo", "sudo なし"),
    "show.sudo": ("sudo: yes", "sudo あり"),
    "show.sudo-as": ("sudo: as {user}", "sudo: {user} として"),
    "show.timeout": ("timeout: {seconds} s", "タイムアウト {seconds} 秒"),
    "show.no-timeout": ("no timeout", "タイムアウトなし"),
    "show.retries": (
        "retries: {retries} ({delay} s apart)",
        "再試行 {retries} 回（{delay} 秒間隔）",
    ),
    "show.no-retries": ("no retries", "再試行なし"),
    "show.exits": ("exits {codes}", "終了コード {codes}"),
    "show.exits-or": ("{codes} or {last}", "{codes} または {last}"),
    "show.matches": ("{stream} matches /{pattern}/", "{stream} が /{pattern}/ に一致"),
    "action.run": ("run", "コマンド"),
    "action.backup": ("backup", "バックアップ"),
    "action.restore": ("restore", "復元"),
    "action.check": ("check", "確認"),
    "action.manual": ("manual", "手作業"),
    "action.put": ("put", "ファイル配置"),
    # --- a put's gate: the live file against the new content ----------------------------------
    "preview.head": ("  {host}: {dest} now → after the put", "  {host}: {dest} の現在 → put の後"),
    "preview.not-read": ("(not read: {why})", "（読めませんでした: {why}）"),
    "preview.no-backup": (
        "(no step of this run backed up {dest}: the put will be refused, since rollback could "
        "not restore it)",
        "（この実行のどの手順も {dest} をバックアップしていません。切り戻しで戻せないため put "
        "は拒否されます）",
    ),
    "preview.no-answer": ("no answer", "応答なし"),
    "preview.unreadable": ("(could not read it: {why})", "（読めませんでした: {why}）"),
    "preview.missing": (
        "(it does not exist: the put creates it, and a rollback removes it)",
        "（存在しません。put が作成し、切り戻しで削除します）",
    ),
    "preview.not-regular": ("not a regular file", "通常のファイルではありません"),
    "preview.not-a-file": (
        "(it is {what}: the put replaces that, never writing through it)",
        "（{what}: put はそれを置き換えます。その先には書き込みません）",
    ),
    "preview.exists": ("(it exists)", "（存在します）"),
    "preview.binary": (
        "(binary content, {size} bytes, sha256:{sha})",
        "（バイナリ、{size} バイト、sha256:{sha}）",
    ),
    "preview.too-large": (
        "(it is larger than {size} bytes: not shown)",
        "（{size} バイトより大きいため表示しません）",
    ),
    "preview.same": (
        "(no change: it already has this content)",
        "（変更なし: すでにこの内容です）",
    ),
    # --- the console: a run's progress ----------------------------------------------------------
    "run.header": (
        "release {runbook} to {host}, run {run}, digest sha256:{digest}, started {time}",
        "{host} に {runbook} をリリース、実行 {run}、ダイジェスト sha256:{digest}、開始 {time}",
    ),
    "run.rollback-header": (
        "rollback of run {run} on {host} ({count} backup(s) from its journal), started {time}",
        "{host} の実行 {run} を切り戻し（記録にあるバックアップ {count} 件）、開始 {time}",
    ),
    "run.connecting": ("connecting to {hosts}", "{hosts} に接続中"),
    "run.step": (
        "{kind} {number}/{total} on {where}: {title}{handle}",
        "{where} の{kind} {number}/{total}: {title}{handle}",
    ),
    "run.step.here": (
        "{kind} {number}/{total} on this machine: {title}{handle}",
        "この端末の{kind} {number}/{total}: {title}{handle}",
    ),
    "run.step.handle": (" (id {id})", "（ID {id}）"),
    "run.taken-as-done": (
        "step {number}/{total} {title}: taken as done in {resumed} (--from)",
        "手順 {number}/{total} {title}: {resumed} で完了済みとして扱います（--from）",
    ),
    "run.an-earlier-run": ("an earlier run", "以前の実行"),
    "run.skipped": ("skipped", "スキップしました"),
    "run.ok": ("ok ({seconds} s)", "成功（{seconds} 秒）"),
    "run.ok-said": ("ok ({seconds} s): {message}", "成功（{seconds} 秒）: {message}"),
    "run.retrying": (
        "attempt {number}/{attempts} failed: {message}; retrying",
        "試行 {number}/{attempts} が失敗: {message}。再試行します",
    ),
    "run.failed": ("FAILED: {message}", "失敗: {message}"),
    "run.rolling-back": ("rolling back {hosts}: {reason}", "{hosts} を切り戻し中: {reason}"),
    "run.removing-puts": (
        "removing what put created: {paths}",
        "put が作成したファイルを削除中: {paths}",
    ),
    # The status line of a step in flight (execute.ticker).
    "tick.running": (
        "{step} on {where}: running for {elapsed}, no output for {quiet}",
        "{where} の {step}: 実行中 {elapsed}、出力なし {quiet}",
    ),
    "tick.stopping": (
        "{step} on {where}: running for {elapsed}; Ctrl-C: stopping once it has ended",
        "{where} の {step}: 実行中 {elapsed}。Ctrl-C: 終わったところで止めます",
    ),
    "tick.running.here": (
        "{step} on this machine: running for {elapsed}, no output for {quiet}",
        "この端末の {step}: 実行中 {elapsed}、出力なし {quiet}",
    ),
    "tick.stopping.here": (
        "{step} on this machine: running for {elapsed}; Ctrl-C: stopping once it has ended",
        "この端末の {step}: 実行中 {elapsed}。Ctrl-C: 終わったところで止めます",
    ),
    "tick.timeout-left": (
        "its timeout ends it in {left} at the latest",
        "遅くとも {left} 後にタイムアウトで終了します",
    ),
    "tick.no-timeout": ("it has no timeout", "タイムアウトはありません"),
    "tick.again": (
        "Ctrl-C again ends it on the host now",
        "もう一度 Ctrl-C でホスト上のコマンドを今すぐ終了します",
    ),
    "tick.seconds": ("{s} s", "{s} 秒"),
    "tick.minutes": ("{m} min {s} s", "{m} 分 {s} 秒"),
    "tick.hours": ("{h} h {m} min", "{h} 時間 {m} 分"),
    "run.left-at-prompt": (
        "Ctrl-C at the sudo password prompt: leaving now (the step has not started)",
        "sudo パスワード入力中の Ctrl-C: 今すぐ中断します（手順は開始していません）",
    ),
    "run.ctrl-c": (
        "Ctrl-C: stopping once this step has ended and its outcome is recorded (Ctrl-C again "
        "to leave it now: it is ended on the host)",
        "Ctrl-C: この手順が終わり結果を記録したところで止めます（もう一度 Ctrl-C で今すぐ"
        "中断し、ホスト上のコマンドも終了させます）",
    ),
    "run.ended-line": ("{hosts}: {message}", "{hosts}: {message}"),
    "run.where.here": ("this machine", "この端末"),
    "run.where.here-for-each": (
        "this machine (once for each of {hosts})",
        "この端末（{hosts} のそれぞれについて 1 回）",
    ),
    "run.lock-stays": (
        "the lock {lock} on {host} stays held by run {run}: a command of this run may still be "
        "running there (it could not be ended and confirmed gone). Check the host, then run "
        "again with --break-lock",
        "{host} のロック {lock} は実行 {run} が保持したままです。この実行のコマンドがまだ動いて"
        "いるかもしれません（終了を確認できませんでした）。ホストを確認してから --break-lock "
        "を付けて実行してください",
    ),
    "run.login-output": (
        "{host}: its login shell prints {count} line(s) before every command (shown once; not "
        "part of any step's output):",
        "{host}: ログインシェルが各コマンドの前に {count} 行を出力します（1 回だけ表示。どの手順"
        "の出力にも含めません）:",
    ),
    "run.login-more": ("... ({count} more)", "…（ほか {count} 行）"),
    "run.sudo-again": (
        "sudo refused the password: try again",
        "sudo がパスワードを拒否しました。もう一度入力してください",
    ),
    "run.clock": (
        "the clock is RUNBOOK_NOW={now} (a testing aid), not this machine's",
        "時計は RUNBOOK_NOW={now}（テスト用）で、この端末の時計ではありません",
    ),
    "run.lock-not-released": (
        "the lock {lock} on {host} could not be released; the next run will report it: break "
        "it with --break-lock once the host is checked",
        "{host} のロック {lock} を解放できませんでした。次の実行で報告されます。ホストを確認して"
        "から --break-lock で解除してください",
    ),
    "run.not-rolled-back": ("not rolled back: {reason}", "切り戻しませんでした: {reason}"),
    "run.fleet-released": ("fleet: released {hosts}", "全体: {hosts} をリリースしました"),
    "run.fleet-stopped": (
        "fleet: released {done}; stopped at {group}; not started: {rest}",
        "全体: リリース済み {done}、停止 {group}、未開始 {rest}",
    ),
    "run.none": ("none", "なし"),
    "run.leaving": (
        "{why}: ending {steps} now (TERM, then KILL)",
        "{why}: {steps} を今すぐ終了します（TERM、次に KILL）",
    ),
    "run.left-ended": ("step {step}: {message}", "手順 {step}: {message}"),
    "run.left-may-run": (
        "step {step} may still be running on the host",
        "手順 {step} はホスト上でまだ実行中かもしれません",
    ),
    # --- the host's state when a run stops (journal.state): changed by its steps, or, when
    # every one of them failed, perhaps not changed at all --------------------------------------
    "state.host-changed.rolled-back": (
        "changed by {steps}, then rolled back (its steps ran)",
        "{steps} で変更され、その後切り戻し済み（切り戻し手順を実行しました）",
    ),
    "state.host-changed.rollback-unfinished": (
        "changed by {steps}; the rollback did not finish: it needs hands-on care",
        "{steps} で変更されました。切り戻しが完了していないため、直接確認し対処する必要があります",
    ),
    "state.host-changed.backed-up": (
        "changed by {steps} (with a backup: `inv rollback` runs the rollback steps)",
        "{steps} で変更されました（バックアップあり: `inv rollback` で切り戻し手順を実行します）",
    ),
    "state.host-changed.no-backup": (
        "changed by {steps} without a backup (roll back by hand)",
        "{steps} で変更されました（バックアップなし: 手作業で戻してください）",
    ),
    "state.host-maybe-changed.rolled-back": (
        "may have been changed by {steps}, then rolled back (its steps ran)",
        "{steps} で変更された可能性があり、その後切り戻し済み（切り戻し手順を実行しました）",
    ),
    "state.host-maybe-changed.rollback-unfinished": (
        "may have been changed by {steps}; the rollback did not finish: it needs hands-on care",
        "{steps} で変更された可能性があります。切り戻しが完了していないため、直接確認し対処する"
        "必要があります",
    ),
    "state.host-maybe-changed.backed-up": (
        "may have been changed by {steps} (with a backup: `inv rollback` runs the rollback steps)",
        "{steps} で変更された可能性があります（バックアップあり: `inv rollback` で切り戻し手順を"
        "実行します）",
    ),
    "state.host-maybe-changed.no-backup": (
        "may have been changed by {steps} without a backup (roll back by hand)",
        "{steps} で変更された可能性があります（バックアップなし: 変更があれば手作業で戻して"
        "ください）",
    ),
    # --- the journal a run writes and the state directory that keeps it (journal.store):
    # refusals, said again at the CLI boundary ---------------------------------------------------
    "error.journal.cannot-write-in": (
        "cannot write the journal in {folder}: {reason}",
        "{folder} にジャーナルを書き込めません: {reason}",
    ),
    "error.journal.cannot-create": (
        "cannot create the journal {path}: {reason}",
        "ジャーナル {path} を作成できません: {reason}",
    ),
    "error.journal.cannot-open": (
        "cannot open the journal {path}: {reason}",
        "ジャーナル {path} を開けません: {reason}",
    ),
    "error.journal.state-dir-hint": (
        "set RUNBOOK_STATE_DIR to a writable directory",
        "RUNBOOK_STATE_DIR に書き込めるディレクトリを指定してください",
    ),
    "error.journal.cannot-write": (
        "cannot write the journal {path}: {reason}",
        "ジャーナル {path} に書き込めません: {reason}",
    ),
    "error.journal.cannot-write-hint": (
        "free space or fix permissions; nothing more will run until it can be recorded",
        "空き容量を作るか権限を直してください。記録できるようになるまで何も実行しません",
    ),
    "error.journal.stopped-hint": (
        "the run stopped: nothing more ran, not even a rollback, as it could not be recorded; "
        "the host is as the last recorded step left it (inv report). Free space or fix "
        "permissions, then check the host and run `inv rollback`",
        "記録できないため実行を止めました。それ以上は何も、切り戻しも実行していません。ホストは"
        "最後に記録された手順の後の状態です（inv report）。空き容量を作るか権限を直してから、"
        "ホストを確認して `inv rollback` を実行してください",
    ),
    "error.state.cannot-read": ("cannot read {path}: {reason}", "{path} を読めません: {reason}"),
    # A state directory or journal another user could have written (the kind of path and
    # the problem written in: each its own message, said again whole).
    "error.state.untrusted": (
        "{problem}: a journal there could have been planted or changed, and a journal decides "
        "what rollback runs",
        "{problem}。そこにあるジャーナルは誰かが置いたり書き換えたりしたものかもしれず、"
        "切り戻しで何を実行するかはジャーナルが決めます",
    ),
    "error.state.directory-symlink": (
        "the state directory {path} is a symbolic link",
        "状態ディレクトリ {path} はシンボリックリンクです",
    ),
    "error.state.file-symlink": (
        "the state file {path} is a symbolic link",
        "状態ファイル {path} はシンボリックリンクです",
    ),
    "error.state.directory-not-yours": (
        "the state directory {path} belongs to {owner}, not to you ({me})",
        "状態ディレクトリ {path} の所有者は {owner} で、あなた（{me}）ではありません",
    ),
    "error.state.file-not-yours": (
        "the state file {path} belongs to {owner}, not to you ({me})",
        "状態ファイル {path} の所有者は {owner} で、あなた（{me}）ではありません",
    ),
    "error.state.directory-others-write": (
        "the state directory {path} can be written by others (mode {mode})",
        "状態ディレクトリ {path} は他のユーザーが書き込めます（モード {mode}）",
    ),
    "error.state.file-others-write": (
        "the state file {path} can be written by others (mode {mode})",
        "状態ファイル {path} は他のユーザーが書き込めます（モード {mode}）",
    ),
    "error.state.directory-group-write": (
        "the state directory {path} can be written by its group (mode {mode})",
        "状態ディレクトリ {path} はグループのユーザーが書き込めます（モード {mode}）",
    ),
    "error.state.file-group-write": (
        "the state file {path} can be written by its group (mode {mode})",
        "状態ファイル {path} はグループのユーザーが書き込めます（モード {mode}）",
    ),
    "error.state.untrusted-hint": (
        "use a state directory of your own (RUNBOOK_STATE_DIR, or .runbook/ in the project), "
        "mode 0700; check {path} before trusting what is in it",
        "自分だけの状態ディレクトリ（RUNBOOK_STATE_DIR、またはプロジェクトの .runbook/）を"
        "モード 0700 で使ってください。{path} の中身を信用する前に確認してください",
    ),
    "window.open": (
        "{host}: booked window {window}, open now: {there} there, {here} on this machine",
        "{host}: 作業可能時間帯 {window}、現在は時間帯内: 現地 {there}、この端末 {here}",
    ),
    "window.closed": (
        "{host}: booked window {window}, closed now: {there} there, {here} on this machine",
        "{host}: 作業可能時間帯 {window}、現在は時間帯外: 現地 {there}、この端末 {here}",
    ),
    "window.override": ("--outside-window: {reason}", "--outside-window による実行: {reason}"),
    "window.going-on": (
        "outside the booked window, going on (--outside-window {reason}): {line}",
        "作業可能時間帯外ですが続行します（--outside-window {reason}）: {line}",
    ),
    "window.line": (
        "{host}'s window is {window}; it is now {there} there ({here} on this machine); it opens "
        "next {opens}",
        "{host} の作業可能時間帯は {window}。現在は現地 {there}（この端末 {here}）。次に開くのは "
        "{opens}",
    ),
    "window.again": ("release again within the window", "時間帯内にもう一度リリースしてください"),
    "window.resume-at": (
        "resume within the window from step {step} (the next command below)",
        "時間帯内に手順 {step} から再開してください（次のコマンドは下に）",
    ),
    # What journals written before said (a command without the run's other options).
    "window.resume-host": (
        "resume within the window with `inv release --host {host} --from {step}`",
        "時間帯内に `inv release --host {host} --from {step}` で再開してください",
    ),
    "window.resume": (
        "resume within the window with `inv release --from {step}` and the same --host",
        "時間帯内に `inv release --from {step}` と同じ --host で再開してください",
    ),
}
