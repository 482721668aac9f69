"""What the sandbox tasks, the task layer (Invoke's options, the environment, the error
boundary) and a project's own templates say: the sandbox's progress said by key, errors by
`error.` keys said again at the CLI boundary."""

MESSAGES: dict[str, tuple[str, str]] = {
    # --- the sandbox's lines (runbook.sandbox: host, cli, inventory) ----------------------------
    "sandbox.already-running": (
        "sandbox at {root} is already running",
        "{root} のサンドボックスはもう動いています",
    ),
    "sandbox.started": (
        "{name} started (pid {pid}) {where}",
        "{name} 起動しました (pid {pid}) {where}",
    ),
    "sandbox.where.nginx": ("{url} (cable: {cable})", "{url}（WebSocket の URL: {cable}）"),
    "sandbox.where.backend": ("{address}, log {log}", "{address}、ログ {log}"),
    "sandbox.up-in": ("sandbox up in {seconds} s", "サンドボックスを {seconds} 秒で起動しました"),
    "sandbox.login-sudo": (
        "login user {user} may sudo with the password in {file}",
        "ログインユーザー {user} は {file} のパスワードで sudo できます",
    ),
    "sandbox.config-repository": (
        "config repository {repo} on {branch} (no upgrade headers)",
        "設定リポジトリ {repo} は {branch} です（upgrade ヘッダーなし）",
    ),
    "sandbox.inventory-written": (
        "inventory:     {host} written into {path}",
        "インベントリ:    {path} に {host} を書き込みました",
    ),
    "sandbox.sudo-password": (
        'sudo password: export RUNBOOK_SUDO_PASSWORD="$(cat {file})"',
        'sudo パスワード: export RUNBOOK_SUDO_PASSWORD="$(cat {file})"',
    ),
    "sandbox.ordinary-user": (
        "ordinary-user mode: steps run as {user} without sudo",
        "一般ユーザーモード: 手順は sudo なしで {user} として動きます",
    ),
    "sandbox.try-ssh": ("try ssh:       {command}", "ssh で試す:      {command}"),
    "sandbox.stopped": ("{name} stopped (pid {pid})", "{name} 止めました (pid {pid})"),
    "sandbox.was-not-running": (
        "{name} was not running (pid {pid} is no longer it)",
        "{name} 動いていませんでした (pid {pid} はもう別のものです)",
    ),
    "sandbox.sudo-withdrawn": (
        "sudo for {user} withdrawn for this sandbox ({dropin})",
        "このサンドボックスの {user} の sudo を取り消しました ({dropin})",
    ),
    "sandbox.nothing-to-stop": ("nothing to stop at {root}", "{root} に止めるものはありません"),
    "sandbox.none-to-stop": (
        "no sandbox at {root}: nothing to stop",
        "{root} にサンドボックスはありません: 止めるものはありません",
    ),
    "sandbox.none-to-show": (
        "no sandbox at {root} (start one with inv sandbox.up)",
        "{root} にサンドボックスはありません（inv sandbox.up で起動してください）",
    ),
    "sandbox.status.root-mode": (
        "sandbox {root} on {address} (root mode)",
        "サンドボックス {root}、{address} 上（root モード）",
    ),
    "sandbox.status.user-mode": (
        "sandbox {root} on {address} (user mode)",
        "サンドボックス {root}、{address} 上（一般ユーザーモード）",
    ),
    "sandbox.status.stopped": ("stopped", "停止中"),
    "sandbox.status.running": ("running (pid {pid}) {where}", "動作中 (pid {pid}) {where}"),
    "sandbox.status.gone": (
        "stopped (recorded pid {pid} is gone or not ours)",
        "停止中 (記録された pid {pid} はもうないか、このサンドボックスのものではありません)",
    ),
    "sandbox.status.sudo": (
        "{user} may sudo with a password ({dropin})",
        "{user} はパスワードで sudo できます ({dropin})",
    ),
    "sandbox.status.no-sudo": ("not set up", "設定されていません"),
    "sandbox.status.ordinary-user": (
        "none (ordinary-user mode: steps run as {user})",
        "なし（一般ユーザーモード: 手順は {user} として動きます）",
    ),
    "sandbox.installed-main": (
        "installed {branch}'s nginx.conf",
        "{branch} の nginx.conf を入れました",
    ),
    "sandbox.nginx-reloaded": ("nginx reloaded", "nginx を再読み込みしました"),
    # --- the sandbox's errors ------------------------------------------------------------------
    "error.sandbox.port-in-use": (
        "cannot start the sandbox {name}: {where} is in use ({reason})",
        "サンドボックスの {name} を起動できません: {where} は使用中です ({reason})",
    ),
    "error.sandbox.port-in-use-hint": (
        "another sandbox or service holds it: stop it, or choose other ports "
        "(--ssh-port, --http-port, --backend-port)",
        "別のサンドボックスかサービスが使っています: それを止めるか、別のポートを選んでください"
        " (--ssh-port, --http-port, --backend-port)",
    ),
    "error.sandbox.exited": (
        "sandbox {name} exited with status {status}: {command}",
        "サンドボックスの {name} が終了コード {status} で終了しました: {command}",
    ),
    "error.sandbox.not-ready": (
        "sandbox {name} not ready after {seconds} s: {command}",
        "サンドボックスの {name} が {seconds} 秒たっても準備できません: {command}",
    ),
    "error.sandbox.cannot-stop": (
        "cannot stop pid {pid}: {command}",
        "pid {pid} を止められません: {command}",
    ),
    "error.sandbox.cannot-stop-hint": (
        "it may belong to another user (a sandbox started by root is stopped by root)",
        "別のユーザーのものかもしれません (root が起動したサンドボックスは root が止めます)",
    ),
    "error.sandbox.timed-out": (
        "timed out after {seconds} s waiting for {what}",
        "{what} を {seconds} 秒待ちましたが、時間切れになりました",
    ),
    "error.sandbox.wait.stop": ("pid {pid} to stop", "pid {pid} の停止"),
    "error.sandbox.wait.kill": ("pid {pid} to be killed", "pid {pid} の強制終了"),
    "error.sandbox.wait.reload": (
        "nginx (pid {pid}) to apply the reloaded config",
        "nginx (pid {pid}) が再読み込みした設定を使うこと",
    ),
    "error.sandbox.not-loopback": (
        "sandbox address {address} is not an IPv4 loopback address",
        "サンドボックスのアドレス {address} は IPv4 のループバックアドレスではありません",
    ),
    "error.sandbox.not-loopback-hint": (
        "use 127.0.0.1 or another 127.x.y.z address",
        "127.0.0.1 か、別の 127.x.y.z のアドレスを使ってください",
    ),
    "error.sandbox.same-ports": (
        "sandbox ports must differ: {ports}",
        "サンドボックスのポートはそれぞれ違うものにしてください: {ports}",
    ),
    "error.sandbox.other-settings": (
        "the sandbox at {root} is running with {theirs}, not {mine}",
        "{root} のサンドボックスは {mine} ではなく {theirs} で動いています",
    ),
    "error.sandbox.other-settings-hint": (
        "run inv sandbox.down first, or use its address and ports",
        "先に inv sandbox.down を実行するか、そのアドレスとポートを使ってください",
    ),
    "error.sandbox.none": ("no sandbox at {root}", "{root} にサンドボックスはありません"),
    "error.sandbox.none-hint": (
        "start one with inv sandbox.up",
        "inv sandbox.up で起動してください",
    ),
    "error.sandbox.unreadable": ("cannot read {file}: {reason}", "{file} を読めません: {reason}"),
    "error.sandbox.inventory-broken": (
        "{path}: adding the {host} host would break the file: {reason}",
        "{path}: ホスト {host} を加えるとファイルが壊れます: {reason}",
    ),
    "error.sandbox.inventory-taken": (
        "{path}: a host named {host} is already defined outside the sandbox block",
        "{path}: {host} という名前のホストが、サンドボックスのブロックの外ですでに定義されています",
    ),
    "error.sandbox.inventory-taken-hint": (
        "remove it or rename it; the sandbox keeps its entry between {begin} markers",
        "それを削除するか名前を変えてください。サンドボックスは自分の項目を {begin} の印の間に"
        "置きます",
    ),
    "error.sandbox.inventory-no-end": (
        "{where}: the {host} block has no end marker {end}",
        "{where}: {host} のブロックに終わりの印 {end} がありません",
    ),
    "error.sandbox.inventory-one-line": (
        "{path}: cannot add the {host} host to a one-line `hosts:` mapping",
        "{path}: 1 行で書かれた `hosts:` のマッピングにはホスト {host} を加えられません",
    ),
    "error.sandbox.inventory-one-line-hint": (
        "write hosts: as a block mapping (one host per line)",
        "hosts: をブロック形式のマッピング (1 行に 1 ホスト) で書いてください",
    ),
    "error.sandbox.root-login": (
        "the sandbox login user must not be root",
        "サンドボックスのログインユーザーを root にすることはできません",
    ),
    "error.sandbox.only-me": (
        "as the ordinary user {me}, the sandbox can only let {login} log in",
        "一般ユーザー {me} としては、サンドボックスにログインできるのは {login} だけです",
    ),
    "error.sandbox.only-me-hint": (
        "run as root for a separate login user",
        "別のログインユーザーを使うには root として実行してください",
    ),
    "error.sandbox.foreign-dropin": (
        "{dropin} exists and was not written by the sandbox",
        "{dropin} がありますが、サンドボックスが書いたものではありません",
    ),
    "error.sandbox.foreign-dropin-hint": (
        "remove or rename it, then run sandbox up again",
        "それを削除するか名前を変えてから、もう一度 sandbox up を実行してください",
    ),
    "error.sandbox.not-installed": (
        "the sandbox needs {program}, which is not installed",
        "サンドボックスには {program} が必要ですが、インストールされていません",
    ),
    "error.sandbox.not-installed-hint": (
        "apt-get install openssh-server nginx sudo git",
        "apt-get install openssh-server nginx sudo git でインストールしてください",
    ),
    "error.sandbox.program-failed": (
        "sandbox: {command} failed (exit {status}): {output}",
        "サンドボックス: {command} が失敗しました (終了コード {status}): {output}",
    ),
    # --- Invoke's core options a task refuses (runbook.tasks) -----------------------------------
    "error.invoke.means-nothing": (
        "{option} (Invoke's {setting}) means nothing for {task}: the tasks here run no shell "
        "commands through Invoke",
        "{option} (Invoke の {setting}) は {task} では意味を持ちません: ここのタスクは Invoke "
        "でシェルコマンドを実行しません",
    ),
    "error.invoke.leave-out": ("leave it out", "指定しないでください"),
    "error.invoke.leave-out-dry": (
        "leave it out; the dry run of a release is `inv release --dry-run`",
        "指定しないでください。リリースのドライランは `inv release --dry-run` です",
    ),
    "error.invoke.leave-out-timeout": (
        "leave it out; a step's time limit is its `timeout:` in the runbook",
        "指定しないでください。手順の制限時間は runbook のその手順の `timeout:` です",
    ),
    "error.invoke.empty-sudo-password": (
        "the sudo password typed at Invoke's prompt is empty",
        "Invoke のプロンプトで入力された sudo パスワードが空です",
    ),
    # --- RUNBOOK_NOW, a testing aid (commands.fleet; its problems are core.window's) -----------
    "error.now.unusable": ("RUNBOOK_NOW: {problem}", "RUNBOOK_NOW が使えません: {problem}"),
    "error.now.not-iso": (
        "'{value}' is not an ISO 8601 time",
        "'{value}' は ISO 8601 の時刻ではありません",
    ),
    "error.now.no-offset": (
        "'{value}' has no offset (add one: +09:00, Z)",
        "'{value}' にオフセットがありません (+09:00 や Z を付けてください)",
    ),
    "error.now.hint": (
        "RUNBOOK_NOW (a testing aid) is an ISO 8601 time with its offset, "
        "2026-04-16T21:30:00+09:00, or @FILE holding one; unset it to use this machine's clock",
        "RUNBOOK_NOW (テスト用) はオフセット付きの ISO 8601 の時刻 (2026-04-16T21:30:00+09:00) "
        "か、それを書いたファイルの @FILE です。このマシンの時計を使うには設定を外してください",
    ),
    # --- the error boundary (runbook.cli) -------------------------------------------------------
    # An unknown --lang, said again in the locale's language (runbook.words.Words).
    "error.language.unknown": ("unknown language '{lang}'", "不明な言語 '{lang}'"),
    "error.language.use-one-of": (
        "use one of: {languages}",
        "次のどれかを使ってください: {languages}",
    ),
    "cli.internal-error": ("internal error: {error}", "内部エラー: {error}"),
    "cli.internal-error-hint": (
        "  hint: this is a bug; run again with `inv --debug ...` (or RUNBOOK_DEBUG=1) for the "
        "traceback",
        "  ヒント: これはバグです。トレースバックを見るには `inv --debug ...` "
        "(または RUNBOOK_DEBUG=1) で実行し直してください",
    ),
    # --- a project's own review and report templates (core.markdown, core.mdsandbox) -----------
    "error.template.bad-name": (
        "template name {name}: a template is a file name in ./templates",
        "テンプレート名 {name}: テンプレートは ./templates の中のファイル名です",
    ),
    "error.template.unreadable": (
        "cannot read template {template}: {reason}",
        "テンプレート {template} を読めません: {reason}",
    ),
    "error.template.too-large": (
        "template {template} is larger than {limit} bytes",
        "テンプレート {template} が {limit} バイトより大きいです",
    ),
    "error.template.not-utf8": (
        "template {template} is not UTF-8 text",
        "テンプレート {template} は UTF-8 のテキストではありません",
    ),
    "error.template.not-found": (
        "template {template} not found in ./{folder} or the package",
        "テンプレート {template} は ./{folder} にもパッケージにもありません",
    ),
    "error.template.problem": ("template {where}: {problem}", "テンプレート {where}: {problem}"),
    "error.template.computed-name": (
        "template {template} includes a template whose name it computes",
        "テンプレート {template} は、名前を計算で決めるテンプレートを読み込んでいます",
    ),
    "error.template.computed-name-hint": (
        "name it literally ({example}), so that every template a document uses is known before "
        "it renders",
        "名前をそのまま書いてください ({example})。文書が使うテンプレートを、レンダリングの前に"
        "すべて知るためです",
    ),
    "error.template.refused": (
        "template {where}: refused by the sandbox: {problem}",
        "テンプレート {where}: サンドボックスが拒否しました: {problem}",
    ),
    "error.template.refused-hint": (
        "templates render in a sandbox: no attribute starting with _, no changes to the values "
        "they are given, a budget of time and size; nothing of it ran",
        "テンプレートはサンドボックスの中でレンダリングされます: _ で始まる属性は使えず、渡された"
        "値は変えられず、時間と大きさに上限があります。拒否したものは何も実行されていません",
    ),
    "error.template.format-width": (
        "a format with a width of millions in a template",
        "テンプレートの中に、幅が数百万の書式があります",
    ),
    "error.template.time": (
        "the template took longer than {seconds} s",
        "テンプレートに {seconds} 秒より長くかかりました",
    ),
    "error.template.wrote": (
        "the template wrote more than {limit} characters",
        "テンプレートが {limit} 文字を超えて書き出しました",
    ),
    "error.template.text": (
        "a text of more than {limit} characters in a template",
        "テンプレートの中のテキストが {limit} 文字を超えています",
    ),
    "error.template.value": (
        "a value of more than {limit} characters in a template",
        "テンプレートの中の値が {limit} 文字を超えています",
    ),
    "error.template.argument": (
        "an argument of more than {limit} characters in a template",
        "テンプレートの中の引数が {limit} 文字を超えています",
    ),
    # The three above inside the refusal, whole: matched alone, a planning entry that begins
    # with a value ("{what} of more than {limit} characters in a template") would take it.
    "error.template.refused-text": (
        "template {where}: refused by the sandbox: a text of more than {limit} characters in a "
        "template",
        "テンプレート {where}: サンドボックスが拒否しました: テンプレートの中のテキストが {limit} "
        "文字を超えています",
    ),
    "error.template.refused-value": (
        "template {where}: refused by the sandbox: a value of more than {limit} characters in a "
        "template",
        "テンプレート {where}: サンドボックスが拒否しました: テンプレートの中の値が {limit} "
        "文字を超えています",
    ),
    "error.template.refused-argument": (
        "template {where}: refused by the sandbox: an argument of more than {limit} characters "
        "in a template",
        "テンプレート {where}: サンドボックスが拒否しました: テンプレートの中の引数が {limit} "
        "文字を超えています",
    ),
    "error.template.str-method": (
        "str.{name} would make more than {limit} characters",
        "str.{name} は {limit} 文字を超える文字列を作ります",
    ),
    "error.template.exponent": (
        "an exponent of {exponent} in a template",
        "テンプレートの中に指数 {exponent} があります",
    ),
    "error.template.repetition": (
        "a repetition of more than {limit} items",
        "繰り返しが {limit} 個を超えています",
    ),
    "error.template.filter-would": (
        "the {name} filter would make more than {limit} characters",
        "{name} フィルターは {limit} 文字を超えるものを作ります",
    ),
    "error.template.filter-made": (
        "the {name} filter made more than {limit} characters",
        "{name} フィルターが {limit} 文字を超えるものを作りました",
    ),
    # A document a project's template made that could hide something or leaves something out
    # (core.markdown's check; what hides: core.mdsafe).
    "error.template.by-project.review": (
        "the review rendered by the project's {templates}",
        "プロジェクトの {templates} で作られたレビュー",
    ),
    "error.template.by-project.report": (
        "the report rendered by the project's {templates}",
        "プロジェクトの {templates} で作られたレポート",
    ),
    "error.template.by-shipped.review": (
        "the review rendered by the shipped {name}",
        "同梱の {name} で作られたレビュー",
    ),
    "error.template.by-shipped.report": (
        "the report rendered by the shipped {name}",
        "同梱の {name} で作られたレポート",
    ),
    "error.template.hides": (
        "{by} has {what} on line {line}, which could hide part of it: refusing to print it",
        "{by}の {line} 行目に {what} があり、内容の一部を隠せてしまいます: 表示しません",
    ),
    "error.template.leaves-out": (
        "{by} does not show {missing}: refusing to print it",
        "{by}は {missing} を示していません: 表示しません",
    ),
    "error.template.must-show.review": (
        "a review must show every command that will run in a code block of its own ({script}), "
        "each step's id and title ({id}, {title}), and no HTML; fix the template or remove it "
        "from ./{folder} to use the shipped one",
        "レビューには、実行されるすべてのコマンドをそれぞれ専用のコードブロックに ({script})、"
        "各手順の id とタイトルを ({id}, {title}) 示し、HTML は含めないでください。"
        "テンプレートを直すか、./{folder} から削除して同梱のものを使ってください",
    ),
    "error.template.must-show.report": (
        "a report must show every command that will run in a code block of its own ({script}), "
        "each step's id and title ({id}, {title}), and no HTML; fix the template or remove it "
        "from ./{folder} to use the shipped one",
        "レポートには、実行されるすべてのコマンドをそれぞれ専用のコードブロックに ({script})、"
        "各手順の id とタイトルを ({id}, {title}) 示し、HTML は含めないでください。"
        "テンプレートを直すか、./{folder} から削除して同梱のものを使ってください",
    ),
    "error.template.step-on": (
        "step {number} '{step}' on {host}",
        "{host} の手順 {number} '{step}'",
    ),
    "error.template.step": ("step {number} '{step}'", "手順 {number} '{step}'"),
    "error.template.command-of": ("the command of {label}", "{label} のコマンド"),
    "error.template.id-of": ("the id of {label}", "{label} の id"),
    "error.template.title-of": ("the title of {label}", "{label} のタイトル"),
    "error.template.label": ("template {template}", "テンプレート {template}"),
    "error.template.unclosed-block": (
        "a code block that is never closed",
        "閉じられていないコードブロック",
    ),
    "error.template.indented-fence": (
        "a code fence that does not start at the beginning of its line",
        "行の先頭から始まらないコードフェンス",
    ),
    "error.template.stray-backtick": (
        "a backtick that opens no code span ({piece})",
        "コードスパンを開かないバッククォート ({piece})",
    ),
    "error.template.raw-html": ("raw HTML ({start}...)", "生の HTML ({start}...)"),
    "error.template.reference": (
        "a character reference to {char}",
        "{char} への文字参照",
    ),
}
