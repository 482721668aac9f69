"""The words the tool itself says to the operator, in each language it speaks, and its times.

One catalog, `MESSAGES`: a key, then its text in each of `LANGUAGES` (English first), with
`str.format` placeholders (`{step}`) that every language shares. Code says a message by key
through a `Words` (`words("run.done.verified")`), never by writing the sentence itself; the
console, the gates, the review and the report all take theirs from here.

What a run records (the journal's messages, a step's outcome message, a gate's answer) is
English, the journal's one language. `Words.again` says such a recorded text in the reader's
language: a text that is a catalog entry's English, its placeholders filled, is said again
with that entry, and so are its values, recursively; any other text (a host's words, a
runbook's) stays as it is. Journals written before a message was in the catalog are read the
same way.

A leaf module: it imports nothing from the package but the errors.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import RunbookError

LANGUAGES = ("en", "ja")

# Adding a message: a key (dotted: where it is said, then what), then its English and its
# Japanese; the same placeholders in both (tests/test_words.py checks it).
MESSAGES: dict[str, tuple[str, str]] = {
    # --- words in a sentence: outcomes, results, answers, kinds --------------------------------
    "outcome.ok": ("ok", "成功"),
    "outcome.failed": ("failed", "失敗"),
    "outcome.unknown": ("unknown", "不明"),
    "outcome.skipped": ("skipped", "スキップ"),
    "outcome.not-run": ("not run", "未実行"),
    "outcome.done-earlier": ("done earlier", "以前の実行で完了"),
    "result.done": ("done", "完了"),
    "result.failed": ("failed", "失敗"),
    "result.rolled-back": ("rolled back", "切り戻し済み"),
    "result.rollback-failed": ("rollback failed", "切り戻し失敗"),
    "result.stopped": ("stopped", "中止"),
    "result.interrupted": ("interrupted", "中断"),
    "result.unknown": ("outcome unknown", "結果不明"),
    "result.refused": ("refused", "拒否"),
    "result.unfinished": ("unfinished", "未完了"),
    "answer.yes": ("yes", "はい"),
    "answer.skip": ("skip", "スキップ"),
    "answer.abort": ("abort", "中止"),
    "answer.retry": ("retry", "再試行"),
    "answer.rollback": ("rollback", "切り戻し"),
    "answer.refused": ("refused", "拒否"),
    "answer.no gate": ("no gate", "確認なし"),
    "answer.by-yes": ("{answer} (--yes)", "{answer}（--yes）"),
    "kind.release": ("release", "リリース"),
    "kind.rollback": ("rollback", "切り戻し"),
    "phase.step": ("step", "手順"),
    "phase.rollback-step": ("rollback step", "切り戻し手順"),
    "list.and": (", ", "、"),
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
    "gate.after-failure.no-rollback": (
        "{failed} [r]etry / [a]bort (nothing to roll back yet): ",
        "{failed} [r]再試行 / [a]中止（切り戻すものはまだありません）: ",
    ),
    "gate.please-answer": (
        "  please answer one of: {choices}",
        "  次のどれかで答えてください: {choices}",
    ),
    "gate.step": (
        "{kind} {number}/{total} ({id}) on {where}",
        "{where} の{kind} {number}/{total}（{id}）",
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
    "window.resume-host": (
        "resume within the window with `inv release --host {host} --from {step}`",
        "時間帯内に `inv release --host {host} --from {step}` で再開してください",
    ),
    "window.resume": (
        "resume within the window with `inv release --from {step}` and the same --host",
        "時間帯内に `inv release --from {step}` と同じ --host で再開してください",
    ),
    # --- inv check and the dry run -------------------------------------------------------------
    "check.warning": ("warning: {warning}", "警告: {warning}"),
    "check.runbook": ("{count} runbook", "ランブック {count} 件"),
    "check.runbooks": ("{count} runbooks", "ランブック {count} 件"),
    "check.host": ("{count} host", "ホスト {count} 台"),
    "check.hosts": ("{count} hosts", "ホスト {count} 台"),
    "check.ok": (
        "ok: {runbooks} and {hosts} valid; {plans} plans rendered",
        "OK: {runbooks}と{hosts}は正常、計画 {plans} 件を生成しました",
    ),
    "dry.ssh-config": ("(ssh config)", "（ssh の設定）"),
    "dry.plan": (
        "plan {runbook} for {host} ({target})",
        "{host} 向けの {runbook} の計画（{target}）",
    ),
    "dry.trusts": ("trusts {key}", "信頼するホスト鍵: {key}"),
    "dry.trusts-none": (
        "trusts no host key for {address} yet (the connection will be refused)",
        "{address} の信頼するホスト鍵はまだありません（接続は拒否されます）",
    ),
    "dry.rollback": ("rollback:", "切り戻し:"),
    "dry.here": ("on this machine", "この端末で実行"),
    "dry.removed-first": (
        "  first (no gate): remove each file a put created, while it has the put's sha256: {paths}",
        "  最初に（確認なし）: put が作成した各ファイルを、put の sha256 のままなら削除: {paths}",
    ),
    "dry.nothing": (
        "dry run: nothing was connected or changed",
        "ドライラン: 接続も変更もしていません",
    ),
    "dry.digest-all": (
        "digest of all {count} hosts sha256:{digest}",
        "全 {count} 台のダイジェスト sha256:{digest}",
    ),
    "dry.approve": ("approve with: {command}", "承認するには: {command}"),
    # --- inv preflight (the frame; each check's own words are English for now) -------------
    "preflight.head": ("preflight {runbook} on {host}", "{host} で {runbook} の事前確認"),
    "preflight.ok": ("  ok       {check}{note}", "  OK       {check}{note}"),
    "preflight.problem": ("  PROBLEM  {check}: {problem}", "  問題     {check}: {problem}"),
    "preflight.hint": ("           hint: {hint}", "           ヒント: {hint}"),
    "preflight.failed": (
        "preflight: problems on {hosts}; fix them, then {command} again",
        "事前確認: {hosts} に問題があります。直してから、もう一度 {command}",
    ),
    "preflight.passed": (
        "preflight: every check passed on {hosts}; next: {command}",
        "事前確認: {hosts} ですべての確認に合格しました。次: {command}",
    ),
    # --- inv history -------------------------------------------------------------------------
    "history.run": ("run", "実行"),
    "history.kind": ("kind", "種別"),
    "history.host": ("host", "ホスト"),
    "history.runbook": ("runbook", "ランブック"),
    "history.result": ("result", "結果"),
    "history.started": ("started", "開始"),
    "history.rollback-unfinished": ("rollback-unfinished", "切り戻し未完了"),
    "history.by": ("{result} (by {run})", "{result}（{run} による）"),
    "history.undoes": ("undoes {run}", "{run} を切り戻し"),
    "history.resumes": ("resumes {run}", "{run} を再開"),
    "history.none": ("no runs yet in {path}", "{path} にはまだ実行がありません"),
    # --- how a run ended (the end message: console, journal, report, notification) ------------
    "end.release-verified": ("release done and verified", "リリース完了、確認済み"),
    "end.release-unverified": (
        "release done (no check step verified it)",
        "リリース完了（確認の手順では検証していません）",
    ),
    "end.rollback-done": ("rollback done", "切り戻し完了"),
    "end.interrupted": ("interrupted by the operator (Ctrl-C)", "作業者が中断しました（Ctrl-C）"),
    "end.rollback-interrupted": (
        "rollback interrupted (Ctrl-C): {hands_on}",
        "切り戻しを中断しました（Ctrl-C）: {hands_on}",
    ),
    "end.hands-on": ("the host needs hands-on care", "ホストを直接確認し対処する必要があります"),
    "end.no-rollback-steps": (
        "the runbook has no rollback steps: {hands_on}",
        "ランブックに切り戻し手順がありません: {hands_on}",
    ),
    "end.remove-failed": (
        "removing the files put created failed: {why}: {hands_on}",
        "put が作成したファイルの削除に失敗しました: {why}: {hands_on}",
    ),
    "end.no-such-step": (
        "no step '{step}' in the runbook",
        "ランブックに手順 '{step}' はありません",
    ),
    "end.stopped": (
        "stopped by the operator at {kind} {number} ({step})",
        "作業者が{kind} {number}（{step}）で中止しました",
    ),
    "end.stopped-rollback": (
        "stopped by the operator at {kind} {number} ({step}): {hands_on}",
        "作業者が{kind} {number}（{step}）で中止しました: {hands_on}",
    ),
    "end.lost": (
        "step {step} on {hosts}: the connection was lost while it ran; its outcome is unknown, "
        "and the host lock stays held by this run. When the host is reachable again, check it "
        "(the command may still be running there) and run `inv rollback --break-lock {held}`",
        "{hosts} の手順 {step}: 実行中に接続が切れたため結果は不明で、ホストのロックはこの実行が"
        "保持したままです。ホストに接続できるようになったら確認し（コマンドがまだ動いているかも"
        "しれません）、`inv rollback --break-lock {held}` を実行してください",
    ),
    "end.rolled-back": (
        "step {step} failed ({why}); rollback done on {hosts}, the old state is back",
        "手順 {step} が失敗しました（{why}）。{hosts} の切り戻しが完了し、元の状態に戻りました",
    ),
    "end.rolled-back-some": (
        "step {step} failed ({why}); rollback done on {hosts}, the old state is back; not "
        "changed: {unchanged}",
        "手順 {step} が失敗しました（{why}）。{hosts} の切り戻しが完了し、元の状態に戻りました。"
        "変更なし: {unchanged}",
    ),
    "end.rollback-step-failed": (
        "rollback step {step} failed: {why}; {hands_on}",
        "切り戻し手順 {step} が失敗しました: {why}。{hands_on}",
    ),
    "end.failed-left": (
        "step {step} failed: {why}; host left as it is",
        "手順 {step} が失敗しました: {why}。ホストはそのままです",
    ),
    "end.failed-left-nothing": (
        "step {step} failed: {why}; host left as it is (nothing to roll back: no backup was "
        "made yet)",
        "手順 {step} が失敗しました: {why}。ホストはそのままです（バックアップはまだないため"
        "切り戻すものはありません）",
    ),
    "end.outside-window": (
        "step {number} ({step}) not started: outside the booked window. {lines}. Nothing more "
        'ran; {again}, or give --outside-window "REASON"',
        "手順 {number}（{step}）は開始していません: 作業可能時間帯外です。{lines}。これ以上は"
        '何も実行していません。{again}。または --outside-window "理由" を付けてください',
    ),
    "end.rollback-because": ("step {step} failed: {why}", "手順 {step} が失敗しました: {why}"),
    # --- what a step said (recorded; said again in the report) ----------------------------------
    "step.done-by-hand": ("done by hand", "手作業で完了"),
    "step.not-confirmed": ("not confirmed by a person (--yes)", "人による確認なし（--yes）"),
    "step.lost": ("the connection was lost while it ran", "実行中に接続が切れました"),
    "step.not-started-left": ("not started: the operator left", "未開始: 作業者が中断しました"),
    "step.exit-status": ("exit status {code}", "終了コード {code}"),
    "step.copy-differs": (
        "the copy of {path} differs from it (content, mode or owner)",
        "{path} のコピーが元と異なります（内容、モード、所有者のいずれか）",
    ),
    "step.backed-up": ("{path} in {backup} sha256:{sha}", "{path} を {backup} に保存 sha256:{sha}"),
    "step.backed-up-through": (
        "{path} (→ {target}) in {backup} sha256:{sha}",
        "{path}（→ {target}）を {backup} に保存 sha256:{sha}",
    ),
    "step.no-backup": (
        "no backup of {path} was made by the release",
        "リリースでは {path} のバックアップが作られていません",
    ),
    "step.restored": ("{path} sha256:{sha} verified", "{path} を復元、sha256:{sha} を検証済み"),
    "step.restored-through": (
        "{path} (→ {target}) sha256:{sha} verified",
        "{path}（→ {target}）を復元、sha256:{sha} を検証済み",
    ),
    "step.put-not-reviewed": (
        "the content of {step} is not the reviewed one",
        "{step} の内容がレビューされたものと異なります",
    ),
    "step.put-silent": ("{dest}: the put did not say what it did", "{dest}: put の結果が不明です"),
    "step.put-created": (
        "{dest} created ({mode}) sha256:{sha} verified",
        "{dest} を作成（{mode}）、sha256:{sha} を検証済み",
    ),
    "step.put-replaced": (
        "{dest} replaced ({mode}) sha256:{sha} verified",
        "{dest} を置き換え（{mode}）、sha256:{sha} を検証済み",
    ),
    "step.removed": ("removed {paths}", "{paths} を削除"),
    "step.ws-valid": (
        "{status}, Sec-WebSocket-Accept valid",
        "{status}、Sec-WebSocket-Accept 正常",
    ),
    "step.ws-valid-subprotocol": (
        "{status}, Sec-WebSocket-Accept valid, subprotocol {sub}",
        "{status}、Sec-WebSocket-Accept 正常、サブプロトコル {sub}",
    ),
    "step.ws-no-subprotocol": (
        "101 but the server did not agree to subprotocol {subprotocol}",
        "101 ですが、サーバーはサブプロトコル {subprotocol} に同意しませんでした",
    ),
    "step.http-status": ("got {got}, expected {status}", "{got} が返りました（期待値 {status}）"),
    "step.http-no-header": (
        "no {name} header (expected /{pattern}/)",
        "{name} ヘッダーがありません（期待値 /{pattern}/）",
    ),
    "step.http-header-differs": (
        "{name}: {value} does not match /{pattern}/",
        "{name}: {value} が /{pattern}/ に一致しません",
    ),
    "step.http-header-matches": ("{name} matches", "{name} 一致"),
    "step.http-ok-headers": ("{status}, {headers}", "{status}、{headers}"),
    "step.no-answer": (
        "no answer from {url} within {seconds} s",
        "{url} から {seconds} 秒以内に応答がありません",
    ),
    "step.refused": ("connection refused by {url}", "{url} に接続を拒否されました"),
    "step.unresolved": (
        "cannot resolve the host of {url}: {why}",
        "{url} のホスト名を解決できません: {why}",
    ),
    "step.connection-failed": (
        "connection to {url} failed: {why}",
        "{url} への接続に失敗しました: {why}",
    ),
    "step.unreachable": ("cannot reach {url}: {why}", "{url} に到達できません: {why}"),
    "step.check-failed": ("check of {url} failed: {why}", "{url} の確認に失敗しました: {why}"),
    "step.left-may-run": (
        "left while it ran ({why}): it could not be ended on the host (the connection is "
        "gone?), it may still be running; the host lock stays held by this run",
        "実行中に中断（{why}）: ホスト上で終了させられませんでした（接続が切れた？）。まだ"
        "実行中かもしれず、ホストのロックはこの実行が保持したままです",
    ),
    "step.stopped-after": ("stopped after {why}", "{why} の後に停止"),
    "step.ended-here": (
        "ended on this machine after {why}",
        "{why} の後、この端末で終了させました",
    ),
    "step.ended-there": ("ended on the host after {why}", "{why} の後、ホスト上で終了させました"),
    "step.second-ctrl-c": ("a second Ctrl-C", "2 回目の Ctrl-C"),
    "step.exit-status-said": ("exit status {code}: {last}", "終了コード {code}: {last}"),
    "step.timed-out": ("timed out after {seconds} s", "{seconds} 秒でタイムアウト"),
    "step.no-exit-status": (
        "ended without an exit status (killed?)",
        "終了コードなしで終了しました（強制終了？）",
    ),
    "step.no-match": ("{stream} does not match {pattern}", "{stream} が {pattern} に一致しません"),
    # --- the host's state and the next moves (journal.state) ----------------------------------
    "state.line": ("the host {host}: {state}", "ホスト {host}: {state}"),
    "state.sep": ("; ", "。"),
    "state.changed-rolled-back": (
        "changed by {steps}, then rolled back: the old state is back",
        "{steps} が変更し、その後切り戻し済み。元の状態に戻っています",
    ),
    "state.changed-rollback-unfinished": (
        "changed by {steps}; the rollback did not finish: it needs hands-on care",
        "{steps} が変更。切り戻しが完了していないため、直接確認し対処する必要があります",
    ),
    "state.changed-backed-up": (
        "changed by {steps} (with a backup: `inv rollback` restores it)",
        "{steps} が変更（バックアップあり: `inv rollback` で戻せます）",
    ),
    "state.changed-no-backup": (
        "changed by {steps} without a backup (roll back by hand)",
        "{steps} が変更（バックアップなし: 手作業で戻してください）",
    ),
    "state.only-skipped": (
        "no step of this run changed it; skipped, so not done: {steps}",
        "この実行で変更した手順はありません。スキップした手順（未実施）: {steps}",
    ),
    "state.unchanged": ("not changed by this run", "この実行では変更されていません"),
    "state.skipped": ("skipped, so not done: {steps}", "スキップした手順（未実施）: {steps}"),
    "state.rolled-back": (
        "rolled back: the old state is back",
        "切り戻し済み。元の状態に戻っています",
    ),
    "state.rolled-back-run": (
        "rolled back of run {run}: the old state is back",
        "実行 {run} を切り戻し済み。元の状態に戻っています",
    ),
    "state.rollback-unfinished": (
        "the rollback did not finish ({result}): it needs hands-on care",
        "切り戻しが完了していません（{result}）。直接確認し対処する必要があります",
    ),
    "state.rollback-unfinished-run": (
        "the rollback of run {run} did not finish ({result}): it needs hands-on care",
        "実行 {run} の切り戻しが完了していません（{result}）。直接確認し対処する必要があります",
    ),
    "state.may-run": ("{steps} may still be running there", "{steps} はまだ実行中かもしれません"),
    "state.lock-held": (
        "the host lock stays held by run {run}",
        "ホストのロックは実行 {run} が保持したままです",
    ),
    "next.command": ("next: {command}  ({why})", "次: {command}  （{why}）"),
    "next.by-hand": ("next: {why}", "次: {why}"),
    "move.report": ("the report", "レポート"),
    "move.hands-on": ("check the host by hand", "ホストを直接確認してください"),
    "move.hands-on-rollback": (
        "the rollback did not finish: check the host by hand",
        "切り戻しが完了していません。ホストを直接確認してください",
    ),
    "move.rollback-again": (
        "when the host is reachable and checked, run the rollback again",
        "ホストに接続でき確認できたら、切り戻しをもう一度実行",
    ),
    "move.rerun": ("fix the cause, then run it again", "原因を直してから、もう一度実行"),
    "move.release-again": (
        "after fixing the cause, release again",
        "原因を直してから、もう一度リリース",
    ),
    "move.check-first": (
        "check the host first: a command may still run there",
        "まずホストを確認してください（コマンドがまだ実行中かもしれません）",
    ),
    "move.rollback": ("to undo what changed", "変更を元に戻す"),
    "move.by-hand": (
        "to undo what changed: by hand, no backup of {steps}",
        "変更は手作業で戻してください（{steps} のバックアップなし）",
    ),
    "move.resume": (
        "after fixing the cause, resume at {step}",
        "原因を直してから、{step} から再開",
    ),
    "report.batch": ("{runbook} on {count} hosts together", "{runbook}（{count} 台同時）"),
    "report.batch-head": (
        "{hosts}. One report per host follows.",
        "{hosts}。以下、ホストごとのレポートです。",
    ),
    # --- the error boundary ---------------------------------------------------------------------
    "cli.error": ("error: {message}", "エラー: {message}"),
    "cli.hint": ("  hint: {hint}", "  ヒント: {hint}"),
    "cli.interrupted": ("interrupted", "中断しました"),
    "cli.unknown-language": ("unknown language '{lang}'", "不明な言語 '{lang}'"),
    "cli.languages": ("use one of: {languages}", "次のどれかを使ってください: {languages}"),
    "cli.written": (
        "report of run {run} written to {path}",
        "実行 {run} のレポートを {path} に書き出しました",
    ),
}

_ANSWER_PREFIX = "answer."
# The messages a run records (a step's message, the end's, a rollback's reason): `again` says
# only these again, never a host's words that happen to look like another message.
_RECORDED = ("end.", "step.", "window.")


class LanguageError(RunbookError):
    """An unknown language asked for with `--lang` (exit 2)."""


@dataclass(frozen=True)
class Said:
    """A message by key with its values, said in any language later; `str()` is its English
    (what the journal records)."""

    key: str
    args: Mapping[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return EN(self)


@dataclass(frozen=True)
class Words:
    """The catalog in one language: `words(key, **values)` or `words(said)`."""

    lang: str = "en"

    def __post_init__(self) -> None:
        if self.lang not in LANGUAGES:
            raise LanguageError(
                EN("cli.unknown-language", lang=self.lang),
                hint=EN("cli.languages", languages=", ".join(LANGUAGES)),
            )

    def __call__(self, key: str | Said, /, **args: object) -> str:
        if isinstance(key, Said):
            # A said message's values may be recorded English themselves (a step's message).
            said = {k: self.again(v) if isinstance(v, str) else v for k, v in key.args.items()}
            key, args = key.key, {**said, **args}
        args = {k: self(v) if isinstance(v, Said) else v for k, v in args.items()}
        texts = MESSAGES[key]
        text = texts[LANGUAGES.index(self.lang)] or texts[0]
        return text.format(**args)

    def join(self, items: Iterable[object]) -> str:
        """Items in a list, with this language's separator."""
        return self("list.and").join(str(i) for i in items)

    def again(self, recorded: str) -> str:
        """A text recorded in English, said in this language where the catalog knows it."""
        if self.lang == "en" or not recorded:
            return recorded
        return _again(self.lang, recorded, 3)

    def answer(self, recorded: str) -> str:
        """A gate answer as the journal records it ("yes", "yes (--yes)", "no gate")."""
        key = _ANSWER_PREFIX + recorded
        if key in MESSAGES:
            return self(key)
        by_yes = recorded.removesuffix(" (--yes)")
        if by_yes != recorded and _ANSWER_PREFIX + by_yes in MESSAGES:
            return self("answer.by-yes", answer=self(_ANSWER_PREFIX + by_yes))
        return self.again(recorded)

    def outcome(self, recorded: str) -> str:
        return self._word("outcome.", recorded)

    def result(self, recorded: str) -> str:
        return self._word("result.", recorded)

    def _word(self, prefix: str, recorded: str) -> str:
        key = prefix + str(recorded)
        return self(key) if key in MESSAGES else str(recorded)

    def time(self, iso: str | None) -> str:
        return local_time(iso)


EN = Words("en")


@functools.cache
def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    """Each catalog entry's English as a pattern its placeholders' values fill (the longest
    first: a long message is not mistaken for a short one it contains)."""
    found = []
    for key, texts in MESSAGES.items():
        parts = re.split(r"\{(\w+)\}", texts[0])
        if len(parts) == 1 and len(texts[0]) < 4:
            continue  # a word, not a message: said by its key, not matched in prose
        if not re.search(r"[A-Za-z]{2}", "".join(parts[::2])):
            continue  # only punctuation between values ("{a}, {b}"): it would match anything
        pattern = "".join(
            re.escape(p) if i % 2 == 0 else f"(?P<{p}>.*?)" for i, p in enumerate(parts)
        )
        found.append((key, re.compile(pattern, re.DOTALL)))
    found.sort(key=lambda kp: -len(MESSAGES[kp[0]][0]))
    return found


def _again(lang: str, recorded: str, depth: int) -> str:
    for key, pattern in _patterns():
        if not key.startswith(_RECORDED):
            continue
        match = pattern.fullmatch(recorded)
        if match is None:
            continue
        values = {
            name: _again(lang, value, depth - 1) if depth else value
            for name, value in match.groupdict().items()
        }
        return Words(lang)(key, **values)
    if "; " in recorded:  # messages joined (one per file of a step): each said again
        return "; ".join(_again(lang, part, depth) for part in recorded.split("; "))
    return recorded


def choose(
    given: str | None, environ: Mapping[str, str] | None = None, *, recorded: str | None = None
) -> Words:
    """The operator's language: `--lang` if given (an unknown one is refused), else the
    locale (the first of LC_ALL, LC_MESSAGES, LANG that is set: `ja*` is Japanese, anything
    else English), else `recorded` (the language a run was made in, for its report), else
    English."""
    if given:
        return Words(given.strip().lower())
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            return Words("ja" if value.lower().startswith("ja") else "en")
    return Words(recorded) if recorded in LANGUAGES else EN


def local_time(iso: str | None, zone: tzinfo | None = None) -> str:
    """A recorded UTC time (ISO 8601) on the operator's clock, its zone named:
    `2026-12-01 03:12:05 JST (+09:00)`. `zone` None: TZ, else this machine's zone. A text that
    is not a time is shown as it is."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone if zone is not None else _zone())
    digits = local.strftime("%z")
    offset = f"{digits[:3]}:{digits[3:]}"
    name = local.tzname() or ""
    named = offset if not name or name[0] in "+-" else f"{name} ({offset})"
    return f"{local:%Y-%m-%d %H:%M:%S} {named}"


def _zone() -> tzinfo | None:
    """TZ as the operator set it (read now, so a TZ set after start counts), else the
    machine's zone (None: Python's local time)."""
    name = os.environ.get("TZ", "").removeprefix(":")
    if not name:
        return None
    if name.upper() in ("UTC", "UTC0", "GMT", "GMT0"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
