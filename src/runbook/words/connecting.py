"""The messages of a connection that failed or was refused (transport): said again at the CLI
boundary and in reports in the reader's language (`error.` keys are matched by `Words.again`).

A message's optional part (a tail said only sometimes) is its own entry, given as a value, so
it is said again too; the English of each entry is the text the transport always said."""

MESSAGES: dict[str, tuple[str, str]] = {
    # Who: the hop that failed, named in every message below.
    "error.transport.who.through-jump": (
        "{host} ({login}, through the jump host {jumps})",
        "{host}（{login}、踏み台ホスト {jumps} 経由）",
    ),
    "error.transport.who.through-jumps": (
        "{host} ({login}, through the jump hosts {jumps})",
        "{host}（{login}、踏み台ホスト {jumps} 経由）",
    ),
    "error.transport.who.through-proxy": (
        "{host} ({login}, through its ProxyCommand `{command}`)",
        "{host}（{login}、ProxyCommand `{command}` 経由）",
    ),
    "error.transport.who.jump": (
        "the jump host {jump} ({login}) on the way to {target}",
        "{target} への途中の踏み台ホスト {jump}（{login}）",
    ),
    "error.transport.short.jump": (
        "the jump host {jump} on the way to {host}",
        "{host} への途中の踏み台ホスト {jump}",
    ),
    "error.transport.whom.jump": ("the jump host {jump}", "踏み台ホスト {jump}"),
    "error.transport.where.jump": ("the jump host", "踏み台ホスト"),
    "error.transport.where.host": ("the host", "そのホスト"),
    "error.transport.settings.jump": (
        "the jump host's own settings in your ssh_config (Host {jump}: HostName, User, Port, "
        "IdentityFile); the inventory's are the target's",
        "ssh_config にある踏み台ホスト自身の設定（Host {jump}: HostName, User, Port, "
        "IdentityFile）。インベントリの設定は接続先のものです",
    ),
    "error.transport.settings.host": (
        "`address`, `user`, `port` and `identity` for this host in the inventory",
        "インベントリにあるこのホストの `address`、`user`、`port`、`identity`",
    ),
    # The known_hosts files looked in, a missing one not last: "{path} (missing)" matched
    # whole would mark only the last one again.
    "error.transport.hostkey.missing-then": (
        "{path} (missing), {rest}",
        "{path} (ありません), {rest}",
    ),
    # The hop's own connection.
    "error.transport.passphrase": (
        "the key for {who} is protected by a passphrase",
        "{who} の鍵はパスフレーズで保護されています",
    ),
    "error.transport.passphrase.hint": (
        "load it into ssh-agent (ssh-add KEY) before running",
        "実行する前に ssh-agent に読み込んでください（ssh-add KEY）",
    ),
    "error.transport.keys.jump": (
        "its ssh_config IdentityFile, the agent's and the default keys",
        "ssh_config の IdentityFile、エージェントの鍵と既定の鍵",
    ),
    "error.transport.keys.identity": ("the key {identity}", "鍵 {identity}"),
    "error.transport.keys.default": (
        "the agent's and default keys",
        "エージェントの鍵と既定の鍵",
    ),
    "error.transport.login-refused": (
        "{who} refused the login as {user} with {key}",
        "{who} は {key} による {user} としてのログインを拒否しました",
    ),
    "error.transport.login-refused.hint": (
        "check {settings}, and that the public key is in the user's authorized_keys on {where}",
        "{settings} を確認し、{where}のそのユーザーの authorized_keys に公開鍵があるか"
        "確認してください",
    ),
    "error.transport.unresolved": (
        "cannot resolve the address of {host}: {address} ({reason})",
        "{host} のアドレスを解決できません: {address}（{reason}）",
    ),
    "error.transport.unresolved.brackets": (
        "write the address without brackets ({bare}){apart}: brackets belong only in a "
        "ProxyJump or known_hosts entry with a port",
        "アドレスは角括弧なしで書いてください（{bare}）{apart}。角括弧はポート付きの ProxyJump "
        "または known_hosts の項目でのみ使います",
    ),
    "error.transport.unresolved.apart": (
        " and the port apart (Port {port}, or `port:`)",
        "、ポートは別に（Port {port} または `port:`）",
    ),
    "error.transport.check": ("check {settings}", "{settings} を確認してください"),
    "error.transport.refused": (
        "cannot connect to {who}: connection refused",
        "{who} に接続できません: 接続が拒否されました",
    ),
    "error.transport.refused.hint": (
        "is sshd running on {address} and listening on port {port}? check {settings}",
        "{address} で sshd が動いていてポート {port} で待ち受けていますか? {settings} を"
        "確認してください",
    ),
    "error.transport.timeout": (
        "{who} did not answer within {timeout}",
        "{who} が {timeout} 以内に応答しませんでした",
    ),
    "error.transport.timeout.hint": (
        "is {address} up, the address right, a firewall dropping port {port}?",
        "{address} は起動していますか? アドレスは正しいですか? ファイアウォールがポート {port} を"
        "破棄していませんか?",
    ),
    "error.transport.no-ssh": (
        "{who} accepted the connection{over} but did not speak SSH within {timeout} "
        "(no SSH banner or handshake)",
        "{who} は接続を受け付けました{over}が、{timeout} 以内に SSH を話しませんでした "
        "（SSH バナーもハンドシェイクもなし）",
    ),
    "error.transport.no-ssh.over-proxy": (
        " (over its ProxyCommand)",
        "（ProxyCommand 経由）",
    ),
    "error.transport.no-ssh.over-jump": (
        " (reached through {jump})",
        "（{jump} 経由）",
    ),
    "error.transport.no-ssh.hint": (
        "is port {port} of {address} really sshd's? an overloaded sshd or a stalled proxy also "
        "does this",
        "{address} のポート {port} は本当に sshd のものですか? 過負荷の sshd や止まった"
        "プロキシでもこうなります",
    ),
    "error.transport.no-key-file": (
        "a key file for {who} does not exist: {path}",
        "{who} の鍵ファイルが存在しません: {path}",
    ),
    "error.transport.no-key-file.hint": (
        "fix IdentityFile in ~/.ssh/config or `identity` in the inventory",
        "~/.ssh/config の IdentityFile かインベントリの `identity` を直してください",
    ),
    "error.transport.cannot-connect": (
        "cannot connect to {who}: {reason}",
        "{who} に接続できません: {reason}",
    ),
    "error.transport.proxy-said": (
        "{message}; its ProxyCommand said: {words}",
        "{message}。ProxyCommand の出力: {words}",
    ),
    # The login.
    # The key's fate written in (two values side by side could not be told apart again).
    "error.transport.login.other-methods.after-key": (
        "{who} asks for {methods} to log in as {user} after the key: this tool logs in with "
        "keys and certificates only",
        "{who} は {user} としてのログインに、鍵の後に {methods} を求めています。このツールは鍵と"
        "証明書でのみログインします",
    ),
    "error.transport.login.other-methods.no-key": (
        "{who} asks for {methods} to log in as {user} and accepts no key: this tool logs in "
        "with keys and certificates only",
        "{who} は {user} としてのログインに {methods} を求めていて、鍵は受け付けません。"
        "このツールは鍵と証明書でのみログインします",
    ),
    "error.transport.login.other-methods.hint": (
        "allow a key alone for this user on the host (sshd's AuthenticationMethods), or reach "
        "it through a jump host that does",
        "ホストでこのユーザーに鍵だけのログインを許可する（sshd の AuthenticationMethods）か、"
        "それを許す踏み台ホスト経由で接続してください",
    ),
    "error.transport.login.too-many": (
        '{who} closed the connection after {offered} key(s) were refused ("{said}": its '
        "MaxAuthTries){agent}",
        '{who} は鍵 {offered} 個が拒否された後で接続を閉じました（"{said}": MaxAuthTries）{agent}',
    ),
    "error.transport.login.too-many.agent": (
        "; the agent offered {from_agent} of its {keys} keys",
        "。エージェントは {keys} 個の鍵のうち {from_agent} 個を提示しました",
    ),
    "error.transport.login.too-many.hint": (
        "offer only this host's key: set `identity` for the host in the inventory (its key is "
        "then offered first), or `IdentitiesOnly yes` with its `IdentityFile` in ~/.ssh/config "
        "(the agent still signs with it)",
        "このホストの鍵だけを提示してください: インベントリでこのホストの `identity` を設定する"
        "（その鍵が最初に提示されます）か、~/.ssh/config で `IdentityFile` と共に "
        "`IdentitiesOnly yes` を設定します（署名は引き続きエージェントが行います）",
    ),
    "error.transport.login.closed": (
        "{who} closed the connection during the login as {user} after {offered} key(s) were "
        "refused: {said}",
        "{who} は {user} としてのログイン中、鍵 {offered} 個が拒否された後で接続を閉じました: "
        "{said}",
    ),
    "error.transport.login.closed.hint": (
        "the host's sshd log says why",
        "理由はホストの sshd のログにあります",
    ),
    "error.transport.login.encrypted": (
        "{who} refused the login as {user}: the key {keys} is protected by a passphrase and not "
        "in the agent ({agent}), so it was not offered{others}",
        "{who} は {user} としてのログインを拒否しました: 鍵 {keys} はパスフレーズで保護されて"
        "いてエージェント（{agent}）にないため、提示されませんでした{others}",
    ),
    "error.transport.login.encrypted.others": (
        "; {offered} other key(s) were refused",
        "。ほかの鍵 {offered} 個は拒否されました",
    ),
    "error.transport.login.encrypted.hint": (
        "load it into the agent (ssh-add KEY) before running",
        "実行する前にエージェントに読み込んでください（ssh-add KEY）",
    ),
    "error.transport.login.refused": (
        "{who} refused the login as {user}; offered {tried} (agent: {agent}{only})",
        "{who} は {user} としてのログインを拒否しました。提示したもの: {tried} "
        "（エージェント: {agent}{only}）",
    ),
    # The same with no agent, written in: "none" alone is a word, never said again.
    "error.transport.login.refused-no-agent": (
        "{who} refused the login as {user}; offered {tried} (agent: none{only})",
        "{who} は {user} としてのログインを拒否しました。提示したもの: {tried} "
        "（エージェント: なし{only}）",
    ),
    "error.transport.login.tried": ("{offered} key(s): {keys}", "鍵 {offered} 個: {keys}"),
    "error.transport.login.tried-none": ("no key at all", "鍵なし"),
    "error.transport.login.refused.hint": (
        "check {settings} (or User, IdentityFile, CertificateFile in ~/.ssh/config: `ssh -G "
        "HOST` shows them), and that the public key is in the user's authorized_keys on {where} "
        "(or its certificate authority in sshd's TrustedUserCAKeys)",
        "{settings}（または ~/.ssh/config の User、IdentityFile、CertificateFile。`ssh -G HOST` "
        "で表示されます）を確認し、{where}のそのユーザーの authorized_keys に公開鍵がある"
        "（または sshd の TrustedUserCAKeys にその認証局がある）か確認してください",
    ),
    "error.transport.agent.unreachable": (
        "cannot be reached at {where}",
        "{where} で接続できません",
    ),
    "error.transport.agent.none": ("none", "なし"),
    "error.transport.agent.keys": ("{keys} key(s) at {where}", "{where} に鍵 {keys} 個"),
    # A jump host that could not reach the next hop.
    "error.transport.forward": (
        "the jump host {jump} ({login}) could not reach {whom} at {where}: {said}",
        "踏み台ホスト {jump}（{login}）から {where} の {whom} に到達できませんでした: {said}",
    ),
    "error.transport.forward.no-answer": (
        "no answer within {timeout} ({said})",
        "{timeout} 以内に応答なし（{said}）",
    ),
    "error.transport.forward.refused.hint": (
        "is sshd running on {address} and listening on port {port}?",
        "{address} で sshd が動いていてポート {port} で待ち受けていますか?",
    ),
    "error.transport.forward.timeout.hint": (
        "is {address} up, and reachable from the jump host (a firewall dropping it)?",
        "{address} は起動していて、踏み台ホストから到達できますか（ファイアウォールが破棄して"
        "いませんか）?",
    ),
    "error.transport.forward.prohibited.hint": (
        "the jump host forbids forwarding there (AllowTcpForwarding, PermitOpen or a `restrict` "
        "key option on the jump host)",
        "踏み台ホストがそこへの転送を禁じています（踏み台ホストの AllowTcpForwarding、PermitOpen、"
        "または鍵の `restrict` オプション）",
    ),
    "error.transport.forward.resolve.hint": (
        "the jump host resolves {address} itself: check the address there",
        "{address} は踏み台ホスト自身が解決します: そこでアドレスを確認してください",
    ),
    "error.transport.forward.other.hint": (
        "is {address} up and sshd listening on port {port}?",
        "{address} は起動していて、sshd がポート {port} で待ち受けていますか?",
    ),
    "error.transport.forward.hint": (
        "{hint} the address is resolved and reached from the jump host: check from there ({probe})",
        "{hint} アドレスの解決と接続は踏み台ホストから行われます: そこから確認してください "
        "（{probe}）",
    ),
    # A ProxyCommand.
    "error.transport.proxy.no-start": (
        "the ProxyCommand of {whom} could not be started ({command}): {reason}",
        "{whom} の ProxyCommand を起動できませんでした（{command}）: {reason}",
    ),
    "error.transport.proxy.no-start.hint": (
        "it runs as `exec COMMAND` by your $SHELL (or /bin/sh): check both",
        "これは $SHELL（または /bin/sh）で `exec COMMAND` として実行されます: 両方を確認して"
        "ください",
    ),
    "error.transport.proxy.exited": (
        "the ProxyCommand of {whom} exited with status {status} before the SSH handshake{said}",
        "{whom} の ProxyCommand は SSH ハンドシェイクの前に終了しました（終了ステータス "
        "{status}）{said}",
    ),
    "error.transport.proxy.closed": (
        "the ProxyCommand of {whom} closed its output before the SSH handshake{said}",
        "{whom} の ProxyCommand は SSH ハンドシェイクの前に出力を閉じました{said}",
    ),
    "error.transport.proxy.silent": (" (it printed nothing)", "（何も出力しませんでした）"),
    "error.transport.proxy.ended.hint": (
        "run it by hand to see why: {command} (it is ProxyCommand in your ssh_config)",
        "理由を見るには手で実行してください: {command}（ssh_config の ProxyCommand です）",
    ),
    # sudo and a step that could not start (ssh.py).
    "error.transport.sudo.requiretty": (
        "sudo on {who} refuses to run without a terminal (its sudoers has `Defaults "
        "requiretty` for {user}): the step did not run",
        "{who} の sudo は端末なしでの実行を拒否します（sudoers に {user} の `Defaults "
        "requiretty` があります）: 手順は実行されませんでした",
    ),
    "error.transport.sudo.requiretty.hint": (
        "set `pty: true` for {host} in the inventory (every command then runs on a terminal, "
        "its stderr merged into stdout), or allow sudo without a terminal for {user} on the "
        "host (`Defaults:{sudoer} !requiretty` in a sudoers drop-in)",
        "インベントリで {host} に `pty: true` を設定する（すべてのコマンドが端末上で実行され、"
        "stderr は stdout に合流します）か、ホストで {user} に端末なしの sudo を許可してください"
        "（sudoers のドロップインに `Defaults:{sudoer} !requiretty`）",
    ),
    "error.transport.sudo.would-not-run": (
        "sudo on {who} would not run the step: {reason}",
        "{who} の sudo は手順を実行しませんでした: {reason}",
    ),
    "error.transport.sudo.would-not-run.hint": (
        "the step did not run; check what {user} may run with sudo",
        "手順は実行されませんでした。{user} が sudo で何を実行できるか確認してください",
    ),
    "error.transport.no-start": (
        "the step could not start on {who}: {reason}",
        "{who} で手順を開始できませんでした: {reason}",
    ),
    "error.transport.no-start.hint": (
        "nothing ran; the host needs sh, setsid (util-linux) and timeout (coreutils)",
        "何も実行されていません。ホストには sh、setsid（util-linux）、timeout（coreutils）が"
        "必要です",
    ),
    "error.transport.sudo.no-password": (
        "sudo on {who} asks for a password and none was given",
        "{who} の sudo がパスワードを求めていますが、与えられていません",
    ),
    "error.transport.sudo.no-password.hint": (
        "export RUNBOOK_SUDO_PASSWORD=... (or {variable}=... for this host alone), run on a "
        "terminal, or set `sudo: false` for this host; the step did not run",
        "RUNBOOK_SUDO_PASSWORD=... を export する（このホストだけなら {variable}=...）か、端末で"
        "実行するか、このホストに `sudo: false` を設定してください。手順は実行されません"
        "でした",
    ),
    "error.transport.sudo.refused": (
        "sudo on {who} refused the password",
        "{who} の sudo がパスワードを拒否しました",
    ),
    "error.transport.sudo.refused.hint": (
        "check RUNBOOK_SUDO_PASSWORD or the password typed at the prompt (it is {user}'s "
        "password on {host}); the step did not run",
        "RUNBOOK_SUDO_PASSWORD かプロンプトで入力したパスワードを確認してください（{host} 上の "
        "{user} のパスワードです）。手順は実行されませんでした",
    ),
    "error.transport.gone": (
        "the connection to {who} is gone: the command could not start",
        "{who} への接続が失われました: コマンドを開始できませんでした",
    ),
    "error.transport.gone.hint": (
        "nothing ran; check that the host is up and reconnect ({reason})",
        "何も実行されていません。ホストが起動しているか確認して再接続してください（{reason}）",
    ),
    # A connection found dead before a command (ssh.py).
    "error.transport.not-open": (
        "the connection to {who} is not open",
        "{who} への接続は開いていません",
    ),
    "error.transport.closed-by-us": (
        "the connection to {who} was closed by this program",
        "{who} への接続はこのプログラムが閉じました",
    ),
    "error.transport.lost": (
        "the connection to {who} was lost during an earlier command",
        "{who} への接続は以前のコマンドの実行中に失われました",
    ),
    "error.transport.lost.hint": (
        "that command's outcome is unknown: check the host by hand before going on",
        "そのコマンドの結果は不明です: 続ける前にホストを手で確認してください",
    ),
    "error.transport.unstopped": (
        "a command on {who} could not be stopped and may still be running",
        "{who} 上のコマンドを止められず、まだ実行中の可能性があります",
    ),
    "error.transport.unstopped.hint": (
        "nothing more is sent to this host: check it by hand before going on",
        "このホストにはもう何も送りません: 続ける前に手で確認してください",
    ),
    "error.transport.dropped": (
        "the connection to {who} was closed by the host or the network while idle",
        "{who} への接続は待機中にホストかネットワークによって閉じられました",
    ),
    "error.transport.dropped.hint": (
        "nothing was running; connect again to go on",
        "何も実行されていませんでした。続けるには再接続してください",
    ),
    # Settings read before connecting (ssh_connect.py).
    "error.transport.no-identity": (
        "the identity file for {host} does not exist: {path}",
        "{host} の鍵ファイルが存在しません: {path}",
    ),
    "error.transport.no-identity.hint": (
        "fix `identity` in the inventory, or create the key (ssh-keygen -f FILE)",
        "インベントリの `identity` を直すか、鍵を作成してください（ssh-keygen -f FILE）",
    ),
    "error.transport.no-ssh-config": (
        "the ssh_config file does not exist: {path}",
        "ssh_config ファイルが存在しません: {path}",
    ),
    "error.transport.unreadable-known-hosts": (
        "cannot read the known_hosts file {path}: {reason}",
        "known_hosts ファイル {path} を読めません: {reason}",
    ),
    "error.transport.bad-address": (
        "bad address for {host}: {address}: {reason}",
        "{host} のアドレスが不正です: {address}: {reason}",
    ),
    "error.transport.unsupported": (
        "the ssh configuration of {host} ({login}) sets {options}, which this tool cannot honour",
        "{host}（{login}）の ssh 設定は {options} を設定していますが、このツールはそれに従えません",
    ),
    "error.transport.unsupported.hint": (
        "`ssh -G {address}` shows it; remove it for this host (a Host block of its own), or "
        "reach the host another way",
        "`ssh -G {address}` で表示されます。このホストではそれを外す（専用の Host ブロック）か、"
        "別の方法でホストに到達してください",
    ),
    "error.transport.too-many-jumps": (
        "more than {count} ProxyJump hops on the way to {host}",
        "{host} への途中の ProxyJump が {count} 段を超えています",
    ),
    "error.transport.bad-jump": (
        "bad ProxyJump hop {hop} on the way to {host}",
        "{host} への途中の ProxyJump の段 {hop} が不正です",
    ),
    # OpenSSH's reading of ssh_config (core/sshconfig.py).
    "error.sshconfig.bad-host": (
        "{name} is not a host name OpenSSH would accept ({host})",
        "{name} は OpenSSH が受け付けるホスト名ではありません（{host}）",
    ),
    "error.sshconfig.bad-user": (
        "{name} is not a user name OpenSSH would accept ({host})",
        "{name} は OpenSSH が受け付けるユーザー名ではありません（{host}）",
    ),
    "error.sshconfig.cannot-pass": (
        "cannot pass {line} to ssh -G",
        "{line} を ssh -G に渡せません",
    ),
    "error.sshconfig.hangs": (
        "ssh -G {name} took more than {timeout}",
        "ssh -G {name} が {timeout} を超えました",
    ),
    "error.sshconfig.hangs.hint": (
        "a `Match exec` in your ssh_config may hang",
        "ssh_config の `Match exec` が止まっているのかもしれません",
    ),
    "error.sshconfig.unreadable": (
        "OpenSSH cannot read the ssh configuration for {name}: {reason}",
        "OpenSSH は {name} の ssh 設定を読めません: {reason}",
    ),
    "error.sshconfig.unreadable.hint": (
        "`ssh -G {name}` shows the same; fix the ssh_config it names",
        "`ssh -G {name}` でも同じ結果です。それが示す ssh_config を直してください",
    ),
}
