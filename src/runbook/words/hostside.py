"""What the tool's own scripts say on the host (backup, restore, put, the removal of a put's
file: `core.scripts`), as it arrives in a step's message (a script's last line of stderr); the
labels of a put's diff at its gate; the pieces of a rollback's refusal that name other
releases. `step.` and `error.` keys, said again by `Words.again` where such a message is shown
(console, report, a rollback's reason, the CLI boundary). The scripts' text is part of the
reviewed command and stays as it is: each entry is one line a script can print, its shell
variables as placeholders."""

# A directory guard's two lines, once per action that uses it (`scripts.dir_guard`).
_GUARDED = {
    "backup": "バックアップ",
    "restore": "復元",
    "backup directory": "バックアップディレクトリ",
}

MESSAGES: dict[str, tuple[str, str]] = {
    **{
        f"step.script.{action.replace(' ', '-')}.does-not-exist": (
            action + ": {path} does not exist",
            said + ": {path} は存在しません",
        )
        for action, said in _GUARDED.items()
    },
    **{
        f"step.script.{action.replace(' ', '-')}.others-may-write": (
            action + ": refused: another user may write {dir} (mode {mode}, owner {owner}) "
            "and could swap the file while it is copied or renamed",
            said + ": 拒否しました: {dir} には別のユーザーが書き込めるため（モード {mode}、"
            "所有者 {owner}）、コピーや名前の変更の最中にファイルをすり替えられるおそれがあります",
        )
        for action, said in _GUARDED.items()
    },
    # --- backup --------------------------------------------------------------------------------
    "step.script.backup.newline": (
        "backup: {path} leads to a name with a newline",
        "バックアップ: {path} の行き先の名前に改行が含まれています",
    ),
    # `stat`'s own word for what the directory is ({kind}) stays as it is.
    "step.script.backup.dir-not-private": (
        "backup: refused: the backup directory {dir} must be a directory of {user}'s that "
        "nobody else can write (it is: {kind}, mode {mode}, owner {owner})",
        "バックアップ: 拒否しました: バックアップディレクトリ {dir} は {user} のディレクトリで、"
        "ほかの誰も書き込めないものでなければなりません（現状: {kind}、モード {mode}、"
        "所有者 {owner}）",
    ),
    "step.script.backup.taken": (
        "backup: {dir} is taken by something that is not a directory",
        "バックアップ: {dir} はディレクトリではない何かが使っています",
    ),
    # --- restore -------------------------------------------------------------------------------
    "step.script.restore.missing": (
        "restore: backup {backup} is missing",
        "復元: バックアップ {backup} がありません",
    ),
    "step.script.restore.differs": (
        "restore: backup {backup} does not match its recorded {what}",
        "復元: バックアップ {backup} が記録された {what} と一致しません",
    ),
    # What differs, when the mode or owner does (alone, it is the last line of the message).
    "step.script.restore.mode-differs": (
        "mode and owner ({mode})",
        "モードと所有者（{mode}）",
    ),
    "step.script.restore.moved": (
        "restore: {path} no longer leads to {target}, the file that was backed up",
        "復元: {path} はもう、バックアップしたファイル {target} を指していません",
    ),
    "step.script.restore.copy-differs": (
        "restore: the copy of {backup} differs in {what}",
        "復元: {backup} のコピーの {what} が異なります",
    ),
    "step.script.restore.after": (
        "restore: {path} does not match after restore: {what}",
        "復元: 復元後の {path} が一致しません: {what}",
    ),
    # --- put and the removal of what it created -------------------------------------------------
    "step.script.put.no-directory": (
        "put: directory {dir} does not exist",
        "put: ディレクトリ {dir} は存在しません",
    ),
    "step.script.put.others-may-write": (
        "put: {dir} may be written by a user other than {user} or root: refused",
        "put: {dir} には {user} と root 以外のユーザーが書き込めるかもしれないため、拒否しました",
    ),
    "step.script.put.is-directory": (
        "put: {dest} is a directory",
        "put: {dest} はディレクトリです",
    ),
    "step.script.put.exists": (
        "put: {dest} exists and no earlier step of this run backed it up: refused, since "
        "rollback could not restore it",
        "put: {dest} は存在し、この実行のこれより前の手順でバックアップされていません: "
        "切り戻しで元に戻せないため、拒否しました",
    ),
    "step.script.put.copy-differs": (
        "put: the copy on the host does not match sha256 {sha}",
        "put: ホスト上のコピーが sha256 {sha} と一致しません",
    ),
    "step.script.put.appeared": (
        "put: {dest} appeared meanwhile: refused",
        "put: その間に {dest} が現れたため、拒否しました",
    ),
    "step.script.remove.not-a-file": (
        "remove: {dest} is no longer the file the put created (not a regular file): left in place",
        "削除: {dest} はもう put が作成したファイルではありません（通常のファイルではありません）: "
        "そのまま残しました",
    ),
    "step.script.remove.changed": (
        "remove: {dest} changed since the put (its sha256 differs): left in place",
        "削除: {dest} は put の後に変更されています（sha256 が異なります）: そのまま残しました",
    ),
    # --- the labels of a put's diff at its gate (execute.preview): the live file, the put's -----
    "preview.label-live": ("{path} (live)", "{path}（現在）"),
    "preview.label-put": ("{path} (put)", "{path}（put の後）"),
    # --- inv rollback: a release that can be rolled back instead (commands.fleet) ---------------
    # The hint's first part on its own: the releases are joined with "; " as the hint's parts
    # are, and each is said one by one only when the first is a message without the rest.
    "error.rollback.elsewhere-first": (
        "the latest release of another runbook can be: {release}",
        "別の runbook の最新リリースなら切り戻せます: {release}",
    ),
    "error.rollback.elsewhere-release": (
        "{command} --run {run} ({runbook} on {host})",
        "{command} --run {run}（{host} の {runbook}）",
    ),
}
