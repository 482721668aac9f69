"""The refusals of signed approvals and of an approval that does not match what is about to
run: `error.` keys, said again by `Words.again` at the CLI boundary (a refusal's list, one
line each, is said again line by line). Also what `inv approve` prints and the lines of
`inv demo`: `sign.` and `demo.` keys, said by key."""

MESSAGES: dict[str, tuple[str, str]] = {
    # Signature files judged (commands.signed): why one does not count.
    "error.sign.signers-unreadable": (
        "the signers file {signers} of approval: cannot be read ({error})",
        "approval: の署名者ファイル {signers} を読めません({error})",
    ),
    "error.sign.signers-hint": (
        "approval.signers names an OpenSSH allowed_signers file, relative to the inventory",
        "approval.signers には OpenSSH の allowed_signers ファイルを、インベントリからの"
        "相対パスで指定します",
    ),
    "error.sign.not-regular": ("not a regular file", "通常のファイルではありません"),
    "error.sign.other-runbook": (
        "it approves runbook {runbook}",
        "ランブック {runbook} を承認する署名です",
    ),
    "error.sign.other-target": (
        "it was signed for {signed_for}, not {target}",
        "{target} ではなく {signed_for} に対する署名です",
    ),
    "error.sign.twice": (
        "{principal} signed twice: counted once",
        "{principal} が 2 回署名しています: 1 回と数えます",
    ),
    "error.sign.key-counted": (
        "its key {fingerprint} already counted for another principal",
        "その鍵 {fingerprint} は別のプリンシパルの署名としてすでに数えています",
    ),
    "error.sign.older": (
        "{principal} signed an older plan (sha256:{digest}…, at {signed_at}): the runbook, "
        "the inventory or --var changed since; it needs signing again",
        "{principal} が署名したのは以前の計画です(sha256:{digest}…、{signed_at}): その後 "
        "runbook、インベントリ、または --var が変わりました。署名し直す必要があります",
    ),
    "error.sign.unknown-key": (
        "unknown key {fingerprint}: {signers} does not list it, or not as valid now",
        "未知の鍵 {fingerprint}: {signers} に記載されていないか、現在は有効ではありません",
    ),
    "error.sign.unknown-key-why": (
        "unknown key {fingerprint}: {signers} does not list it, or not as valid now ({why})",
        "未知の鍵 {fingerprint}: {signers} に記載されていないか、現在は有効ではありません({why})",
    ),
    "error.sign.pattern": (
        "{signers} names its key by a pattern ({patterns}): list each reviewer by name",
        "{signers} はその鍵をパターン({patterns})で指定しています: レビュー担当者を"
        "一人ずつ名前で記載してください",
    ),
    "error.sign.by-operator": (
        "signed by {principal}, the operator: the person who releases cannot approve their "
        "own release",
        "作業者 {principal} の署名です: リリースする本人は自分のリリースを承認できません",
    ),
    "error.sign.forged": (
        "the signature does not verify: the file was altered, forged or corrupted",
        "署名を検証できません: ファイルが改変、偽造、または破損しています",
    ),
    "error.sign.forged-why": (
        "the signature does not verify: the file was altered, forged or corrupted "
        "(ssh-keygen: {reason})",
        "署名を検証できません: ファイルが改変、偽造、または破損しています(ssh-keygen: {reason})",
    ),
    # A file of approvals/ that is not an approval at all (commands.signed).
    "error.sign.not-an-approval": (
        "not an approval: {reason}",
        "承認のファイルではありません: {reason}",
    ),
    "error.sign.not-the-header": (
        "it does not start with the lines of a {header} text",
        "{header} のテキストの行で始まっていません",
    ),
    "error.sign.expected": (
        "expected {key}, found {found}",
        "{key} があるべきところに {found} があります",
    ),
    "error.sign.not-a-name": (
        "its runbook or target is not a name",
        "runbook か target が名前ではありません",
    ),
    "error.sign.not-a-digest": (
        "its digest is not 64 hex digits",
        "digest が 16 進 64 桁ではありません",
    ),
    "error.sign.not-a-time": (
        "its signed-at is not a time with a zone",
        "signed-at がタイムゾーン付きの時刻ではありません",
    ),
    "error.sign.unreadable": ("cannot be read ({error})", "読めません({error})"),
    "error.sign.too-large": ("larger than {size} KiB", "{size} KiB を超えています"),
    "error.sign.not-utf8": ("not UTF-8 text", "UTF-8 のテキストではありません"),
    "error.sign.no-signature": ("no SSH signature in it", "SSH 署名が含まれていません"),
    # The refusal of a release without enough signatures (commands.signatures), line by line.
    "error.sign.count": (
        "approval for {which}: {count} of {required} signatures: {missing} missing",
        "{which} の承認: 署名は {required} 件中 {count} 件で、{missing} 件足りません",
    ),
    "error.sign.count-signed": (
        "approval for {which}: {count} of {required} signatures: signed by {signed}; "
        "{missing} missing",
        "{which} の承認: 署名は {required} 件中 {count} 件({signed} が署名済み)で、"
        "{missing} 件足りません",
    ),
    "error.sign.each-must": (
        "  each must be over this plan, sha256:{digest}, by a distinct principal of "
        "{signers} other than the operator ({operators})",
        "  どの署名もこの計画 sha256:{digest} に対するもので、作業者({operators})以外の "
        "{signers} のそれぞれ別のプリンシパルによるものである必要があります",
    ),
    "error.sign.not-counted": (
        "  not counted: {file}: {reason}",
        "  数えない署名: {file}: {reason}",
    ),
    "error.sign.agents-key": ("the agent's key {fingerprint}", "エージェントの鍵 {fingerprint}"),
    # ssh-keygen and ssh-add (commands.sshkeygen).
    "error.sign.no-program": (
        "{name} not found: signed approvals need OpenSSH 8.2 or later",
        "{name} が見つかりません: 署名による承認には OpenSSH 8.2 以降が必要です",
    ),
    "error.sign.no-program-hint": (
        "install it (Debian: apt-get install openssh-client)",
        "インストールしてください(Debian: apt-get install openssh-client)",
    ),
    "error.sign.timeout": (
        "{name} did not finish within {seconds} s",
        "{name} が {seconds} 秒以内に終わりませんでした",
    ),
    "error.sign.timeout-hint": (
        "was it waiting for a passphrase or for a security key to be touched?",
        "パスフレーズの入力か、セキュリティキーへのタッチを待っていませんでしたか?",
    ),
    "error.sign.cannot-run": (
        "cannot run {program}: {error}",
        "{program} を実行できません: {error}",
    ),
    "error.sign.wrong-passphrase": (
        "wrong passphrase for {key}",
        "{key} のパスフレーズが違います",
    ),
    "error.sign.wrong-passphrase-hint": (
        "try again, or `ssh-add` the key first",
        "もう一度試すか、先に鍵を `ssh-add` してください",
    ),
    "error.sign.passphrase-no-terminal": (
        "the key {key} has a passphrase and the ssh-agent does not hold it; with no terminal "
        "there is nowhere to type it",
        "鍵 {key} にはパスフレーズがあり、ssh-agent はその鍵を持っていません。端末がない"
        "ので入力できません",
    ),
    "error.sign.passphrase-no-terminal-hint": (
        "`ssh-add {key}` first (then inv approve uses the agent), or run on a terminal",
        "先に `ssh-add {key}` する(inv approve はエージェントを使います)か、端末で実行してください",
    ),
    "error.sign.key-too-open": (
        "ssh-keygen refuses {key}: other users can read it",
        "ssh-keygen は {key} を拒否しました: 他のユーザーが読めます",
    ),
    "error.sign.public-only": (
        "{key} is a public key and the ssh-agent does not hold its private half",
        "{key} は公開鍵で、ssh-agent はその秘密鍵を持っていません",
    ),
    "error.sign.public-only-hint": (
        "pass the private key with --key, or `ssh-add` it",
        "--key で秘密鍵を渡すか、`ssh-add` してください",
    ),
    "error.sign.cannot-read-key": (
        "cannot read the key {key}: {reason}",
        "鍵 {key} を読めません: {reason}",
    ),
    "error.sign.cannot-sign": (
        "ssh-keygen could not sign with {key}: {reason}",
        "ssh-keygen は {key} で署名できませんでした: {reason}",
    ),
    "error.sign.no-reason": ("no reason given", "理由は示されませんでした"),
    "error.sign.no-agent": (
        "no --key, and no ssh-agent to sign with (SSH_AUTH_SOCK is not set)",
        "--key がなく、署名に使う ssh-agent もありません(SSH_AUTH_SOCK が設定されていません)",
    ),
    "error.sign.no-agent-hint": (
        "pass --key ~/.ssh/id_ed25519 (your private key), or start ssh-agent and ssh-add it",
        "--key ~/.ssh/id_ed25519(あなたの秘密鍵)を渡すか、ssh-agent を起動して ssh-add "
        "してください",
    ),
    "error.sign.agent-empty": ("the ssh-agent holds no key", "ssh-agent は鍵を持っていません"),
    "error.sign.agent-empty-hint": (
        "`ssh-add ~/.ssh/id_ed25519`, or pass --key with your private key",
        "`ssh-add ~/.ssh/id_ed25519` するか、--key で秘密鍵を渡してください",
    ),
    "error.sign.agent-unreachable": (
        "cannot reach the ssh-agent: {reason}",
        "ssh-agent に接続できません: {reason}",
    ),
    "error.sign.ssh-add-failed": ("ssh-add -L failed", "ssh-add -L が失敗しました"),
    "error.sign.agent-unreachable-hint": (
        "check SSH_AUTH_SOCK, or pass --key with your private key",
        "SSH_AUTH_SOCK を確認するか、--key で秘密鍵を渡してください",
    ),
    # What differs from the reviewed plan (commands.approval), one line each.
    "error.approval.differs": ("  differs: {difference}", "  相違: {difference}"),
    "error.approval.differs-not-reviewed": (
        "  differs: {host}: not among the reviewed hosts",
        "  相違: {host}: レビューしたホストに含まれていません",
    ),
    "error.approval.differs-removed": (
        "  differs: {where}: removed {value}",
        "  相違: {where}: {value} がなくなりました",
    ),
    "error.approval.differs-added": (
        "  differs: {where}: added {value}",
        "  相違: {where}: {value} が加わりました",
    ),
    "error.approval.differs-reordered": (
        "  differs: {where}: the same items in another order",
        "  相違: {where}: 同じ項目が別の順序で並んでいます",
    ),
    "error.approval.differs-plan": (
        "  differs: {host}: plan: {before} → {after}",
        "  相違: {host}: 計画: {before} → {after}",
    ),
    "error.approval.differs-more": (
        "  differs: ... and {count} more",
        "  相違: ... ほか {count} 件",
    ),
    # Values inside messages of other modules: a host named with its ssh_config alias, as
    # transport.ssh_errors names it (matched whole: "{login}, ssh_config alias {alias}" alone
    # would match any text with a comma before it).
    "error.transport.target-alias": (
        "{host} ({login}, ssh_config alias {alias})",
        "{host} ({login}、ssh_config の別名 {alias})",
    ),
    "error.transport.through-jump-alias": (
        "{host} ({login}, ssh_config alias {alias}, through the jump host {jumps})",
        "{host} ({login}、ssh_config の別名 {alias}、踏み台ホスト {jumps} 経由)",
    ),
    "error.transport.through-jumps-alias": (
        "{host} ({login}, ssh_config alias {alias}, through the jump hosts {jumps})",
        "{host} ({login}、ssh_config の別名 {alias}、踏み台ホスト {jumps} 経由)",
    ),
    "error.transport.through-proxy-alias": (
        "{host} ({login}, ssh_config alias {alias}, through its ProxyCommand `{command}`)",
        "{host} ({login}、ssh_config の別名 {alias}、ProxyCommand `{command}` 経由)",
    ),
    "error.sshconfig.exited": (
        "ssh -G exited {status}",
        "ssh -G が終了コード {status} で終わりました",
    ),
    # Undelivered notifications, said again in the report (commands.team).
    "error.notify.left-at-end": (
        "not delivered when the run ended (left for `inv report`)",
        "実行の終了時に送信できませんでした(`inv report` に残しました)",
    ),
    "error.notify.left-again": (
        "not delivered this time (left for the next `inv report`)",
        "今回も送信できませんでした(次の `inv report` に残しました)",
    ),
    # What `inv approve` prints (commands.signatures).
    "sign.signed": (
        "signed the plan of {runbook} for {target}, digest sha256:{digest}",
        "{target} 向けの {runbook} の計画に署名しました。ダイジェスト sha256:{digest}",
    ),
    "sign.by": (
        "  by {principal} ({fingerprint}) at {signed_at}",
        "  署名者 {principal} ({fingerprint})、{signed_at}",
    ),
    "sign.unlisted-key": ("a key no signers file lists", "どの署名者ファイルにもない鍵"),
    "sign.written": (
        "  written to {path} (commit it with the runbook)",
        "  {path} に書き出しました(ランブックと一緒にコミットしてください)",
    ),
    "sign.text": ("  the text signed:", "  署名したテキスト:"),
    "sign.no-approval": (
        "note: no host of {target} sets approval:, so its releases do not check signatures (yet)",
        "注意: {target} のどのホストも approval: を設定していないため、そのリリースは"
        "(まだ)署名を確認しません",
    ),
    "sign.not-listed": (
        "warning: no principal of {files} has this key ({fingerprint}): the signature will "
        "not count until a line for it is added there",
        "警告: {files} のどのプリンシパルもこの鍵({fingerprint})を持っていません: その行が"
        "追加されるまで、この署名は数えられません",
    ),
    "sign.so-far": (
        "good signatures over this plan so far: {signed} ({required} required; the "
        "operator's own will not count)",
        "この計画へのこれまでの有効な署名: {signed}(必要なのは {required} 件。作業者本人の"
        "署名は数えません)",
    ),
    "sign.none": ("none", "なし"),
    # `inv demo`'s own lines (demo).
    "demo.sandbox": (
        "1. sandbox: sshd, nginx, a config repository and an ActionCable-like app on loopback",
        "1. サンドボックス: ループバック上の sshd、nginx、設定リポジトリ、ActionCable 風のアプリ",
    ),
    "demo.before": (
        "\n2. before the release: a WebSocket client asks {url}",
        "\n2. リリース前: WebSocket クライアントが {url} に接続します",
    ),
    "demo.after": (
        "\n4. after the release: a WebSocket client asks {url}",
        "\n4. リリース後: WebSocket クライアントが {url} に接続します",
    ),
    "demo.undo": (
        "Undo it with `{undo}` (restores the backup byte for byte); stop the sandbox with "
        "`{down}`.",
        "元に戻すには `{undo}`(バックアップをバイト単位でそのまま戻します)、サンドボックス"
        "を止めるには `{down}` を実行します。",
    ),
    "demo.app-log": ("app log: {line}", "アプリのログ: {line}"),
}
