"""The messages of a host key or a host certificate refused (transport): said again at the CLI
boundary and in reports in the reader's language (`error.` keys are matched by `Words.again`)."""

MESSAGES: dict[str, tuple[str, str]] = {
    # Host keys.
    "error.transport.hostkey.alias-unknown": (
        "the host key of {host} ({entry}, HostKeyAlias {alias}) is not known: {key}; refusing "
        "to connect (looked for {looked} in {searched})",
        "{host} ({entry}、HostKeyAlias {alias}) のホスト鍵は未知です: {key}。接続を拒否します "
        "({searched} で {looked} を探しました)",
    ),
    "error.transport.hostkey.alias-unknown.hint": (
        "check the fingerprint out of band (on the host: ssh-keygen -lf "
        "/etc/ssh/ssh_host_{kind}_key.pub), then add it under the alias: {add} >> "
        "~/.ssh/known_hosts",
        "フィンガープリントを別経路で確認し (ホストで: ssh-keygen -lf "
        "/etc/ssh/ssh_host_{kind}_key.pub)、別名で追加してください: {add} >> "
        "~/.ssh/known_hosts",
    ),
    "error.transport.hostkey.missing-file": ("{path} (missing)", "{path} (ありません)"),
    "error.transport.hostkey.check": (
        "check the fingerprint out of band (on the host: ssh-keygen -lf "
        "/etc/ssh/ssh_host_{kind}_key.pub)",
        "フィンガープリントを別経路で確認してください (ホストで: ssh-keygen -lf "
        "/etc/ssh/ssh_host_{kind}_key.pub)",
    ),
    "error.transport.hostkey.revoked": (
        "the host key of {who} ({key}) is marked @revoked in {path}; refusing to connect",
        "{who} のホスト鍵 ({key}) は {path} で @revoked とされています。接続を拒否します",
    ),
    "error.transport.hostkey.revoked.hint": (
        "a revoked key is never accepted: the host needs a new key, which its administrator "
        "must confirm to you out of band before you add it",
        "失効した鍵は決して受け入れられません: ホストには新しい鍵が必要で、追加する前に管理者から"
        "別経路で確認を受けてください",
    ),
    "error.transport.hostkey.unknown": (
        "the host key of {who} is not known: {key}; refusing to connect (looked for {entry} "
        "in {searched})",
        "{who} のホスト鍵は未知です: {key}。接続を拒否します ({searched} で {entry} を探しました)",
    ),
    "error.transport.hostkey.unknown-certified": (
        "the host key of {who} is not known: {key}; refusing to connect (looked for {entry} "
        "in {searched}); {files} trusts a certificate authority (@cert-authority) for it, but "
        "the host presented a plain key, not a certificate (does its sshd have HostCertificate?)",
        "{who} のホスト鍵は未知です: {key}。接続を拒否します ({searched} で {entry} を"
        "探しました)。{files} はこのホストに認証局 (@cert-authority) を信頼していますが、"
        "ホストは証明書でなく素の鍵を提示しました (sshd に HostCertificate がありますか?)",
    ),
    "error.transport.hostkey.unknown.hint": (
        "{check}, then add the key: {add} >> ~/.ssh/known_hosts (or into a known_hosts file "
        "the inventory lists for {host})",
        "{check}。その後、鍵を追加してください: {add} >> ~/.ssh/known_hosts (またはインベントリが"
        " {host} に挙げる known_hosts ファイルへ)",
    ),
    "error.transport.hostkey.changed": (
        "the host key of {who} has CHANGED: {holder} expects {expected}, the host presented "
        "{key}. Someone may be intercepting the connection (man-in-the-middle), or the host was "
        "reinstalled; refusing to connect",
        "{who} のホスト鍵が変わりました: {holder} は {expected} を期待していますが、ホストは "
        "{key} を提示しました。誰かが接続を傍受している (中間者攻撃) か、ホストが再インストール"
        "されました。接続を拒否します",
    ),
    "error.transport.hostkey.changed.hint": (
        "{check}; only if it matches, remove the old entry (ssh-keygen -R '{entry}' -f "
        "{holder}) and add the new one ({add} >> {file})",
        "{check}。一致した場合に限り、古い項目を削除し (ssh-keygen -R '{entry}' -f {holder})、"
        "新しい項目を追加してください ({add} >> {file})",
    ),
    # Host certificates.
    "error.transport.hostcert.refused": (
        "the host certificate of {who} is refused: {reason}; refusing to connect",
        "{who} のホスト証明書は拒否されました: {reason}。接続を拒否します",
    ),
    "error.transport.hostcert.refused-by-line": (
        "the host certificate of {who} is refused: {reason} (the {marker} line: {lines}); "
        "refusing to connect",
        "{who} のホスト証明書は拒否されました: {reason} ({marker} の行: {lines})。接続を拒否します",
    ),
    "error.transport.hostcert.revoked-ca.hint": (
        "a revoked CA is never trusted: the host needs a certificate from another CA, or, "
        "after checking its fingerprint out of band, list the host's own key in known_hosts",
        "失効した CA は決して信頼されません: ホストには別の CA の証明書が必要です。または、"
        "フィンガープリントを別経路で確認した後、ホスト自身の鍵を known_hosts に載せてください",
    ),
    "error.transport.hostcert.hint": (
        "the host needs a certificate from the CA that line trusts, valid now and naming "
        "{name} (ssh-keygen -s CA_KEY -h -n {principal} HOST_KEY.pub; ssh-keygen -Lf shows "
        "one); or, after checking its fingerprint out of band, list the host's own key in "
        "known_hosts",
        "ホストには、その行が信頼する CA による、現在有効で {name} を名指す証明書が必要です "
        "(ssh-keygen -s CA_KEY -h -n {principal} HOST_KEY.pub。ssh-keygen -Lf で表示)。または、"
        "フィンガープリントを別経路で確認した後、ホスト自身の鍵を known_hosts に載せてください",
    ),
    # Why a host certificate is refused (hostcert.py): a value inside the message above.
    "error.transport.cert.unreadable": ("it cannot be read ({reason})", "読めません ({reason})"),
    "error.transport.cert.user": (
        "it is a user certificate, not a host one",
        "ホスト証明書でなくユーザー証明書です",
    ),
    "error.transport.cert.revoked-ca": (
        "its CA key {signer} is marked @revoked",
        "その CA 鍵 {signer} は @revoked とされています",
    ),
    "error.transport.cert.untrusted-ca": (
        "it is signed by the CA key {signer}, which no @cert-authority line for {entry} trusts",
        "CA 鍵 {signer} で署名されていますが、{entry} のどの @cert-authority 行もそれを信頼して"
        "いません",
    ),
    "error.transport.cert.algorithm": (
        "its signature algorithm {algorithm} is not accepted",
        "その署名アルゴリズム {algorithm} は受け付けられません",
    ),
    "error.transport.cert.bad-signature": (
        "the CA's signature on it does not verify",
        "CA の署名を検証できません",
    ),
    "error.transport.cert.not-yet": ("it is not valid before {when}", "{when} より前は無効です"),
    "error.transport.cert.expired": ("it expired at {when}", "{when} に期限切れになりました"),
    "error.transport.cert.no-principals": (
        "it names no principals (it would be valid for any host)",
        "プリンシパルを名指していません (どのホストにも有効になってしまいます)",
    ),
    "error.transport.cert.other-principals": (
        "its principals ({principals}) do not name {host}",
        "そのプリンシパル ({principals}) は {host} を名指していません",
    ),
    "error.transport.cert.critical": (
        "it has critical options",
        "クリティカルオプションがあります",
    ),
}
