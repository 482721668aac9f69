"""The input problems (runbook.words.checking): YAML, the schema, a runbook, an inventory.

Each problem comes from the real loaders; its English is what it was before it was in the
catalog, byte for byte, and `--lang ja` says it in Japanese, leaving only values (paths, ids,
keys, patterns, character names) and the words of PyYAML, Jinja, `re` and the system."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from runbook.core import yamlsrc
from runbook.core.inventory import inventory_from_source
from runbook.core.load import runbook_from_source
from runbook.core.markers import RESERVED_HINT
from runbook.core.schema import load_schema
from runbook.core.yamlsrc import load_yaml, parse_yaml
from runbook.errors import BAD_INPUT, Problem
from runbook.words import EN, MESSAGES, Words, _recorded_match, checking
from tests.conftest import run_cli

JA = Words("ja")

RUNBOOKS = {
    "types": (
        "name: Bad Name\n"
        "title: 2026-01-01\n"
        "description: [x]\n"
        "vars: []\n"
        'secrets: [1, "bad-secret"]\n'
        "steps:\n"
        "  - id: a\n"
        '    run: "true"\n'
        "    sudo: 3\n"
        "    timeout: 0\n"
        "    retries: 1.5\n"
        "    delay: -1\n"
        '    confirm: "no"\n'
        "    tittle: x\n"
        '    expect: {exit: "x", strange: 1}\n'
        "  - id: b\n"
        "    check: {http: 3}\n"
        "  - id: c\n"
        '    check: {http: {url: "http://x", status: 42, headers: {a: 1}}, websocket: 7}\n'
        "  - id: d\n"
        "    backup: 3\n"
        "  - id: e\n"
        "    restore: []\n"
        "  - id: f\n"
        '    put: {src: "", dest: /b, mode: "9", owner: "", template: "yes"}\n'
        "  - id: g\n"
        "    manual: true\n"
        "  - null\n"
        "rollback: {}\n"
        "changes:\n"
        '  - {repo: r, from: "", to: x, paths: []}\n'
        "  - {repo: r}\n"
        "zzz: 1\n"
    ),
    "missing": ("title: t\n"),
    "empty-steps": ("name: x\nsteps: []\nstepz: 1\n"),
    "enum": (
        "name: x\nsteps:\n  - {id: a, run: 'true'}\n  - {id: b, run: 'true', sudo: 'Root User'}\n"
    ),
    "logic": (
        "name: logic\n"
        "vars: {host: 1, run: 2}\n"
        "steps:\n"
        "  - id: a\n"
        '    run: "true"\n'
        "  - id: a\n"
        '    run: "true"\n'
        "  - id: none\n"
        "    title: nothing\n"
        "  - id: two\n"
        '    run: "true"\n'
        "    manual: also\n"
        "  - id: three\n"
        "    run: x\n"
        "    backup: /a\n"
        "    restore: /b\n"
        "  - id: chk\n"
        '    check: {http: "http://x", websocket: "ws://x"}\n'
        "  - id: sub\n"
        '    check: {http: "http://x", subprotocol: chat}\n'
        "  - id: exp\n"
        "    manual: look\n"
        "    expect: {exit: 1}\n"
        "  - id: loc\n"
        "    manual: look\n"
        "    local: true\n"
        "  - id: re\n"
        '    run: "true"\n'
        '    expect: {stdout: "(", stderr: "[a"}\n'
        "  - id: jin\n"
        '    title: "{{ oops"\n'
        "    run: |\n"
        "      echo ok\n"
        "      {% if %}\n"
        "rollback:\n"
        "  - id: up\n"
        "    put: {src: a, dest: /b}\n"
    ),
    "text": (
        "name: text\n"
        'title: "a\\u202eb"\n'
        'description: "ok\\nok"\n'
        "vars:\n"
        '  "k\\x07": 1\n'
        "steps:\n"
        "  - id: a\n"
        '    title: "one\\ntwo"\n'
        '    run: "echo \\x1b"\n'
        "  - id: b\n"
        '    title: "x\\ue002y"\n'
        "    run: \"echo {{ '\\\\x07' }}\"\n"
        "  - id: c\n"
        "    run: 'true'\n"
        '    note: "n\\x07"\n'
    ),
    "keyline": ("name: k\nsteps:\n  - id: a\n    run: 'true'\n    \"ti\\ntle\": x\n"),
    "not-mapping": ("- a\n- b\n"),
    "yaml-keys": ("name: y\n1: x\nname: z\nsteps:\n  - id: a\n    run: 'true'\n    <<: 3\n"),
    "yaml-syntax": ("name: y\nsteps: [1, 2\n"),
    "yaml-colon": ("name: y\ntitle: a: b\n"),
    "yaml-tab": ("name: y\nsteps:\n\t- id: a\n"),
    "yaml-percent": ("name: y\ntitle: %x\n"),
    "yaml-at": ("name: y\ntitle: @x\n"),
    "yaml-reader": ('name: y\ntitle: "\x07"\n'),
    "yaml-bomb": (
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: [*d, *d, *d]\n"
    ),
    "yaml-deep": ("a: " + "[" * 70 + "]" * 70 + "\n"),
    "yaml-empty": ("# nothing\n"),
    "scalars": (
        "name: s\n"
        "title: 2026-01-01 10:00:00\n"
        "description: !!binary aGVsbG8=\n"
        "steps:\n"
        "  - {id: a, run: 'true'}\n"
    ),
}

INVENTORIES = {
    "types": (
        "defaults:\n"
        "  user: 3\n"
        '  port: "x"\n'
        '  sudo: "x"\n'
        '  connect_timeout: "soon"\n'
        "  vars: []\n"
        "  known_hosts: 3\n"
        "  approval: {required: 0}\n"
        '  window: {tz: "", start: "21:00", end: 1260, days: [mon, funday]}\n'
        '  notify: [{webhook: "ftp://x", on: [sometimes]}]\n'
        "hosts:\n"
        "  web1: []\n"
        '  "-bad": {port: 70000}\n'
        '  web2: {backup_dir: relative, lock: 3, vars: {"bad-name": 1}}\n'
        "  web3: {prot: 22}\n"
        "groups:\n"
        "  g: {hosts: web1}\n"
        "extra: 1\n"
    ),
    "missing": ("defaults: {}\n"),
    "logic": (
        "defaults:\n"
        '  window: {tz: Mars/Olympus, start: "21:00", end: "21:00", days: [mon, mon]}\n'
        '  notify: [{webhook: "http://x:port/"}, {webhook: "http://a b"}, {webhook: "http://[x"}]\n'
        "hosts:\n"
        '  web1: {address: "[::1]:2222"}\n'
        '  web2: {address: "[::1]"}\n'
        '  web3: {address: "$(reboot)", user: "-oProxyCommand"}\n'
        "  web4:\n"
        '    window: {tz: localtime, start: "01:00", end: "02:00"}\n'
        "  Web5: {}\n"
        "groups:\n"
        "  web1: {hosts: [web2]}\n"
        "  ops: {hosts: [web5, nowhere]}\n"
    ),
    "logic2": (
        "hosts:\n"
        '  web1: {address: "[::1]:2222"}\n'
        '  web2: {address: "[::1]"}\n'
        '  web3: {address: "$(reboot)", user: "-oProxyCommand"}\n'
        '  web4: {address: "-oProxyCommand=x"}\n'
    ),
    "not-mapping": ("- web1\n"),
    "window": (
        "defaults:\n"
        '  window: {tz: UTC, start: "25:00", end: "01:00"}\n'
        '  vars: {"b\\u202ed": 1}\n'
        "hosts:\n"
        "  web1: {}\n"
    ),
    "webhook": ('hosts:\n  web1:\n    notify: [{webhook: "http://:80"}]\n'),
}

# (line, message, hint) of each problem, as the loaders said them before the catalog.
RUNBOOK_PROBLEMS = {
    "types": [
        (1, "name: 'Bad Name' does not match ^[a-z0-9-]+$", None),
        (2, "title: must be a string, not date", None),
        (3, "description: must be a string, not list", None),
        (4, "vars: must be a mapping, not list", None),
        (5, "secrets[0]: must be a string, not integer", None),
        (5, "secrets[1]: 'bad-secret' does not match ^[A-Za-z_][A-Za-z0-9_]*$", None),
        (9, "steps[0].sudo: must be a boolean or a string, not integer", None),
        (10, "steps[0].timeout: must be more than 0", None),
        (11, "steps[0].retries: must be an integer, not number", None),
        (12, "steps[0].delay: must be at least 0", None),
        (13, "steps[0].confirm: must be a boolean, not string", None),
        (14, "unknown key 'tittle'", "did you mean 'title'?"),
        (15, "steps[0].expect.exit: must be an integer or a list, not string", None),
        (15, "unknown key 'strange'", "known keys: exit, stdout, stderr"),
        (17, "steps[1].check.http: must be a string or a mapping, not integer", None),
        (19, "steps[2].check.http.status: must be at least 100", None),
        (19, "steps[2].check.http.headers.a: must be a string, not integer", None),
        (19, "steps[2].check.websocket: must be a string, not integer", None),
        (21, "steps[3].backup: must be a string or a list, not integer", None),
        (23, "steps[4].restore: must not be empty", None),
        (25, "steps[5].put.src: must not be empty", None),
        (25, "steps[5].put.mode: '9' does not match ^[0-7]{3,4}$", None),
        (25, "steps[5].put.owner: must not be empty", None),
        (25, "steps[5].put.template: must be a boolean, not string", None),
        (27, "steps[6].manual: must be a string, not boolean", None),
        (28, "steps[7]: must be a mapping, not null", None),
        (29, "rollback: must be a list, not mapping", None),
        (31, "changes[0].from: must not be empty", None),
        (31, "changes[0].paths: must not be empty", None),
        (32, "changes[1]: missing required key 'from'", None),
        (32, "changes[1]: missing required key 'to'", None),
        (32, "changes[1]: missing required key 'paths'", None),
        (
            33,
            "unknown key 'zzz'",
            "known keys: name, title, description, vars, secrets, steps, rollback, changes",
        ),
        (19, "step 'c': a check needs exactly one of http, websocket", None),
    ],
    "missing": [
        (1, "document: missing required key 'name'", None),
        (1, "document: missing required key 'steps'", None),
    ],
    "empty-steps": [
        (2, "steps: must not be empty", None),
        (3, "unknown key 'stepz'", "did you mean 'steps'?"),
    ],
    "enum": [
        (4, "steps[1].sudo: 'Root User' does not match ^[a-z_][a-z0-9_.-]*[$]?$", None),
    ],
    "logic": [
        (2, "var 'host' hides the built-in name 'host'", "rename it"),
        (2, "var 'run' hides the built-in name 'run'", "rename it"),
        (6, "duplicate step id 'a' in steps", "first used on line 4"),
        (
            8,
            "step 'none' has no action",
            "give exactly one of: run, backup, restore, check, manual, put",
        ),
        (12, "step 'two' has 2 actions (run, manual)", "split it into one step per action"),
        (
            15,
            "step 'three' has 3 actions (run, backup, restore)",
            "split it into one step per action",
        ),
        (18, "step 'chk': a check needs exactly one of http, websocket", None),
        (20, "subprotocol goes with a websocket check", None),
        (23, "step 'exp': expect goes with run, not manual", None),
        (26, "step 'loc': local goes with run (manual already says where it runs)", None),
        (
            29,
            "bad regular expression in expect.stdout: missing ), unterminated subpattern "
            "at position 0",
            None,
        ),
        (
            29,
            "bad regular expression in expect.stderr: unterminated character set at position 0",
            None,
        ),
        (
            31,
            "bad Jinja in steps.title: unexpected end of template, expected 'end of print "
            "statement'.",
            None,
        ),
        (34, "bad Jinja in steps.run: Expected an expression, got 'end of statement block'", None),
        (
            37,
            "rollback step 'up': put uploads files in steps; rollback puts files back with "
            "restore (and removes the files a put created by itself)",
            None,
        ),
    ],
    "text": [
        (5, "vars.k\\x07: name 'k\\x07' does not match ^[A-Za-z_][A-Za-z0-9_]*$", None),
        (
            2,
            "title: a bidirectional control, U+202E RIGHT-TO-LEFT OVERRIDE",
            "U+202E RIGHT-TO-LEFT OVERRIDE can make a terminal or the review show "
            "something other than what runs: remove it",
        ),
        (
            5,
            "the key vars.k\\x07: a control character, U+0007 BELL",
            "U+0007 BELL can make a terminal or the review show something other than what "
            "runs: remove it",
        ),
        (
            8,
            "steps[0].title: a line break in text of one line",
            "only a description, a note, run, manual and the values of vars have several lines",
        ),
        (
            9,
            "steps[0].run: a control character, U+001B ESCAPE",
            "U+001B ESCAPE can make a terminal or the review show something other than "
            "what runs: remove it",
        ),
        (
            11,
            "steps[1].title: U+E002",
            "U+E002 and U+E003 (private use) mark values inside release-runbook: remove it",
        ),
        (
            12,
            "steps[1].run: a control character, U+0007 BELL",
            "U+0007 BELL can make a terminal or the review show something other than what "
            "runs: remove it",
        ),
        (
            15,
            "steps[2].note: a control character, U+0007 BELL",
            "U+0007 BELL can make a terminal or the review show something other than what "
            "runs: remove it",
        ),
    ],
    "keyline": [
        (5, "unknown key 'ti\\ntle'", "did you mean 'title'?"),
        (
            5,
            "the key steps[0].ti\\ntle: a line break in text of one line",
            "only a description, a note, run, manual and the values of vars have several lines",
        ),
    ],
    "not-mapping": [
        (1, "a runbook must be a mapping (name:, steps:, ...)", None),
    ],
    "yaml-keys": [
        (2, "key 1 is not a string", "quote it"),
        (3, "duplicate key 'name'", None),
        (7, "'<<' must merge a mapping", None),
        (
            2,
            "unknown key '1'",
            "known keys: name, title, description, vars, secrets, steps, rollback, changes",
        ),
    ],
    "yaml-syntax": [
        (
            2,
            "YAML syntax: did not find expected ',' or ']' (while parsing a flow sequence "
            "on line 2)",
            None,
        ),
    ],
    "yaml-colon": [
        (
            2,
            "YAML syntax: mapping values are not allowed in this context",
            "quote a value that contains ': '",
        ),
    ],
    "yaml-tab": [
        (
            3,
            "YAML syntax: found character that cannot start any token (while scanning for "
            "the next token on line 3)",
            "indent with spaces, not tabs",
        ),
    ],
    "yaml-percent": [
        (
            2,
            "YAML syntax: found character that cannot start any token (while scanning for "
            "the next token on line 2)",
            None,
        ),
    ],
    "yaml-at": [
        (
            2,
            "YAML syntax: found character that cannot start any token (while scanning for "
            "the next token on line 2)",
            None,
        ),
    ],
    "yaml-reader": [
        (
            None,
            "YAML syntax: unacceptable character #x0007: control characters are not "
            'allowed\n  in "<unicode string>", position 16',
            None,
        ),
    ],
    "yaml-bomb": [
        (
            1,
            "more than 20,000 values once aliases are expanded",
            "an alias bomb? expand anchors by hand",
        ),
    ],
    "yaml-deep": [
        (1, "YAML is nested too deeply (or an alias refers to itself)", None),
    ],
    "yaml-empty": [
        (None, "the file is empty", None),
    ],
    "scalars": [
        (2, "title: must be a string, not datetime", None),
        (3, "description: must be a string, not bytes", None),
    ],
}

INVENTORY_PROBLEMS = {
    "types": [
        (10, "key True is not a string", "quote it"),
        (2, "defaults.user: must be a string or null, not integer", None),
        (3, "defaults.port: must be an integer or null, not string", None),
        (4, "defaults.sudo: must be a boolean, not string", None),
        (5, "defaults.connect_timeout: must be a number, not string", None),
        (6, "defaults.vars: must be a mapping, not list", None),
        (7, "defaults.known_hosts: must be a string or a list, not integer", None),
        (8, "defaults.approval: missing required key 'signers'", None),
        (8, "defaults.approval.required: must be at least 1", None),
        (9, "defaults.window.tz: must not be empty", None),
        (
            9,
            "defaults.window.end: must be a string, not integer",
            'quote the time: end: "21:00" (YAML reads it unquoted as the number 1260)',
        ),
        (9, "defaults.window.days[1]: must be one of mon, tue, wed, thu, fri, sat, sun", None),
        (
            10,
            "defaults.notify[0].webhook: 'ftp://x' does not match "
            "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\\s]+",
            "an http:// or https:// URL",
        ),
        (10, "unknown key 'True'", "known keys: webhook"),
        (12, "hosts.web1: must be a mapping or null, not list", None),
        (13, "hosts.-bad: name '-bad' does not match ^[A-Za-z0-9][A-Za-z0-9_.-]*$", None),
        (13, "hosts.-bad.port: must be at most 65535", None),
        (
            14,
            "hosts.web2.backup_dir: 'relative' does not match ^/[^\\u0000-\\u001f\\u007f]*$",
            None,
        ),
        (14, "hosts.web2.lock: must be a string, not integer", None),
        (
            14,
            "hosts.web2.vars.bad-name: name 'bad-name' does not match ^[A-Za-z_][A-Za-z0-9_]*$",
            None,
        ),
        (15, "unknown key 'prot'", "did you mean 'port'?"),
        (17, "groups.g.hosts: must be a list, not string", None),
        (18, "unknown key 'extra'", "known keys: defaults, hosts, groups"),
    ],
    "missing": [
        (1, "document: missing required key 'hosts'", None),
    ],
    "logic": [
        (
            2,
            "defaults.window.tz: unknown time zone 'Mars/Olympus'",
            "a name from the IANA database, e.g. Asia/Tokyo, Europe/Berlin, UTC",
        ),
        (
            2,
            "defaults.window: start and end are both 21:00",
            'a window from 21:00 to 23:00 has start "21:00", end "23:00"; one that crosses '
            'midnight ends the next day: start "23:00", end "01:00"',
        ),
        (2, "defaults.window.days: mon is named twice", None),
        (
            3,
            "defaults.notify[0].webhook: is not a URL (Port could not be cast to integer "
            "value as 'port')",
            None,
        ),
        (3, "defaults.notify[1].webhook: has a space or a control character", None),
        (3, "defaults.notify[2].webhook: is not a URL (Invalid IPv6 URL)", None),
        (
            9,
            "hosts.web4.window.tz: 'localtime' is not a time zone name",
            "a name from the IANA database, e.g. Asia/Tokyo, Europe/Berlin, UTC",
        ),
        (12, "'web1' is both a host and a group", "rename one of them"),
        (13, "group 'ops' names unknown host 'web5'", "did you mean 'Web5'?"),
        (13, "group 'ops' names unknown host 'nowhere'", "add it under hosts:"),
    ],
    "logic2": [
        (
            2,
            "host 'web1': address '[::1]:2222' has brackets",
            "write it without them (::1), and `port: 2222` for the port",
        ),
        (
            3,
            "host 'web2': address '[::1]' has brackets",
            "write it without them (::1); the port goes in `port:`",
        ),
        (
            4,
            "host 'web3': address '$(reboot)' is not a host name, an IP address or an "
            "ssh_config alias OpenSSH would accept",
            "letters, digits and . - _ : % only",
        ),
        (
            4,
            "host 'web3': user '-oProxyCommand' is not a user name OpenSSH would accept",
            "letters, digits and . _ - @ only, not starting with -",
        ),
        (
            5,
            "host 'web4': address '-oProxyCommand=x' is not a host name, an IP address or "
            "an ssh_config alias OpenSSH would accept",
            "letters, digits and . - _ : % only",
        ),
    ],
    "not-mapping": [
        (1, "an inventory must be a mapping (hosts:, ...)", None),
    ],
    "window": [
        (
            2,
            "defaults.window.start: '25:00' does not match ^([01][0-9]|2[0-3]):[0-5][0-9]$",
            'a time of day as "HH:MM", from "00:00" to "23:59", quoted',
        ),
        (
            3,
            "defaults.vars.b\\u202ed: name 'b\\u202ed' does not match ^[A-Za-z_][A-Za-z0-9_]*$",
            None,
        ),
        (
            3,
            "the key defaults.vars.b\\u202ed: a bidirectional control, U+202E "
            "RIGHT-TO-LEFT OVERRIDE",
            "U+202E RIGHT-TO-LEFT OVERRIDE can make a terminal or the review show "
            "something other than what runs: remove it",
        ),
    ],
    "webhook": [
        (3, "hosts.web1.notify[0].webhook: is not an http:// or https:// URL with a host", None),
    ],
}


def problems_of(kind: str, name: str, text: str) -> list[Problem]:
    """The problems the loaders find in `text` (a runbook, or an inventory)."""
    source, problems = parse_yaml(text.encode(), f"{name}.yaml")
    if source is not None:
        if kind == "runbook":
            runbook_from_source(source, problems)
        else:
            inventory_from_source(source, problems, Path("/nonexistent"))
    return problems


def by_file(problems: list[Problem]) -> list[tuple[int | None, str, str | None]]:
    return [(p.line, p.message, p.hint) for p in problems]


CASES = [
    *(("runbook", n, t, RUNBOOK_PROBLEMS[n]) for n, t in RUNBOOKS.items()),
    *(("inventory", n, t, INVENTORY_PROBLEMS[n]) for n, t in INVENTORIES.items()),
]

# Words that stay in any language: the runbook's and the inventory's own keys and values, names
# of formats and programs.
TERMS = {
    "YAML", "UTF", "Jinja", "OpenSSH", "IANA", "URL", "IP", "ssh_config", "null", "runbook",
    "inventory", "var", "id", "steps", "rollback", "run", "backup", "restore", "check",
    "manual", "put", "http", "https", "websocket", "subprotocol", "expect", "stdout", "stderr",
    "local", "description", "note", "vars", "hosts", "port", "start", "end", "window", "days",
    "name", "title", "exit", "defaults", "groups", "changes", "secrets", "webhook", "release",
    "HH", "MM", "Asia", "Tokyo", "Europe", "Berlin", "UTC", "mon", "tue", "wed", "thu", "fri",
    "sat", "sun",
}  # fmt: skip
# Values and third-party words in the cases: quoted values, paths, patterns, character names,
# and what PyYAML, Jinja, `re`, urllib and the system say.
VALUES = re.compile(
    r"'[^']*'|\"[^\"]*\"|`[^`]*`|\^\S+|\S*[\[\].]\S*|U\+[0-9A-F]{4}(?: [A-Z][A-Z -]*[A-Z])?|"
    r"\bTrue\b|\b0x[0-9a-f]+\b|\b(?:"
    + "|".join(
        (
            "did not find expected ',' or",
            "while parsing a flow sequence",
            "mapping values are not allowed in this context",
            "found character (?:'%' )?that cannot start any token",
            "while scanning for the next token",
            "unacceptable character .*",
            r"missing \), unterminated subpattern at position 0",
            "unterminated character set at position 0",
            "unexpected end of template, expected",
            "Expected an expression, got",
            "Port could not be cast to integer value as",
            "Invalid IPv6 URL",
            "Is a directory",
        )
    )
    + ")",
    re.DOTALL,
)


def english_left(said: str) -> list[str]:
    words = re.findall(r"[A-Za-z_][A-Za-z_0-9]+", VALUES.sub(" ", said))
    return [w for w in words if w not in TERMS]


def keys_said(text: str) -> set[str]:
    """The catalog entries `Words.again` says `text` with, its values' entries too."""
    found = _recorded_match(text)
    if found is None:
        return set()
    key, match = found
    return {key}.union(*(keys_said(v) for v in match.groupdict().values()))


@pytest.mark.parametrize(("kind", "name", "text", "english"), CASES, ids=[c[1] for c in CASES])
def test_the_english_is_what_it_was_and_japanese_leaves_only_values(
    kind: str, name: str, text: str, english: list[Any]
) -> None:
    problems = problems_of(kind, name, text)
    assert by_file(problems) == english
    for problem in problems:
        for said in filter(None, (problem.message, problem.hint)):
            if problem.message.startswith("steps[1].title: U+E002"):
                continue  # a place and a character: nothing of ours to say
            japanese = JA.again(said)
            assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", japanese), said
            assert english_left(japanese) == [], japanese
            assert keys_said(said), said  # said again by a catalog entry, not left as it is


def test_every_entry_is_said_by_some_case(monkeypatch: pytest.MonkeyPatch) -> None:
    said = [p for kind, name, text, _ in CASES for p in problems_of(kind, name, text)]
    said += [p for _, p in yaml_cases(monkeypatch)]
    keys = set().union(*(keys_said(t) for p in said for t in (p.message, p.hint or "")))
    # A YAML error with neither a problem nor a context: PyYAML always gives one of them.
    untested = {"input.yaml.invalid"}
    wanted = {k for k in checking.MESSAGES if k.startswith("input.")} - untested
    assert sorted(wanted - keys) == []


def yaml_cases(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Problem]]:
    """(the English, the problem) of what only reading a file says."""
    found: list[tuple[str, Problem]] = []

    def one(english: str, problems: list[Problem]) -> None:
        assert len(problems) == 1, problems
        found.append((english, problems[0]))

    one("file not found", load_yaml(Path("/nonexistent/hosts.yaml"))[1])
    one("cannot read: Is a directory", load_yaml(Path("/"))[1])
    one("file is larger than 1,000,000 bytes", parse_yaml(b"#" * 1_000_001, "big.yaml")[1])
    one(
        "not UTF-8 text (byte 0xff) (hint: save the file as UTF-8)",
        parse_yaml(b"name: \xff\n", "bin.yaml")[1],
    )
    one(
        "YAML syntax: did not find expected ',' or ']' (while parsing a flow sequence on line 1)",
        parse_yaml(b"steps: [1, 2\n", "flow.yaml")[1],
    )
    with monkeypatch.context() as patched:  # PyYAML's own scanner names the character
        patched.setattr(yamlsrc, "_Loader", yaml.SafeLoader)
        one(
            "YAML syntax: found character '%' that cannot start any token (hint: quote the value)",
            parse_yaml(b"title: %x\n", "percent.yaml")[1],
        )

    def too_deep(*_: object, **__: object) -> None:
        raise RecursionError

    with monkeypatch.context() as patched:
        patched.setattr(yamlsrc.yaml, "compose", too_deep)
        one("YAML is nested too deeply", parse_yaml(b"a: 1\n", "deep.yaml")[1])
    return found


def test_reading_a_file_says_the_same_english_and_japanese(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for english, problem in yaml_cases(monkeypatch):
        assert str(problem).split(": ", 1)[1] == english
        japanese = JA.problems([problem])
        assert english_left(japanese.split(": ", 1)[1]) == [], japanese


def test_a_problem_is_said_in_japanese_word_for_word() -> None:
    said = JA.problems(problems_of("runbook", "logic", RUNBOOKS["logic"])).splitlines()
    assert said[0] == "入力に問題が 15 件あります:"
    assert "  logic.yaml:6: steps にステップ id 'a' が重複しています" in "\n".join(said)
    assert (
        "  logic.yaml:12: ステップ 'two' にアクションが 2 個あります (run, manual)"
        "(ヒント: アクションごとに 1 つのステップに分けてください)"
    ) in said
    types = JA.problems(problems_of("inventory", "types", INVENTORIES["types"]))
    assert "defaults.user は 文字列または null でなければなりません(整数になっています)" in types
    # "must be one of a, b" is not "must be {types}, {found}": more words of its own win.
    assert "days[1] は次のいずれかでなければなりません: mon, tue, wed" in types
    assert "ファイルの最上位に必須のキー 'hosts' がありません" in JA.problems(
        problems_of("inventory", "missing", INVENTORIES["missing"])
    )


def test_every_type_the_schemas_ask_for_is_in_the_catalog() -> None:
    def types(node: Any) -> list[list[str]]:
        if isinstance(node, dict):
            given = node.get("type")
            found = [[given] if isinstance(given, str) else given] if given else []
            return found + [t for v in node.values() for t in types(v)]
        if isinstance(node, list):
            return [t for v in node for t in types(v)]
        return []

    named = {"object": "mapping", "array": "list"}
    for name in ("runbook", "inventory"):
        for allowed in types(load_schema(name)):
            key = "input.type." + "-or-".join(named.get(t, t) for t in allowed)
            assert key in MESSAGES, (name, allowed)
    for name in ("mapping", "list", "string", "integer", "number", "boolean", "null"):
        assert f"input.type.not-{name}" in MESSAGES


def test_the_reserved_character_hint_is_the_markers_one() -> None:
    assert EN("input.text.reserved-hint") == RESERVED_HINT


def test_inv_check_says_the_problems_in_japanese(tmp_path: Path) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "bad.yaml").write_text(RUNBOOKS["logic"])
    (tmp_path / "hosts.yaml").write_text(INVENTORIES["logic"])
    env = {"RUNBOOK_STATE_DIR": str(tmp_path / "state")}
    english = run_cli("check", "--lang", "en", cwd=tmp_path, env=env)
    assert english.returncode == BAD_INPUT, english
    assert (
        "  runbooks/bad.yaml:8: step 'none' has no action (hint: give exactly one of: run, "
        "backup, restore, check, manual, put)"
    ) in english.stderr.splitlines()
    assert "hosts.yaml:9: hosts.web4.window.tz: 'localtime' is not a time zone name" in (
        english.stderr
    )
    japanese = run_cli("check", "--lang", "ja", cwd=tmp_path, env=env)
    assert japanese.returncode == BAD_INPUT, japanese
    assert "Traceback" not in japanese.stderr
    assert "件あります:" in japanese.stderr
    assert "hosts.yaml:9: hosts.web4.window.tz: 'localtime' はタイムゾーンの名前ではありません" in (
        japanese.stderr
    )
    assert "runbooks/bad.yaml:37: rollback のステップ 'up': put は steps で" in japanese.stderr
    problems = [ln for ln in japanese.stderr.splitlines() if ln.startswith("  ")]
    assert len(problems) == len(json.loads(json.dumps(RUNBOOK_PROBLEMS["logic"]))) + 10
    for line in problems:
        assert english_left(line.split(": ", 1)[1]) == [], line


def test_a_step_id_is_never_said_again() -> None:
    """A step id that is a word of the catalog ('none') is not said again: `again` never
    matches a one-word entry."""
    said = JA.problems(problems_of("runbook", "logic", RUNBOOKS["logic"]))
    assert "ステップ 'none' にアクションがありません" in said
