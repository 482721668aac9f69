"""The problems found in the input files (YAML, the schema, a runbook, an inventory), each said
again by `Words.problems` at the CLI boundary: their keys start with `input.`.

A problem's message is one entry whose English is the whole message: a place and a value are
placeholders, never a message of their own ("{where}: {problem}" alone would match anything).
A value that is our words (a schema type, "not list", "the key ...") is an entry too, said
again inside the message; a bare word ("list") is never one, or a step or key of that name
would be said again too."""

MESSAGES: dict[str, tuple[str, str]] = {
    # The frame every problem is said in (errors.InputError's English, byte for byte).
    "problems.one": ("1 problem in the input:", "入力に問題が 1 件あります:"),
    "problems.many": ("{count} problems in the input:", "入力に問題が {count} 件あります:"),
    "problems.hint": ("{problem} (hint: {hint})", "{problem}(ヒント: {hint})"),
    # Reading a YAML file (core.yamlsrc); PyYAML's own words stay as they are.
    "input.yaml.not-found": ("file not found", "ファイルが見つかりません"),
    "input.yaml.cannot-read": ("cannot read: {reason}", "読み込めません: {reason}"),
    "input.yaml.too-large": (
        "file is larger than {limit} bytes",
        "ファイルが {limit} バイトを超えています",
    ),
    "input.yaml.not-utf8": (
        "not UTF-8 text (byte 0x{byte})",
        "UTF-8 のテキストではありません(バイト 0x{byte})",
    ),
    "input.yaml.not-utf8-hint": ("save the file as UTF-8", "ファイルを UTF-8 で保存してください"),
    "input.yaml.empty": ("the file is empty", "ファイルが空です"),
    "input.yaml.syntax": ("YAML syntax: {what}", "YAML の構文エラー: {what}"),
    "input.yaml.syntax-context": (
        "YAML syntax: {what} ({context} on line {line})",
        "YAML の構文エラー: {what}({line} 行目: {context})",
    ),
    "input.yaml.invalid": ("invalid YAML", "YAML として正しくありません"),
    "input.yaml.tabs-hint": (
        "indent with spaces, not tabs",
        "インデントにはタブではなく空白を使ってください",
    ),
    "input.yaml.colon-hint": (
        "quote a value that contains ': '",
        "': ' を含む値は引用符で囲んでください",
    ),
    "input.yaml.quote-value-hint": ("quote the value", "値を引用符で囲んでください"),
    "input.yaml.too-deep": ("YAML is nested too deeply", "YAML の入れ子が深すぎます"),
    "input.yaml.too-deep-or-alias": (
        "YAML is nested too deeply (or an alias refers to itself)",
        "YAML の入れ子が深すぎます(またはエイリアスが自分自身を参照しています)",
    ),
    "input.yaml.too-many-values": (
        "more than {limit} values once aliases are expanded",
        "エイリアスを展開すると値が {limit} 個を超えます",
    ),
    "input.yaml.alias-bomb-hint": (
        "an alias bomb? expand anchors by hand",
        "エイリアス爆弾ではありませんか? アンカーを手で展開してください",
    ),
    "input.yaml.key-not-string": ("key {key} is not a string", "キー {key} が文字列ではありません"),
    "input.yaml.quote-it": ("quote it", "引用符で囲んでください"),
    "input.yaml.duplicate-key": ("duplicate key '{key}'", "キー '{key}' が重複しています"),
    "input.yaml.merge-not-mapping": (
        "'<<' must merge a mapping",
        "'<<' でマージできるのはマッピングだけです",
    ),
    # The published schema (core.schema), at a place: `where` is its path ("steps[0].sudo").
    "input.schema.type": (
        "{where}: must be {types}, {found}",
        "{where} は {types} でなければなりません({found})",
    ),
    # "input.schema.type" would match it too ("must be one of a, b": types "one of a", found
    # "b"): the entry with more words of its own, this one, is tried first.
    "input.schema.one-of": (
        "{where}: must be one of {enum_values}",
        "{where} は次のいずれかでなければなりません: {enum_values}",
    ),
    "input.schema.empty": ("{where}: must not be empty", "{where} は空にできません"),
    "input.schema.pattern": (
        "{where}: {value} does not match {pattern}",
        "{where}: {value} が {pattern} に一致しません",
    ),
    "input.schema.name-pattern": (
        "{where}: name {name} does not match {pattern}",
        "{where}: 名前 {name} が {pattern} に一致しません",
    ),
    "input.schema.minimum": (
        "{where}: must be at least {limit}",
        "{where} は {limit} 以上でなければなりません",
    ),
    "input.schema.maximum": (
        "{where}: must be at most {limit}",
        "{where} は {limit} 以下でなければなりません",
    ),
    "input.schema.more-than": (
        "{where}: must be more than {limit}",
        "{where} は {limit} より大きくなければなりません",
    ),
    "input.schema.required": (
        "{where}: missing required key '{key}'",
        "{where} に必須のキー '{key}' がありません",
    ),
    # The same message at the top of the file, where `where` is the word "document".
    "input.schema.required-in-document": (
        "document: missing required key '{key}'",
        "ファイルの最上位に必須のキー '{key}' がありません",
    ),
    "input.schema.unknown-key": ("unknown key '{key}'", "不明なキー '{key}' があります"),
    "input.schema.known-keys": ("known keys: {keys}", "使えるキー: {keys}"),
    # ("did you mean '{name}'?" is refusing's error.inputs.did-you-mean.)
    "input.schema.quote-time-hint": (
        'quote the time: {key}: "{time}" (YAML reads it unquoted as the number {number})',
        '時刻を引用符で囲んでください: {key}: "{time}"'
        "(引用符がないと YAML は数値 {number} として読みます)",
    ),
    "input.schema.time-hint": (
        'a time of day as "HH:MM", from "00:00" to "23:59", quoted',
        '時刻は "HH:MM" の形で "00:00" から "23:59" まで、引用符で囲んで書いてください',
    ),
    "input.schema.webhook-hint": (
        "an http:// or https:// URL",
        "http:// か https:// の URL にしてください",
    ),
    # The types a schema asks for, one entry per combination the schemas use
    # (tests/test_words_checking.py checks every one is here).
    "input.type.mapping": ("a mapping", "マッピング"),
    "input.type.list": ("a list", "リスト"),
    "input.type.string": ("a string", "文字列"),
    "input.type.integer": ("an integer", "整数"),
    "input.type.number": ("a number", "数値"),
    "input.type.boolean": ("a boolean", "真偽値"),
    "input.type.mapping-or-null": ("a mapping or null", "マッピングまたは null"),
    "input.type.string-or-null": ("a string or null", "文字列または null"),
    "input.type.integer-or-null": ("an integer or null", "整数または null"),
    "input.type.string-or-list": ("a string or a list", "文字列またはリスト"),
    "input.type.string-or-mapping": ("a string or a mapping", "文字列またはマッピング"),
    "input.type.integer-or-list": ("an integer or a list", "整数またはリスト"),
    "input.type.boolean-or-string": ("a boolean or a string", "真偽値または文字列"),
    # The type a value has instead (YAML's scalars: a date, a timestamp, !!binary).
    "input.type.not-mapping": ("not mapping", "マッピングになっています"),
    "input.type.not-list": ("not list", "リストになっています"),
    "input.type.not-string": ("not string", "文字列になっています"),
    "input.type.not-integer": ("not integer", "整数になっています"),
    "input.type.not-number": ("not number", "数値になっています"),
    "input.type.not-boolean": ("not boolean", "真偽値になっています"),
    "input.type.not-null": ("not null", "null になっています"),
    "input.type.not-date": ("not date", "日付になっています"),
    "input.type.not-datetime": ("not datetime", "日時になっています"),
    "input.type.not-bytes": ("not bytes", "バイト列になっています"),
    # A runbook (core.load).
    "input.runbook.not-mapping": (
        "a runbook must be a mapping (name:, steps:, ...)",
        "runbook はマッピング (name:, steps:, ...) でなければなりません",
    ),
    "input.runbook.var-hides-builtin": (
        "var '{name}' hides the built-in name '{builtin}'",
        "var '{name}' が組み込みの名前 '{builtin}' を隠しています",
    ),
    "input.rename-it": ("rename it", "名前を変えてください"),
    "input.runbook.duplicate-id": (
        "duplicate step id '{step}' in {key}",
        "{key} にステップ id '{step}' が重複しています",
    ),
    "input.runbook.first-used": ("first used on line {line}", "最初は {line} 行目で使われています"),
    "input.runbook.no-action": (
        "step '{step}' has no action",
        "ステップ '{step}' にアクションがありません",
    ),
    "input.runbook.one-action-hint": (
        "give exactly one of: {actions}",
        "次のどれか 1 つだけを書いてください: {actions}",
    ),
    "input.runbook.many-actions": (
        "step '{step}' has {count} actions ({actions})",
        "ステップ '{step}' にアクションが {count} 個あります ({actions})",
    ),
    "input.runbook.split-hint": (
        "split it into one step per action",
        "アクションごとに 1 つのステップに分けてください",
    ),
    "input.runbook.check-kind": (
        "step '{step}': a check needs exactly one of http, websocket",
        "ステップ '{step}': check には http と websocket のどちらか一方だけを書きます",
    ),
    "input.runbook.subprotocol": (
        "subprotocol goes with a websocket check",
        "subprotocol は websocket の check にだけ書けます",
    ),
    "input.runbook.expect-with-run": (
        "step '{step}': expect goes with run, not {action}",
        "ステップ '{step}': expect は run に書くもので、{action} には書けません",
    ),
    "input.runbook.put-in-rollback": (
        "rollback step '{step}': put uploads files in steps; rollback puts files back with "
        "restore (and removes the files a put created by itself)",
        "rollback のステップ '{step}': put は steps でファイルをアップロードするものです。"
        "rollback では restore でファイルを元に戻します(put が新たに作ったファイルは削除します)",
    ),
    "input.runbook.local-with-run": (
        "step '{step}': local goes with run ({action} already says where it runs)",
        "ステップ '{step}': local は run に書くものです"
        "({action} は実行する場所がもう決まっています)",
    ),
    "input.runbook.bad-regex": (
        "bad regular expression in expect.{stream}: {error}",
        "expect.{stream} の正規表現が正しくありません: {error}",
    ),
    "input.runbook.bad-jinja": (
        "bad Jinja in {field}: {message}",
        "{field} の Jinja が正しくありません: {message}",
    ),
    # Text that is text (core.load): no control character, no line break in one line.
    "input.text.line-break": (
        "{where}: a line break in text of one line",
        "{where}: 1 行のテキストに改行があります",
    ),
    "input.text.line-break-hint": (
        "only a description, a note, run, manual and the values of vars have several lines",
        "複数行にできるのは description、note、run、manual と vars の値だけです",
    ),
    # The same for a key (no "the key {path}" of its own: a transport message says that).
    "input.text.key-line-break": (
        "the key {where}: a line break in text of one line",
        "キー {where}: 1 行のテキストに改行があります",
    ),
    "input.text.key-bidi": (
        "the key {where}: a bidirectional control, {char}",
        "キー {where}: 双方向制御文字 {char} があります",
    ),
    "input.text.key-control": (
        "the key {where}: a control character, {char}",
        "キー {where}: 制御文字 {char} があります",
    ),
    "input.text.bidi": (
        "{where}: a bidirectional control, {char}",
        "{where}: 双方向制御文字 {char} があります",
    ),
    "input.text.control": (
        "{where}: a control character, {char}",
        "{where}: 制御文字 {char} があります",
    ),
    "input.text.control-hint": (
        "{char} can make a terminal or the review show something other than what runs: remove it",
        "{char} があると、端末やレビューに実際に実行されるものとは違う内容が表示されることが"
        "あります: 削除してください",
    ),
    # core.markers.RESERVED_HINT (the same English: a test keeps them equal).
    "input.text.reserved-hint": (
        "U+E002 and U+E003 (private use) mark values inside release-runbook: remove it",
        "U+E002 と U+E003(私用領域)は release-runbook が内部で値の印に使います: 削除してください",
    ),
    # An inventory (core.inventory).
    "input.inventory.not-mapping": (
        "an inventory must be a mapping (hosts:, ...)",
        "inventory はマッピング (hosts:, ...) でなければなりません",
    ),
    "input.inventory.host-and-group": (
        "'{name}' is both a host and a group",
        "'{name}' がホストとグループの両方にあります",
    ),
    "input.inventory.rename-one": ("rename one of them", "どちらかの名前を変えてください"),
    "input.inventory.unknown-member": (
        "group '{group}' names unknown host '{host}'",
        "グループ '{group}' に書かれたホスト '{host}' がありません",
    ),
    "input.inventory.add-host-hint": ("add it under hosts:", "hosts: の下に追加してください"),
    "input.inventory.brackets": (
        "host '{host}': address {address} has brackets",
        "ホスト '{host}': アドレス {address} に角かっこがあります",
    ),
    "input.inventory.brackets-port-hint": (
        "write it without them ({bare}), and `port: {port}` for the port",
        "角かっこなしで書き ({bare})、ポートは `port: {port}` にしてください",
    ),
    "input.inventory.brackets-hint": (
        "write it without them ({bare}); the port goes in `port:`",
        "角かっこなしで書いてください ({bare})。ポートは `port:` に書きます",
    ),
    "input.inventory.bad-address": (
        "host '{host}': address {address} is not a host name, an IP address or an ssh_config "
        "alias OpenSSH would accept",
        "ホスト '{host}': アドレス {address} は OpenSSH が受け付けるホスト名、IP アドレス、"
        "ssh_config のエイリアスのどれでもありません",
    ),
    "input.inventory.address-hint": (
        "letters, digits and . - _ : % only",
        "使えるのは英字、数字と . - _ : % だけです",
    ),
    "input.inventory.bad-user": (
        "host '{host}': user {user} is not a user name OpenSSH would accept",
        "ホスト '{host}': ユーザー {user} は OpenSSH が受け付けるユーザー名ではありません",
    ),
    "input.inventory.user-hint": (
        "letters, digits and . _ - @ only, not starting with -",
        "使えるのは英字、数字と . _ - @ だけで、- で始めることはできません",
    ),
    # A window and a webhook (core.inventory, with core.window's and core.webhook's words).
    "input.window.not-a-zone": (
        "{where}: '{name}' is not a time zone name",
        "{where}: '{name}' はタイムゾーンの名前ではありません",
    ),
    "input.window.unknown-zone": (
        "{where}: unknown time zone '{name}'",
        "{where}: タイムゾーン '{name}' はありません",
    ),
    "input.window.zone-hint": (
        "a name from the IANA database, e.g. Asia/Tokyo, Europe/Berlin, UTC",
        "IANA データベースの名前にしてください(例: Asia/Tokyo、Europe/Berlin、UTC)",
    ),
    "input.window.start-is-end": (
        "{where}: start and end are both {time}",
        "{where}: start と end がどちらも {time} です",
    ),
    "input.window.start-is-end-hint": (
        'a window from 21:00 to 23:00 has start "21:00", end "23:00"; one that crosses '
        'midnight ends the next day: start "23:00", end "01:00"',
        '21:00 から 23:00 までの window は start "21:00"、end "23:00" です。'
        '午前 0 時をまたぐ window は翌日に終わります: start "23:00"、end "01:00"',
    ),
    "input.window.day-twice": (
        "{where}.days: {day} is named twice",
        "{where}.days: {day} が 2 回書かれています",
    ),
    "input.webhook.space": (
        "{where}: has a space or a control character",
        "{where}: 空白か制御文字があります",
    ),
    "input.webhook.not-url": (
        "{where}: is not a URL ({reason})",
        "{where}: URL ではありません ({reason})",
    ),
    "input.webhook.not-http": (
        "{where}: is not an http:// or https:// URL with a host",
        "{where}: ホストのある http:// か https:// の URL ではありません",
    ),
}
