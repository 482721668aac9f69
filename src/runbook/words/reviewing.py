"""What the dry run, `inv show --output`, a step's one-line summary (gate, report), the booked
window's days and the notifications' delivery say."""

_WEEKDAYS = {
    "mon": ("Mon", "月"),
    "tue": ("Tue", "火"),
    "wed": ("Wed", "水"),
    "thu": ("Thu", "木"),
    "fri": ("Fri", "金"),
    "sat": ("Sat", "土"),
    "sun": ("Sun", "日"),
}

MESSAGES: dict[str, tuple[str, str]] = {
    # --- the dry run (`inv release --dry-run`) ---------------------------------------------
    "dry.digest": ("digest sha256:{digest}", "ダイジェスト sha256:{digest}"),
    "dry.trusted-from": ("{key} (from {file})", "{key}（{file} より）"),
    "dry.changes": (
        "changes in {repo}: {from_ref} ({from_commit}) → {to_ref} ({to_commit}), paths {paths}",
        "{repo} の変更: {from_ref}（{from_commit}）→ {to_ref}（{to_commit}）、対象パス {paths}",
    ),
    "dry.no-difference": ("(no difference in these paths)", "（これらのパスに差分はありません）"),
    "dry.put-in-full": ("content, in full:", "内容（全文）:"),
    "dry.put-diff": ("diff against {base} ({commit}):", "{base}（{commit}）との差分:"),
    "dry.put-script": (
        "script (its data is this content, base64):",
        "スクリプト（データはこの内容を base64 にしたもの）:",
    ),
    # --- inv show --output -------------------------------------------------------------------
    "review.written": (
        "review of {runbook} for {host} written to {path}",
        "{host} 向けの {runbook} のレビューを {path} に書き出しました",
    ),
    # --- a step in one line: the gate, the dry run; a put's also said again in the report ------
    "step.line.put": (
        "put {src} → {dest} (mode {mode}, {size} bytes, sha256:{sha})",
        "ファイル配置 {src} → {dest}（モード {mode}、{size} バイト、sha256:{sha}）",
    ),
    "step.line.put-owner": (
        "put {src} → {dest} (mode {mode}, owner {owner}, {size} bytes, sha256:{sha})",
        "ファイル配置 {src} → {dest}（モード {mode}、所有者 {owner}、{size} バイト、sha256:{sha}）",
    ),
    "line.subprotocol": (" (subprotocol {subprotocol})", "（サブプロトコル {subprotocol}）"),
    "show.no-backup": (
        "# no backup of {path} was made by the release: this step will fail",
        "# リリースは {path} のバックアップを作っていません: この手順は失敗します",
    ),
    # A restore's values as the review shows them before any backup exists: what is sent (and
    # what the review document must show) keeps the English; the dry run says them.
    "script.backup-made": ("{{backup made by the release}}", "{{リリースが作ったバックアップ}}"),
    "script.sha256-at-backup": (
        "{{sha256 recorded at backup}}",
        "{{バックアップ時に記録した sha256}}",
    ),
    "script.mode-at-backup": (
        "{{mode and owner recorded at backup}}",
        "{{バックアップ時に記録したモードと所有者}}",
    ),
    "script.target-at-backup": (
        "{{this path, or the file it linked to at backup}}",
        "{{このパス、またはバックアップ時にリンク先だったファイル}}",
    ),
    # --- a time on a clock, its weekday said (`2026-12-02(水) 06:01 JST (UTC+09:00)`) ---------
    # Recorded in a window's stop message and said again in the report: "window." keys.
    **{
        f"window.clock.{day}": (
            f"{en} {{year}}-{{month}}-{{day}} {{hour}}:{{minute}} {{zone}}",
            f"{{year}}-{{month}}-{{day}}({ja}) {{hour}}:{{minute}} {{zone}}",
        )
        for day, (en, ja) in _WEEKDAYS.items()
    },
    # --- notifications ---------------------------------------------------------------------
    "notify.undelivered": (
        "notifications: {left} of {total} not delivered (kept in the journal; `inv report` "
        "lists them and sends them again)",
        "通知: {total} 件中 {left} 件を送信できませんでした（ジャーナルに残しました。"
        "`inv report` が一覧にして送り直します）",
    ),
    "error.notify.refused": ("connection refused", "接続を拒否されました"),
    "error.notify.timed-out": ("no answer (timed out)", "応答がありません（タイムアウト）"),
    "error.notify.untrusted": (
        "TLS certificate not trusted: {why}",
        "TLS 証明書を信頼できません: {why}",
    ),
    "error.notify.not-http": (
        "not an http:// or https:// URL",
        "http:// または https:// の URL ではありません",
    ),
}
