"""The pure core: imports, schema agreement, loader robustness, dry run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from runbook.core import schema
from runbook.core.inventory import inventory_from_source
from runbook.core.load import runbook_from_source
from runbook.core.yamlsrc import parse_yaml
from runbook.errors import InputError

from .conftest import ROOT, make_config_clone, run_cli

CORE = [
    "runbook.core.load",
    "runbook.core.render",
    "runbook.core.model",
    "runbook.core.markdown",
    "runbook.core.schema",
    "runbook.core.yamlsrc",
    "runbook.core.scripts",
    "runbook.commands",
    "runbook.journal",
]


def test_core_modules_import_no_network_library() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in CORE)
        + "libs = ('fabric', 'paramiko', 'invoke', 'websockets')\n"
        "print(','.join(m for m in libs if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_check_show_and_dry_run_do_not_import_fabric_or_paramiko(tmp_path: Path) -> None:
    make_config_clone(tmp_path / "web_server")  # the shipped runbook pins its commit from it
    clone = f"config_clone={tmp_path / 'web_server'}"
    code = (
        "import sys\nfrom pathlib import Path\nfrom runbook import commands\n"
        f"o = commands.Options(host='prod', project=Path({str(ROOT)!r}), vars=({clone!r},))\n"
        "commands.check(o); commands.show(o)\n"
        "from runbook.console import Console\nimport io\n"
        "commands.release(o, commands.RunOptions(dry_run=True), Console(io.StringIO()))\n"
        "print(','.join(m for m in ('fabric', 'paramiko') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


# --- the published schema and the validator agree --------------------------------------------


def _agree(data: object, name: str) -> None:
    ours = not schema.validate(data, name)
    theirs = jsonschema.Draft202012Validator(schema.load_schema(name)).is_valid(data)
    assert ours == theirs, f"{name}: ours={ours} jsonschema={theirs} for {data!r}"


def test_published_schemas_are_valid_json_schema() -> None:
    for name in ("runbook", "inventory"):
        jsonschema.Draft202012Validator.check_schema(schema.load_schema(name))
        unknown = _keywords(schema.load_schema(name)) - schema.SUPPORTED
        assert not unknown, f"validator does not implement {unknown}"


def _keywords(node: object, inside_properties: bool = False) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if not inside_properties:
                found.add(key)
            found |= _keywords(value, key in ("properties", "$defs") and not inside_properties)
    elif isinstance(node, list):
        for item in node:
            found |= _keywords(item)
    return found


def _parsed_corpus() -> list[tuple[str, object]]:
    """The bad corpus and the shipped files that are valid YAML (the rest never reach a schema)."""
    files = [
        *sorted((ROOT / "tests" / "bad").glob("*.yaml")),
        ROOT / "runbooks" / "nginx-websocket.yaml",
        ROOT / "hosts.yaml",
    ]
    parsed = [(f.name, parse_yaml(f.read_bytes(), f.name)[0]) for f in files]
    return [(name, source.data) for name, source in parsed if source is not None]


@pytest.mark.parametrize(
    ("name", "data"), _parsed_corpus(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_validator_agrees_with_jsonschema_on_the_corpus(name: str, data: object) -> None:
    _agree(data, "inventory" if name.endswith("hosts.yaml") else "runbook")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 70000)
    | st.floats(allow_nan=False, width=16)
    | st.sampled_from(["", "x", "Demo", "demo", "true", "ws://h/c", "a-b"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "id",
                    "run",
                    "steps",
                    "check",
                    "http",
                    "url",
                    "status",
                    "sudo",
                    "retries",
                    "hosts",
                    "port",
                    "vars",
                    "websocket",
                    "expect",
                    "exit",
                    "timeout",
                    "backup",
                    "tittle",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=json_values)
def test_validator_agrees_with_jsonschema_on_random_documents(data: object) -> None:
    _agree(data, "runbook")
    _agree(data, "inventory")


# --- the loader never crashes ------------------------------------------------------------------

yaml_text = st.recursive(
    st.sampled_from(
        [
            "a",
            "'x'",
            "1",
            "-",
            ":",
            "{",
            "}",
            "[",
            "]",
            "&a",
            "*a",
            "!!str",
            "|",
            ">",
            "#",
            "\t",
            "? ",
            "<<: *a",
            "%YAML 1.1",
            "---",
            "...",
            '"\\u0000"',
            "{{ x }}",
            "{% if %}",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=6).map(" ".join)
        | st.lists(inner, max_size=6).map("\n".join)
        | st.lists(inner, max_size=4).map(lambda xs: "\n".join("  " + x for x in xs))
    ),
    max_leaves=30,
)


def _load_both(raw: bytes) -> None:
    source, problems = parse_yaml(raw, "fuzz.yaml")
    if source is None:
        assert problems and all(p.file == "fuzz.yaml" for p in problems)
        return
    runbook_from_source(source, list(problems))
    inventory_from_source(source, list(problems), base=Path("."))


@settings(max_examples=400, deadline=None)
@given(text=yaml_text)
def test_loader_gives_a_model_or_problems_for_any_yaml(text: str) -> None:
    _load_both(text.encode("utf-8"))


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=400))
def test_loader_gives_a_model_or_problems_for_any_bytes(raw: bytes) -> None:
    _load_both(raw)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=json_values)
@example(data={"steps": [{"run": None}]})  # once a KeyError: a step without id was still built
def test_any_document_renders_or_gives_problems(data: object) -> None:
    from runbook.core.model import Host
    from runbook.core.plan import make_plan

    raw = yaml.safe_dump(data).encode()
    source, problems = parse_yaml(raw, "fuzz.yaml")
    if source is None:
        return
    runbook = runbook_from_source(source, problems)
    if runbook is None:
        assert problems
        return
    try:
        make_plan(runbook, Host(name="h", address="h"), "hosts.yaml")
    except InputError as exc:
        assert exc.problems


def test_deep_nesting_is_a_problem_not_a_crash() -> None:
    source, problems = parse_yaml(b"[" * 5000 + b"]" * 5000, "deep.yaml")
    assert source is None and "nest" in problems[0].message


# --- the CLI without a host ------------------------------------------------------------------


def test_dry_run_prints_quoted_values_and_digest_and_never_connects(tmp_path: Path) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "r.yaml").write_text(
        "name: r\nsteps:\n  - {id: co, run: 'git checkout {{ branch }}'}\n"
    )
    # A host that would hang if anything tried to connect: a blackhole address.
    (tmp_path / "hosts.yaml").write_text("hosts:\n  far: {address: 192.0.2.1, port: 9}\n")
    done = run_cli(
        "release",
        "--host",
        "far",
        "--dry-run",
        "--var",
        "branch=x; rm -rf /",
        cwd=tmp_path,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    assert "git checkout 'x; rm -rf /'" in done.stdout
    assert "digest sha256:" in done.stdout
    assert "connecting" not in done.stdout


def test_release_without_terminal_or_yes_refuses_before_connecting(tmp_path: Path) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "r.yaml").write_text("name: r\nsteps:\n  - {id: a, run: 'true'}\n")
    (tmp_path / "hosts.yaml").write_text("hosts:\n  far: {address: 192.0.2.1, port: 9}\n")
    done = run_cli("release", "--host", "far", cwd=tmp_path, timeout=20)
    assert done.returncode == 2
    assert "no terminal" in done.stderr and "--yes" in done.stderr
    assert "connecting" not in done.stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """`--var config_clone=...`: the checkout the shipped runbook pins its commit from."""
    repo = tmp_path_factory.mktemp("operator") / "web_server"
    make_config_clone(repo)
    return "--var", f"config_clone={repo}"


def test_show_prints_the_review_for_prod_in_both_languages(clone: tuple[str, str]) -> None:
    done = run_cli(
        "show",
        *clone,
        "--host",
        "prod",
        "--window",
        "2024-04-16 21:00-22:00 JST",
        "--operator",
        "Sato",
        "--operator",
        "Suzuki",
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for expected in (
        "# Let WebSocket upgrades through nginx",
        "2024-04-16 21:00-22:00 JST",
        "Sato, Suzuki",
        "nginx -s reload",
        "## Rollback",
        "sha256:",
        "- [ ] done",
        "| prod | web.example.com | deploy | 22 |",
        "## What changes",  # the nginx.conf diff of the pinned commit
        "+    proxy_http_version 1.1;",
        "git -C /srv/web_server checkout --detach",
    ):
        assert expected in out
    ja = run_cli("show", *clone, "--host", "prod", "--lang", "ja", cwd=ROOT)
    assert ja.returncode == 0 and "## 切り戻し手順" in ja.stdout and "作業時間帯" in ja.stdout
    assert "## 変更内容" in ja.stdout


def test_approved_digest_is_enforced(clone: tuple[str, str]) -> None:
    done = run_cli(
        "release", *clone, "--host", "prod", "--yes", "--approved", "deadbeef" * 8, cwd=ROOT
    )
    assert done.returncode == 2 and "not the approved one" in done.stderr
    short = run_cli(
        "release", *clone, "--host", "prod", "--yes", "--approved", "deadbeefdeadbeef", cwd=ROOT
    )
    assert short.returncode == 2 and "64 hex digits" in short.stderr
    needs = run_cli("release", *clone, "--host", "prod", "--yes", cwd=ROOT)
    assert needs.returncode == 2 and "requires --approved" in needs.stderr


def test_unknown_host_suggests_the_nearest(tmp_path: Path) -> None:
    done = run_cli("show", "--host", "prd", cwd=ROOT)
    assert done.returncode == 2 and "did you mean 'prod'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_group_is_approved_by_the_digest_show_gives_it(clone: tuple[str, str]) -> None:
    review = run_cli("show", *clone, "--host", "web", cwd=ROOT)
    group = review.stdout.split("\n# Digest for web\n", 1)[1].split("`sha256:", 1)[1][:64]
    ok = run_cli("release", *clone, "--host", "web", "--dry-run", "--approved", group, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert f"digest of all 2 hosts sha256:{group}" in ok.stdout
    one_host = review.stdout.split("`sha256:", 1)[1][:64]  # web1's own digest
    refused = run_cli(
        "release", *clone, "--host", "web", "--dry-run", "--approved", one_host, cwd=ROOT
    )
    assert refused.returncode == 2 and "not the approved one" in refused.stderr


def test_a_mistyped_var_is_refused_not_silently_ignored() -> None:
    done = run_cli("release", "--host", "prod", "--dry-run", "--var", "brnch=x", cwd=ROOT)
    assert done.returncode == 2
    assert "'brnch' is not a var" in done.stderr and "did you mean 'branch'" in done.stderr


def test_the_runbook_command_names_itself_in_hints(tmp_path: Path) -> None:
    from .conftest import VENV_BIN

    done = subprocess.run(
        [str(VENV_BIN / "runbook"), "rollback"],
        cwd=tmp_path,
        text=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        check=False,
        env={**__import__("os").environ, "RUNBOOK_STATE_DIR": str(tmp_path)},
    )
    assert done.returncode == 2
    assert "runbook history" in done.stderr and "inv history" not in done.stderr
