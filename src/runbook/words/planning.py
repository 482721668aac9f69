"""The problems found while rendering and planning a runbook for a host (templates, vars,
puts, changes, --var, secrets): `input.` keys, said again by `Words.problems`.

A template's problem is said after where it is (`step 'x' run: ...`): the `input.at.` entries
are those places, each with the problem as a value said again on its own. A `{{ }}` in a
message is a value (`braces`): braces written in an entry would not match the text."""

MESSAGES: dict[str, tuple[str, str]] = {
    # Where a template's problem is (core.render's `what`), in front of it.
    "input.at.step-field": (
        "step '{step}' {field}: {problem}",
        "ステップ '{step}' の {field}: {problem}",
    ),
    "input.at.step-header": (
        "step '{step}' check header {header}: {problem}",
        "ステップ '{step}' の check のヘッダー {header}: {problem}",
    ),
    "input.at.step": ("step '{step}': {problem}", "ステップ '{step}': {problem}"),
    "input.at.put-file": ("put {src}: {problem}", "put するファイル {src}: {problem}"),
    "input.at.var": ("var '{name}': {problem}", "変数 '{name}': {problem}"),
    "input.at.change-field": (
        "changes[{number}].{field}: {problem}",
        "changes の {number} 番目の {field}: {problem}",
    ),
    "input.at.change": ("changes[{number}]: {problem}", "changes の {number} 番目: {problem}"),
    "input.at.title": ("title: {problem}", "runbook の title: {problem}"),
    "input.at.description": ("description: {problem}", "runbook の description: {problem}"),
    "input.at.host": ("{problem} (for host {host})", "{problem}(ホスト {host})"),
    # Rendering (core.render); Jinja's own words for an undefined name, said again.
    "input.render.undefined": ("'{name}' is undefined", "'{name}' は定義されていません"),
    "input.render.no-attribute": (
        "'{value}' has no attribute '{name}'",
        "'{value}' に属性 '{name}' はありません",
    ),
    "input.render.no-element": (
        "'{value}' has no element '{name}'",
        "'{value}' に要素 '{name}' はありません",
    ),
    "input.render.undefined-hint": (
        "define it in vars, the inventory or --var KEY=VALUE",
        "vars、インベントリ、または --var KEY=VALUE で定義してください",
    ),
    "input.render.late": (
        "{value} can only be printed, not tested or filtered",
        "{value} は出力できるだけで、判定やフィルターには使えません",
    ),
    "input.render.late-holds": ("{what} (it holds {names})", "{what}({names} を含みます)"),
    "input.render.late-hint": (
        "print it with {braces} where it is needed; decide with a var instead",
        "必要な場所で {braces} で出力してください。分岐は変数で決めてください",
    ),
    "input.render.too-deep": (
        "nested too deeply (a macro that calls itself without end?)",
        "入れ子が深すぎます(マクロが自分自身を際限なく呼んでいませんか?)",
    ),
    "input.render.nested": ("nested too deeply", "入れ子が深すぎます"),
    "input.render.memory": (
        "rendering needs more memory than a template may",
        "レンダリングに、テンプレートに許されるより多くのメモリが必要です",
    ),
    "input.render.cycle": ("vars form a cycle: {cycle}", "変数が循環しています: {cycle}"),
    "input.render.cycle-hint": (
        "one of them must not use the others",
        "どれか 1 つは他の変数を使わないようにしてください",
    ),
    # A template over its budget (core.budget, core.jinja), and what was too large.
    "input.budget.operations": (
        "more than {operations} loop iterations, calls and filters: a template may not compute "
        "that much",
        "ループの反復・呼び出し・フィルターが {operations} 回を超えました: テンプレートで"
        "そこまで計算することはできません",
    ),
    "input.budget.time": (
        "rendering takes more than {seconds} s: a template may not",
        "レンダリングに {seconds} 秒を超える時間がかかっています: テンプレートには許されません",
    ),
    "input.budget.characters": (
        "{what} of more than {limit} characters in a template",
        "テンプレートの中の{what}が {limit} 文字を超えています",
    ),
    "input.budget.items": (
        "{what} of more than {limit} characters or items in a template",
        "テンプレートの中の{what}が {limit} 文字(または要素)を超えています",
    ),
    "input.budget.value": (
        "a value of more than {limit} characters or items",
        "値が {limit} 文字(または要素)を超えています",
    ),
    "input.budget.rendering": (
        "rendering more than {limit} characters",
        "レンダリング結果が {limit} 文字を超えています",
    ),
    "input.budget.width": (
        "a width of {width} is more than a template may use ({limit})",
        "幅 {width} はテンプレートで使える上限 ({limit}) を超えています",
    ),
    "input.budget.format-width": (
        "a format width of {width} is more than a template may use ({limit})",
        "書式の幅 {width} はテンプレートで使える上限 ({limit}) を超えています",
    ),
    "input.budget.filter-width": (
        "'{name}' with {width} is more than a template may use ({limit})",
        "'{name}' に {width} を指定するのは、テンプレートで使える上限 ({limit}) を超えています",
    ),
    "input.budget.number": (
        "a number too large for a template",
        "テンプレートで扱うには大きすぎる数です",
    ),
    "input.budget.exponent": (
        "exponent {exponent} is too large for a template",
        "指数 {exponent} はテンプレートで扱うには大きすぎます",
    ),
    "input.budget.repetition": (
        "a repetition of more than {limit} items in a template",
        "テンプレートの中の繰り返しが {limit} 個を超えています",
    ),
    "input.budget.sum": (
        "sum adds numbers in a template",
        "テンプレートの sum で足せるのは数だけです",
    ),
    "input.value.joined": ("a joined value", "結合した値"),
    "input.value.argument": ("an argument", "引数"),
    "input.value.format-argument": ("a format argument", "書式の引数"),
    "input.value.joined-list": ("a joined list", "結合したリスト"),
    "input.value.printed-list": ("a printed list", "出力したリスト"),
    "input.value.printed": ("a printed value", "出力した値"),
    "input.value.text": ("a text", "テキスト"),
    "input.value.value": ("a value", "値"),
    "input.value.given": ("a value given to the {kind} '{name}'", "{kind} '{name}' に渡した値"),
    # A `{{ }}` where the shell does not read its quoting (core.shellctx), by context.
    "input.shell.double-quotes": (
        "a {braces} inside double quotes, where its quotes are literal and `$( )` in it still "
        "runs: {near}",
        "{braces} がダブルクォートの中にあります。そこでは値のクォートはただの文字になり、"
        "値の中の `$( )` が実行されます: {near}",
    ),
    "input.shell.single-quotes": (
        "a {braces} inside single quotes, where its own quotes end the author's and leave it "
        "bare: {near}",
        "{braces} がシングルクォートの中にあります。そこでは値のクォートが書き手のクォートを"
        "閉じてしまい、値がむき出しになります: {near}",
    ),
    "input.shell.comment": (
        "a {braces} in a shell comment, where a newline in it starts a command: {near}",
        "{braces} がシェルのコメントの中にあります。そこでは値の中の改行がコマンドを"
        "始めてしまいます: {near}",
    ),
    "input.shell.heredoc": (
        "a {braces} in a here-document, where its quotes are literal and `$( )` in it still "
        "runs: {near}",
        "{braces} がヒアドキュメントの中にあります。そこでは値のクォートはただの文字になり、"
        "値の中の `$( )` が実行されます: {near}",
    ),
    "input.shell.parameter": (
        "a {braces} inside `{parameter}`, where quoting means something else: {near}",
        "{braces} が `{parameter}` の中にあります。そこではクォートの意味が違います: {near}",
    ),
    "input.shell.arithmetic": (
        "a {braces} inside `$(( ))` arithmetic, where a value is evaluated, not quoted: {near}",
        "{braces} が `$(( ))` の算術式の中にあります。そこでは値はクォートされず、"
        "評価されます: {near}",
    ),
    "input.shell.backticks": (
        "a {braces} inside backticks, where quoting is read twice: {near}",
        "{braces} がバッククォートの中にあります。そこではクォートが 2 回読まれます: {near}",
    ),
    "input.shell.hint": (
        "every {braces} in `run` is quoted already: put it outside quotes (`-m {msg}`), or "
        'assign it first (`who={who}`) and write "$who" where it goes',
        "`run` の {braces} はすべてクォート済みです: クォートの外に置くか (`-m {msg}`)、"
        '先に代入して (`who={who}`)、使う場所に "$who" と書いてください',
    ),
    # A `put` step (core.put, core.local).
    "input.put.dest-relative": (
        "put.dest {dest} is not an absolute path",
        "put.dest {dest} が絶対パスではありません",
    ),
    "input.put.dest-directory": (
        "put.dest {dest} names a directory, not a file",
        "put.dest {dest} はファイルではなくディレクトリを指しています",
    ),
    "input.put.dest-control": (
        "put.dest {dest} holds a control character",
        "put.dest {dest} に制御文字が含まれています",
    ),
    "input.put.dest-dotdot": (
        "put.dest {dest} has a '..' component",
        "put.dest {dest} に '..' が含まれています",
    ),
    "input.put.dest-hint": (
        "give an absolute path to a file on the host",
        "ホスト上のファイルの絶対パスを指定してください",
    ),
    "input.put.owner": (
        "put.owner {owner} is not a user or user:group name",
        "put.owner {owner} はユーザー名でも user:group の形でもありません",
    ),
    "input.put.src-hint": (
        "src is a file of the project, relative to it",
        "src はプロジェクト内のファイルで、プロジェクトからの相対パスです",
    ),
    "input.put.src-empty": ("src is empty", "src が空です"),
    "input.put.src-absolute": (
        "src {src} must be relative to the project ({project})",
        "src {src} はプロジェクト ({project}) からの相対パスでなければなりません",
    ),
    "input.put.src-outside": (
        "src {src} is outside the project {project}",
        "src {src} はプロジェクト {project} の外にあります",
    ),
    "input.put.src-resolves-outside": (
        "src {src} is outside the project {project} (it resolves to {real})",
        "src {src} はプロジェクト {project} の外にあります(実体は {real})",
    ),
    "input.put.src-missing": (
        "no file {src} in {project}",
        "{project} にファイル {src} がありません",
    ),
    "input.put.src-unreadable": ("cannot read {src}: {error}", "{src} を読めません: {error}"),
    "input.put.src-not-regular": (
        "src {src} is not a regular file",
        "src {src} は通常のファイルではありません",
    ),
    "input.put.src-directory": (
        "src {src} is a directory, not a file",
        "src {src} はファイルではなくディレクトリです",
    ),
    "input.put.src-too-large": (
        "src {src} is larger than {max} bytes (1 MiB)",
        "src {src} が {max} バイト (1 MiB) を超えています",
    ),
    "input.put.too-large": (
        "{src} is {size} bytes; a put carries at most {max} bytes (a rendered template too)",
        "{src} は {size} バイトです。put で送れるのは {max} バイトまでです"
        "(レンダリングしたテンプレートも同じ)",
    ),
    "input.put.too-large-hint": (
        "split the file, or install it from a repository with a run step",
        "ファイルを分けるか、run ステップでリポジトリからインストールしてください",
    ),
    "input.put.diff-base": (
        "put.diff_base {base}: {error}",
        "put.diff_base {base} を読めません: {error}",
    ),
    "input.put.diff-base-hint": (
        "diff_base is a ref of src's repository",
        "diff_base は src のリポジトリの ref です",
    ),
    "input.put.not-utf8": (
        "{src} is not UTF-8 text, so it cannot be a template",
        "{src} は UTF-8 のテキストではないので、テンプレートにできません",
    ),
    "input.put.not-utf8-hint": (
        "template: false sends any bytes as they are",
        "template: false ならどんなバイト列もそのまま送ります",
    ),
    "input.put.late": (
        "{src} uses {names}: a put's content is fixed when the plan is made, so run.* and "
        "secrets (known only when a step is sent) cannot be in it",
        "{src} が {names} を使っています: put の内容は計画を作るときに決まるので、"
        "run.* と secrets (ステップを送るときに初めてわかる値) は入れられません",
    ),
    "input.put.late-hint": (
        "write the file without them, or use a run step",
        "それらを使わずにファイルを書くか、run ステップを使ってください",
    ),
    "input.put.late-through-var": (
        "{src} takes run.* or a secret through a var: a put's content is fixed when the plan is "
        "made, so it cannot hold values known only when a step is sent",
        "{src} が変数を通して run.* かシークレットを使っています: put の内容は計画を作るときに"
        "決まるので、ステップを送るときに初めてわかる値は入れられません",
    ),
    "input.put.depends-on-run": (
        "step '{step}': the content of {src} depends on the run (a var made of run.*): the bytes "
        "sent would differ from those reviewed",
        "ステップ '{step}': {src} の内容が実行ごとに変わります (run.* からできた変数): "
        "送るバイト列がレビューしたものと違ってしまいます",
    ),
    "input.put.depends-on-run-hint": (
        "a put's content may use only values known when the plan is made",
        "put の内容に使えるのは、計画を作るときにわかっている値だけです",
    ),
    "input.put.not-backed-up": (
        "step '{step}' puts {dest}, which no earlier backup step covers: if it exists on the "
        "host, the put is refused at its gate (rollback could not restore it); if it does not, "
        "rollback removes the new file",
        "ステップ '{step}' が置く {dest} は、それより前のどの backup ステップにも含まれていません: "
        "ホストにすでにあれば、put はゲートで拒否されます(切り戻しで元に戻せないため)。"
        "なければ、切り戻しは新しいファイルを削除します",
    ),
    "input.put.not-backed-up-hint": (
        "back it up in an earlier step (backup: {dest}) unless it is a new file",
        "新しいファイルでないなら、それより前のステップでバックアップしてください (backup: {dest})",
    ),
    # The plan (core.plan).
    "input.plan.differs": (
        "step '{step}' renders differently each time it is rendered",
        "ステップ '{step}' はレンダリングするたびに結果が変わります",
    ),
    "input.plan.rollback-differs": (
        "rollback step '{step}' renders differently each time it is rendered",
        "rollback のステップ '{step}' はレンダリングするたびに結果が変わります",
    ),
    "input.plan.runbook-differs": (
        "the runbook renders differently each time",
        "runbook はレンダリングするたびに結果が変わります",
    ),
    "input.plan.differs-hint": (
        "a template must render the same every time (no random choice, no clock)",
        "テンプレートは毎回同じ結果にならなければなりません(乱数も時刻も使えません)",
    ),
    "input.plan.backed-up-twice": (
        "step '{step}' backs up {path} again (step '{first}' already does): its backup would "
        "overwrite the first one",
        "ステップ '{step}' が {path} をもう一度バックアップしています (ステップ '{first}' "
        "がすでにしています): 最初のバックアップが上書きされてしまいます",
    ),
    "input.plan.backed-up-twice-hint": (
        "back up each file once, before the first step that changes it",
        "各ファイルのバックアップは 1 回だけ、それを変更する最初のステップより前にしてください",
    ),
    "input.plan.unknown-var": (
        "'{key}' is not a var of {path} or the inventory, and no template uses it",
        "'{key}' は {path} にもインベントリにもない変数で、どのテンプレートも使っていません",
    ),
    "input.plan.empty-path": (
        "a {action} path renders empty",
        "{action} のパスがレンダリングすると空になります",
    ),
    # changes: (core.changes) and git on this machine (core.gitrefs).
    "input.changes.hint": (
        "repo is a git repository on this machine, relative to the project; from and to are refs",
        "repo はこのマシン上の git リポジトリで、プロジェクトからの相対パスです。"
        "from と to は ref です",
    ),
    "input.git.missing": (
        "git is not installed on this machine",
        "このマシンに git がインストールされていません",
    ),
    "input.git.timeout": (
        "git {command} in {repo} took more than {seconds} s",
        "{repo} での git {command} が {seconds} 秒を超えました",
    ),
    "input.git.exited": ("git {command} exited {code}", "git {command} が {code} で終了しました"),
    "input.git.too-much": (
        "git {command} in {repo} gave more than {max} bytes",
        "{repo} での git {command} の出力が {max} バイトを超えました",
    ),
    "input.git.not-a-ref": (
        "{ref} is not a ref (a branch, tag or commit id)",
        "{ref} は ref (ブランチ、タグ、コミット id) ではありません",
    ),
    "input.git.no-directory": (
        "no git repository at {path} (no such directory): git_rev, changes and diff_base read "
        "a checkout on this machine; give its path",
        "{path} に git リポジトリがありません(そのディレクトリはありません): git_rev、changes、"
        "diff_base はこのマシン上のチェックアウトを読みます。そのパスを指定してください",
    ),
    "input.git.not-directory": (
        "no git repository at {path} (not a directory): git_rev, changes and diff_base read "
        "a checkout on this machine; give its path",
        "{path} に git リポジトリがありません(ディレクトリではありません): git_rev、changes、"
        "diff_base はこのマシン上のチェックアウトを読みます。そのパスを指定してください",
    ),
    "input.git.not-a-repository": (
        "{path} is not a git repository",
        "{path} は git リポジトリではありません",
    ),
    "input.git.no-commit": (
        "no commit '{ref}' in {repo}",
        "{repo} にコミット '{ref}' がありません",
    ),
    "input.git.not-a-file": (
        "{path} at {commit} is not a file",
        "{commit} の {path} はファイルではありません",
    ),
    "input.git.no-reads": ("git_rev is not available here", "ここでは git_rev は使えません"),
    # Choosing the runbooks and the vars (commands.review, commands.inputs, core.markers).
    "input.runbooks.same-name": (
        "two runbooks are named '{name}'",
        "2 つの runbook が同じ名前 '{name}' です",
    ),
    "input.check.pty-stderr": (
        "step '{step}' expects on stderr, but {host} has `pty: true`: its stderr arrives in stdout",
        "ステップ '{step}' は stderr に expect していますが、{host} は `pty: true` です: "
        "stderr は stdout に届きます",
    ),
    "input.check.pty-stderr-hint": (
        "match the text with `expect: stdout` for this host",
        "このホストでは `expect: stdout` でテキストを照合してください",
    ),
    "input.var.not-key-value": (
        "'{pair}' is not KEY=VALUE",
        "'{pair}' は KEY=VALUE の形ではありません",
    ),
    "input.var.not-key-value-hint": ("e.g. --var branch=feature/x", "例: --var branch=feature/x"),
    "input.var.reserved": ("--var {key}: {char}", "--var {key}: {char} が含まれています"),
    "input.var.refused": (
        "--var {key}: {char} in its value",
        "--var {key}: 値に {char} が含まれています",
    ),
    # Secrets (commands.credentials).
    "input.secret.empty": ("secret '{name}' is empty", "シークレット '{name}' が空です"),
    "input.secret.too-short": (
        "secret '{name}' is too short to be masked reliably",
        "シークレット '{name}' は短すぎて確実に伏せ字にできません",
    ),
    "input.secret.hint": ("at least {count} characters", "{count} 文字以上にしてください"),
}
