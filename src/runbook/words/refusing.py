"""The messages of refusals by the commands and the executor (locks, rollback, approvals, inputs)
and preflight's lines: `error.` keys are said again by `Words.again` at the CLI boundary."""

MESSAGES: dict[str, tuple[str, str]] = {
    # The host lock (execute.hostlock).
    "error.lock.cannot-create": (
        "cannot create the lock {lock} on {host}: {reason}",
        "{host} にロック {lock} を作成できません: {reason}",
    ),
    "error.lock.cannot-create-hint": (
        "set `lock:` for the host to a path in a directory its user can write",
        "ホストの `lock:` を、そのユーザーが書き込めるディレクトリ内のパスにしてください",
    ),
    "error.lock.not-ours": (
        "{lock} on {host} exists and is not a lock of this tool (it has no valid holder "
        "record; owner {owner}): it is left alone",
        "{host} の {lock} は存在しますが、このツールのロックではありません"
        "（有効な保持者の記録がありません。所有者 {owner}）: 手を付けずに残します",
    ),
    "error.lock.not-ours-hint": (
        "if another program uses that path, set `lock:` for the host to another one; "
        "if a user made it to block releases, remove it on the host after checking",
        "別のプログラムがそのパスを使っているなら、ホストの `lock:` を別のパスにしてください。"
        "リリースを止めるために誰かが作ったものなら、確認してからホスト上で削除してください",
    ),
    "error.lock.held": (
        "{host} is locked by {holder} ({lock})",
        "{host} は {holder}がロックしています（{lock}）",
    ),
    "error.lock.held-by-other-user": (
        "{host} is locked by {holder} ({lock}), by what its record says; the lock directory "
        "belongs to user {owner}, not {me}: check who made it before trusting that record",
        "{host} は {holder} がロックしています（{lock}、その記録によれば）。ロックの"
        "ディレクトリは {me} ではなくユーザー {owner} のものです: その記録を信じる前に、"
        "誰が作ったか確認してください",
    ),
    "error.lock.held-not-named": (
        "{host} is locked by {holder} ({lock}); --break-lock names {named}, not that run",
        "{host} は {holder}がロックしています（{lock}）。"
        "--break-lock が指定したのは {named} で、その実行ではありません",
    ),
    "error.lock.alive": (
        "{host} is locked by {holder} ({lock}), and that process still runs on this "
        "machine: its lock is not stale",
        "{host} は {holder}がロックしています（{lock}）。そのプロセスはこのマシンで"
        "まだ動いています: ロックは古くありません",
    ),
    "error.lock.alive-hint": (
        "end that run first (its terminal, or `kill` its pid once you are sure)",
        "先にその実行を終えてください（その端末で、または確かめたうえで pid を `kill`）",
    ),
    "error.lock.not-removed": (
        "the stale lock {lock} on {host} (run {run}, owner {owner}) could not be removed: {reason}",
        "{host} の古いロック {lock}（実行 {run}、所有者 {owner}）を削除できませんでした: {reason}",
    ),
    "error.lock.not-removed-hint": (
        "remove it on the host by hand after checking that run is over",
        "その実行が終わっていることを確かめてから、ホスト上で手で削除してください",
    ),
    "error.lock.holder": (
        "run {run} of {operator} since {started} from {machine} pid {pid}",
        "{operator} の実行 {run}（{started} から、{machine} の pid {pid}）",
    ),
    "error.lock.holder-unknown": (
        "another run (its details are being written or were lost)",
        "別の実行（詳細は書き込み中か、失われました）",
    ),
    "error.lock.still-runs-hint": (
        "that run's process (pid {pid}) still runs on this machine: let it end",
        "その実行のプロセス（pid {pid}）はこのマシンでまだ動いています: 終わるのを待ってください",
    ),
    "error.lock.stale-hint": (
        "if that run is over, check the host (inv report --run {run}) and run again "
        "with --break-lock {break_run}",
        "その実行が終わっているなら、ホストを確認して（inv report --run {run}）"
        "--break-lock {break_run} を付けてもう一度実行してください",
    ),
    "error.lock.stale-gone-hint": (
        "that process no longer runs here, so the lock is stale; if that run is over, "
        "check the host (inv report --run {run}) and run again with --break-lock {break_run}",
        "そのプロセスはもうここで動いていないので、ロックは古いものです。"
        "その実行が終わっているなら、ホストを確認して（inv report --run {run}）"
        "--break-lock {break_run} を付けてもう一度実行してください",
    ),
    # Options of a run (commands.fleet).
    "error.parallel.count": (
        "--parallel needs a number of hosts, 1 or more",
        "--parallel にはホストの数（1 以上）が必要です",
    ),
    "error.break-lock.not-a-run": (
        "--break-lock takes the run id that holds the lock, not {given}",
        "--break-lock にはロックを保持している実行の ID を指定します（{given} ではありません）",
    ),
    "error.break-lock.hint": (
        "the refusal that named the lock says which run holds it (e.g. "
        "--break-lock 20261125T144100Z-3fa9); inv history lists the runs",
        "ロックを示した拒否メッセージに保持している実行が書かれています（例: "
        "--break-lock 20261125T144100Z-3fa9）。inv history で実行の一覧を見られます",
    ),
    "error.outside-window.reason": (
        "--outside-window needs a reason",
        "--outside-window には理由が必要です",
    ),
    "error.outside-window.hint": (
        '--outside-window "REASON" (it is recorded, reported and sent to the team)',
        '--outside-window "理由"（記録され、レポートに載り、チームに送られます）',
    ),
    # Gates, secrets, sudo, keys (commands.credentials).
    "error.gate.no-terminal": (
        "no terminal to ask at the gates, and no --yes",
        "ゲートで尋ねる端末がなく、--yes もありません",
    ),
    "error.gate.no-terminal-hint": (
        "run it on a terminal, or pass --yes for automation",
        "端末で実行するか、自動化なら --yes を付けてください",
    ),
    "error.secret.not-set": (
        "secret '{name}' is not set",
        "シークレット '{name}' が設定されていません",
    ),
    "error.sudo.no-password": (
        "sudo asks for a password and none is set",
        "sudo がパスワードを求めていますが、設定されていません",
    ),
    "error.sudo.no-password-on": (
        "sudo on {host} asks for a password and none is set",
        "{host} の sudo がパスワードを求めていますが、設定されていません",
    ),
    "error.sudo.no-password-hint": (
        "export RUNBOOK_SUDO_PASSWORD=... (or {env}=... for this host alone), run on a "
        "terminal, or set `sudo: false` for the host",
        "export RUNBOOK_SUDO_PASSWORD=... とする（このホストだけなら {env}=...）か、"
        "端末で実行するか、ホストに `sudo: false` を設定してください",
    ),
    "error.identity.unprotected": (
        "the identity file {path} can be read by others or is not yours (mode {mode}): "
        "OpenSSH refuses such a key, and so does this tool",
        "鍵ファイル {path} は他人が読めるか、あなたのものではありません（モード {mode}）: "
        "OpenSSH はそのような鍵を拒否し、このツールも拒否します",
    ),
    # Approval (commands.approval).
    "error.approval.required": (
        "host {host} requires --approved DIGEST",
        "ホスト {host} には --approved DIGEST が必要です",
    ),
    "error.approval.required-hint": (
        "review with `{command}`; its last line is the release command to approve, "
        "with the full digest",
        "`{command}` でレビューしてください。最後の行が、完全なダイジェスト付きの"
        "承認するリリースコマンドです",
    ),
    "error.approval.whole-digest": (
        "--approved takes the whole digest: 64 hex digits, as the review prints them",
        "--approved にはダイジェスト全体（レビューが表示する 16 進 64 桁）を指定します",
    ),
    "error.approval.whole-digest-hint": (
        "a short prefix could be matched by a forged plan in minutes; copy the approval "
        "command from `{command}`",
        "短い接頭辞なら偽造した計画で数分のうちに一致させられます。`{command}` から"
        "承認コマンドをコピーしてください",
    ),
    "error.approval.mismatch": (
        "the plan for {what} is not the approved one: its digest is sha256:{actual}, "
        "the approved one sha256:{wanted}{differences}",
        "{what} の計画は承認されたものではありません: ダイジェストは sha256:{actual}、"
        "承認されたものは sha256:{wanted}{differences}",
    ),
    "error.approval.these-hosts": ("these hosts", "これらのホスト"),
    "error.approval.mismatch-hint": (
        "the runbook, the inventory, --var, a file it uploads or a host key changed since "
        "the review; review again with `{command}`",
        "レビューの後で runbook、インベントリ、--var、アップロードするファイル、"
        "またはホスト鍵が変わりました。`{command}` でもう一度レビューしてください",
    ),
    # URLs of checks that do not answer (commands.reachable), said again in preflight's lines.
    "error.url.not-a-url": ("not a URL: {error}", "URL ではありません: {error}"),
    "error.url.no-host": ("the URL names no host", "URL にホストがありません"),
    "error.url.no-answer": (
        "no answer from {address} within {seconds} s",
        "{address} から {seconds} 秒以内に応答がありません",
    ),
    "error.url.cannot-connect": (
        "cannot connect to {address}: {error}",
        "{address} に接続できません: {error}",
    ),
    # Preflight's lines (commands.preflight): what it checked, then what it found.
    "preflight.check.connect": ("connect (host key, login)", "接続（ホスト鍵、ログイン）"),
    "preflight.check.others": ("the other checks", "その他の確認"),
    "preflight.check.remaining": ("the remaining checks", "残りの確認"),
    "preflight.check.sudo": ("sudo as {user}", "{user} としての sudo"),
    "preflight.check.backup": (
        "backup {path} (step {step})",
        "バックアップ {path}（手順 {step}）",
    ),
    "preflight.check.backup-dir": (
        "backup directory {dir} as {user}",
        "{user} としてのバックアップディレクトリ {dir}",
    ),
    "preflight.check.put": ("put {dest} (step {step})", "配置 {dest}（手順 {step}）"),
    "preflight.check.lock": ("lock {lock}", "ロック {lock}"),
    "preflight.check.commands": ("commands as {user}", "{user} としてのコマンド"),
    "preflight.check.url": ("check URL {url} (step {step})", "確認 URL {url}（手順 {step}）"),
    "preflight.as.login-user": ("the login user", "ログインユーザー"),
    "preflight.dir.default": ("(default)", "（既定）"),
    "preflight.skipped.no-connection": ("skipped: no connection", "スキップ: 接続できません"),
    "preflight.skipped.sudo": (
        "not checked: sudo as {user} does not work (above)",
        "未確認: {user} としての sudo が使えません（上記）",
    ),
    "preflight.late": (
        "names a value known only when it runs: not checked",
        "実行時にしか分からない値を含みます: 未確認",
    ),
    "preflight.sudo.no-password-needed": ("no password needed", "パスワード不要"),
    "preflight.sudo.refuses": ("sudo refuses: {last}", "sudo が拒否しました: {last}"),
    "preflight.sudo.refuses-hint": (
        "the login user needs a sudoers rule for the steps' commands",
        "ログインユーザーには、手順のコマンドのための sudoers の規則が必要です",
    ),
    "preflight.sudo.no-password": (
        "sudo asks for a password and none is given",
        "sudo がパスワードを求めていますが、与えられていません",
    ),
    "preflight.sudo.failed": (
        "sudo with the password failed: {last}",
        "パスワード付きの sudo が失敗しました: {last}",
    ),
    "preflight.sudo.accepted": ("the password is accepted", "パスワードは受け入れられました"),
    "preflight.backup.hint": (
        "check the path (vars: --var, the inventory) and that the step's sudo can read it",
        "パス（変数: --var、インベントリ）と、手順の sudo がそれを読めることを確認してください",
    ),
    "preflight.backup.readable": (
        "{size} bytes, readable as {user}",
        "{size} バイト、{user} として読めます",
    ),
    "preflight.backup-dir.hint": (
        "set `backup_dir:` for the host to a directory only its user can write",
        "ホストの `backup_dir:` を、そのユーザーだけが書き込めるディレクトリにしてください",
    ),
    "preflight.backup-dir.short": (
        "{avail} KiB free, the backups need about {need} KiB",
        "空きは {avail} KiB、バックアップには約 {need} KiB 必要です",
    ),
    "preflight.backup-dir.short-hint": (
        "free space there, or set `backup_dir:` for the host to a roomier place",
        "そこに空きを作るか、ホストの `backup_dir:` をもっと広い場所にしてください",
    ),
    "preflight.backup-dir.ok": (
        "private, {avail} KiB free for {total} bytes",
        "非公開、{total} バイトに対して空き {avail} KiB",
    ),
    "preflight.put.hint": (
        "create the directory, owned by root or the step's user and not writable by others "
        "(a put never creates directories)",
        "root か手順のユーザーが所有し、他人が書き込めないディレクトリを作ってください"
        "（put はディレクトリを作りません）",
    ),
    "preflight.put.ok": (
        "{folder} writable by {user} only",
        "{folder} は {user} だけが書き込めます",
    ),
    "preflight.lock.free": ("free", "空き"),
    "preflight.lock.held": ("held by {holder}", "{holder}が保持しています"),
    "preflight.lock.held-hint": (
        "if that run is over, check the host (inv report --run {run}) and release with "
        "--break-lock {break_run}",
        "その実行が終わっているなら、ホストを確認して（inv report --run {run}）"
        "--break-lock {break_run} を付けてリリースしてください",
    ),
    "preflight.lock.not-ours": (
        "it exists and is not a lock of this tool (no valid holder record; owner {owner})",
        "存在しますが、このツールのロックではありません（有効な保持者の記録なし。所有者 {owner}）",
    ),
    "preflight.lock.not-ours-hint": (
        "if another program uses that path, set `lock:` for the host to another one",
        "別のプログラムがそのパスを使っているなら、ホストの `lock:` を別のパスにしてください",
    ),
    "preflight.commands.missing": (
        "not found on the host: {missing} (checked: {names})",
        "ホストに見つかりません: {missing}（確認したもの: {names}）",
    ),
    "preflight.commands.missing-hint": (
        "install it, or fix the runbook's `run:` (the PATH is the step's, under sudo sudo's "
        "secure_path)",
        "インストールするか、runbook の `run:` を直してください"
        "（PATH は手順のもの、sudo の下では sudo の secure_path）",
    ),
    "preflight.url.hint": (
        "start the service, or fix the URL (from this machine: the check runs here)",
        "サービスを起動するか、URL を直してください（このマシンから: 確認はここで実行されます）",
    ),
    "preflight.check.window": ("booked window {window}", "作業可能時間帯 {window}"),
    "preflight.window.open": ("open now: {there} there", "現在は時間帯内: 現地 {there}"),
    "preflight.window.closed": (
        "closed now ({there} there): the release would stop at its first gate; it opens next "
        "{opens}",
        "現在は時間帯外です（現地 {there}）: リリースは最初のゲートで止まります。"
        "次に開くのは {opens}",
    ),
    "preflight.window.hint": (
        "run preflight and the release within the window, or release with --outside-window REASON",
        "時間帯内に事前確認とリリースを実行するか、--outside-window 理由 を付けて"
        "リリースしてください",
    ),
    "preflight.window.bad-clock": (
        "RUNBOOK_NOW is not a time: {why}",
        "RUNBOOK_NOW が時刻ではありません: {why}",
    ),
    "preflight.url.answers": (
        "it answers; what it should answer is judged after the release",
        "応答があります。応答の内容はリリースの後で判定されます",
    ),
    # Which runbook and which hosts (commands.inputs).
    "error.inputs.no-such-runbook": (
        "no runbook '{name}' (neither a file nor runbooks/{file}.yaml)",
        "runbook '{name}' がありません（ファイルでも runbooks/{file}.yaml でもありません）",
    ),
    "error.inputs.runbooks-here": ("runbooks here: {runbooks}", "ここにある runbook: {runbooks}"),
    "error.inputs.no-runbook": ("no runbook in {folder}", "{folder} に runbook がありません"),
    "error.inputs.no-runbook-hint": (
        "write runbooks/NAME.yaml or pass --runbook PATH",
        "runbooks/NAME.yaml を書くか、--runbook PATH を指定してください",
    ),
    "error.inputs.several-runbooks": (
        "several runbooks: say which with --runbook NAME",
        "runbook が複数あります: --runbook NAME でどれかを指定してください",
    ),
    "error.inputs.several-runbooks-hint": (
        "or set runbook.default in invoke.yaml; runbooks: {runbooks}",
        "または invoke.yaml に runbook.default を設定してください。runbook: {runbooks}",
    ),
    "error.inputs.which-host": (
        "say which host with --host NAME (a host or a group)",
        "--host NAME（ホストかグループ）でホストを指定してください",
    ),
    "error.inputs.hosts": ("hosts: {hosts}", "ホスト: {hosts}"),
    "error.inputs.no-such-host": (
        "no host or group '{name}' in {path}",
        "{path} にホストまたはグループ '{name}' がありません",
    ),
    "error.inputs.did-you-mean": ("did you mean '{name}'?", "'{name}' のことですか?"),
    # An output file (commands.review) and a batch that could not start (execute.batch).
    "error.output.exists": (
        "{path} exists; remove it or choose another name",
        "{path} はすでにあります。削除するか、別の名前にしてください",
    ),
    "error.output.force": (
        "or pass --force to replace it",
        "または --force を付けて置き換えてください",
    ),
    "error.output.cannot-write": (
        "cannot write {path}: {error}",
        "{path} に書き込めません: {error}",
    ),
    "error.batch.nothing-ran": ("nothing ran: {refusals}", "何も実行されませんでした: {refusals}"),
    # Signed approvals (commands.signatures).
    "error.sign.no-key-file": ("no key file {key}", "鍵ファイル {key} がありません"),
    "error.sign.key-hint": (
        "--key takes your private key file",
        "--key にはあなたの秘密鍵ファイルを指定します",
    ),
    "error.sign.which-key": (
        "the ssh-agent holds {count} keys: say which one signs with --key",
        "ssh-agent は鍵を {count} 個持っています: 署名する鍵を --key で指定してください",
    ),
    "error.sign.which-key-hint": (
        "--key takes your private key, or its .pub file when the agent holds it; "
        "the agent's keys: {keys}",
        "--key には秘密鍵を、エージェントが持っているならその .pub ファイルを指定します。"
        "エージェントの鍵: {keys}",
    ),
    "error.sign.approval-problem": (
        "approval for {which}: {problem}",
        "{which} の承認: {problem}",
    ),
    "error.sign.hint": (
        "a reviewer reads `{show}`, then signs with `{approve}`; commit the file it writes "
        "under {folder}/",
        "レビュー担当者が `{show}` を読み、`{approve}` で署名します。書き出されたファイルを "
        "{folder}/ の下にコミットしてください",
    ),
    # No journal for what a command asked about (journal.record.find_run).
    "error.journal.none": (
        "no journal of {what} in {folder}",
        "{folder} に{what}のジャーナルがありません",
    ),
    "error.journal.a-release": ("a release", "リリース"),
    "error.journal.a-rollback": ("a rollback", "切り戻し"),
    "error.journal.a-run": ("a run", "実行"),
    "error.journal.none-runbook": (
        "no journal of {what} of runbook {runbook} in {folder}",
        "{folder} にランブック {runbook} の{what}のジャーナルがありません",
    ),
    "error.journal.none-host": (
        "no journal of {what} on host {host} in {folder}",
        "{folder} にホスト {host} の{what}のジャーナルがありません",
    ),
    "error.journal.none-runbook-host": (
        "no journal of {what} of runbook {runbook} on host {host} in {folder}",
        "{folder} にホスト {host} のランブック {runbook} の{what}のジャーナルがありません",
    ),
    # A run asked for by its id: written in (the Japanese puts a space after the id).
    "error.journal.none-run": (
        "no journal of run {run} in {folder}",
        "{folder} に実行 {run} のジャーナルがありません",
    ),
    "error.journal.none-run-runbook": (
        "no journal of run {run} of runbook {runbook} in {folder}",
        "{folder} にランブック {runbook} の実行 {run} のジャーナルがありません",
    ),
    "error.journal.none-run-host": (
        "no journal of run {run} on host {host} in {folder}",
        "{folder} にホスト {host} の実行 {run} のジャーナルがありません",
    ),
    "error.journal.none-run-runbook-host": (
        "no journal of run {run} of runbook {runbook} on host {host} in {folder}",
        "{folder} にホスト {host} のランブック {runbook} の実行 {run} のジャーナルがありません",
    ),
    "error.journal.history-hint": (
        "inv history lists the runs; RUNBOOK_STATE_DIR sets where they are",
        "inv history で実行の一覧を見られます。保存場所は RUNBOOK_STATE_DIR で指定します",
    ),
    "error.journal.refused-hint": (
        "runs refused before their first step changed nothing; {hint}",
        "最初の手順の前に拒否された実行は何も変更していません。{hint}",
    ),
}
