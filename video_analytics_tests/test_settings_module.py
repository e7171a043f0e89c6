"""One settings entry point: only `settings.py` reads the environment, and the docs list what it reads."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from video_analytics import settings as settings_module
from video_analytics.settings import (
    SECRETS,
    VARIABLE_NAMES,
    Settings,
    SettingsError,
    markdown_table,
)

PACKAGE = Path(settings_module.__file__).parent
REPO = PACKAGE.parent
#: May touch os.environ: the settings module; the CLI and the sandbox, which set the environment of
#: the processes they start (`dagster dev`, the demo's runs).
ALLOWED = {"settings.py", "cli.py"}
ALLOWED_PACKAGES = {"sandbox"}


def environment_reads(source: str) -> list[int]:
    """Lines that touch `os.environ` / `os.getenv` (also `from os import environ, getenv`)."""
    names = {"environ", "getenv", "environb"}
    lines = []
    for node in ast.walk(ast.parse(source)):
        attribute = isinstance(node, ast.Attribute) and node.attr in names
        if attribute and isinstance(node.value, ast.Name) and node.value.id == "os":
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            lines.extend(node.lineno for alias in node.names if alias.name in names)
    return sorted(lines)


def module_level_calls(source: str, name: str) -> list[int]:
    """Lines calling `<anything>.name(...)` or `name(...)` outside any function body."""
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for evaluated_at_import in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
                if evaluated_at_import is not None:
                    visit(evaluated_at_import)
            return  # the body runs later, not at import
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called == name:
                found.append(node.lineno)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def production_modules() -> list[Path]:
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] not in ALLOWED_PACKAGES
        and str(path.relative_to(PACKAGE)) not in ALLOWED
    ]


def test_the_scan_finds_what_it_looks_for():
    assert environment_reads("import os\nx = os.environ.get('A')\ny = os.getenv('B')\n") == [2, 3]
    assert environment_reads("from os import environ\n") == [1]
    assert environment_reads("import os\npath = os.path.join('a', 'b')\n") == []
    source = "s = Settings.from_env()\ndef f():\n    return Settings.from_env()\n"
    assert module_level_calls(source, "from_env") == [1]
    decorated = "@sensor(status=Settings.from_env().profile)\ndef g(x=Settings.from_env()):\n    pass\n"
    assert module_level_calls(decorated, "from_env") == [1, 2]


def test_only_the_settings_module_reads_the_environment():
    offenders = [
        f"{path.relative_to(REPO)}:{line}"
        for path in production_modules()
        for line in environment_reads(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "read it in video_analytics/settings.py (and list it in VARIABLES)"


def test_no_module_reads_the_settings_when_imported():
    """Assets, sensors and partitions are declared without the environment; only the code location's
    `defs = build_definitions()` reads it, when Dagster loads it."""
    offenders = [
        f"{path.relative_to(REPO)}:{line}"
        for path in production_modules()
        if path != PACKAGE / "definitions.py"
        for line in module_level_calls(path.read_text(encoding="utf-8"), "from_env")
    ]
    assert offenders == []


def test_every_name_the_settings_module_reads_is_listed():
    source = (PACKAGE / "settings.py").read_text(encoding="utf-8")
    readers = {"text", "optional", "is_set", "choice", "date", "number", "json", "storage", "_rate"}
    read = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        called = getattr(node.func, "attr", getattr(node.func, "id", None))
        position = 1 if called == "_rate" else 0  # _rate(env, name, unit)
        if called in readers and len(node.args) > position:
            name = node.args[position]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                read.add(name.value)
    assert len(read) > 40 and read <= VARIABLE_NAMES, read - VARIABLE_NAMES
    with pytest.raises(KeyError, match=r"NOT_A_SETTING is not in video_analytics\.settings\.VARIABLES"):
        settings_module._Env({}).text("NOT_A_SETTING")


def test_every_env_var_a_resource_takes_is_documented():
    documented = VARIABLE_NAMES | {secret.name for secret in SECRETS}
    taken = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            is_env_var = isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "EnvVar"
            if is_env_var and node.args and isinstance(node.args[0], ast.Constant):
                taken.add(node.args[0].value)
    assert {"BRIGHTCOVE_CLIENT_SECRET", "DM_CLIENT_API", "WISTIA_API_TOKEN", "REDSHIFT_HOST"} <= taken
    assert taken <= documented, taken - documented


def test_the_operations_page_lists_every_setting():
    page = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    table = re.search(r"<!-- settings table:.*?-->\n(.*?)<!-- end of settings table -->", page, re.S)
    assert table, "docs/operations.md lost its settings table markers"
    listed = set(re.findall(r"^\| [^|]+ \| `([A-Z0-9_<>]+)` \|", table.group(1), re.M))
    assert listed == VARIABLE_NAMES | {secret.name for secret in SECRETS}
    assert table.group(1) == markdown_table(), (
        "regenerate the table: python -c 'from video_analytics.settings import markdown_table; "
        "print(markdown_table())'"
    )


def test_settings_are_typed_per_source_and_hold_no_secret():
    environ = {
        "VIDEO_ANALYTICS_START_DATE": "2024-02-01",
        "BRIGHTCOVE_ACCOUNTS": '{"news": 7}',
        "DM_BASE_URL": "http://127.0.0.1:1",
        "TMDB_REQUESTS_PER_SECOND": "5",
        "TMDB_READ_ACCESS_TOKEN": "token-value",
        "WISTIA_REQUESTS_PER_MINUTE": "60",
        "AGORA_LOG_STORAGE_OPTIONS": '{"anon": true}',
        "AGORA_DEMO_LINES": "2000",
        "REDSHIFT_PORT": "5432",
        "REDSHIFT_PASSWORD": "hunter2",
        "VIDEO_ANALYTICS_STORAGE_TMDB": "BigQuery+Parquet",
    }
    settings = Settings.from_env(environ, data_dir="/lake")
    assert settings.start_date == "2024-02-01" and settings.data_dir == "/lake"
    assert settings.brightcove.accounts == {"news": "7"} and settings.brightcove.cms_url is None
    assert settings.dailymotion.base_url == "http://127.0.0.1:1"
    assert settings.tmdb.requests_per_second == 5.0 and settings.tmdb.has_read_access_token
    assert settings.wistia.requests_per_minute == 60.0 and settings.wistia.redshift_schema == "wistia"
    assert settings.agora.log_storage_options == {"anon": "True"} and settings.agora.demo_lines == 2000
    assert settings.redshift.port == 5432 and settings.redshift.has_password
    assert settings.storage_for("tmdb") == ("bigquery", True)
    assert "token-value" not in repr(settings) and "hunter2" not in repr(settings)
    assert Settings.from_env({}) == Settings()  # the defaults are the empty environment's


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("REDSHIFT_PORT", "x", "REDSHIFT_PORT='x' is not a whole number; set a whole number above 0"),
        ("REDSHIFT_DIALECT", "mysql", "REDSHIFT_DIALECT='mysql' is not one of redshift, postgres"),
        ("AGORA_LOG_STORAGE_OPTIONS", "[1]", "AGORA_LOG_STORAGE_OPTIONS must be a JSON object of fsspec"),
        ("AGORA_DEMO_LINES", "-5", "AGORA_DEMO_LINES='-5' must be above 0"),
        ("TMDB_REQUESTS_PER_SECOND", "0", "TMDB_REQUESTS_PER_SECOND='0' is not a positive number"),
        ("VIDEO_ANALYTICS_STORAGE_WISTIA", "s3", "VIDEO_ANALYTICS_STORAGE_WISTIA='s3' is not one of parquet"),
    ],
)
def test_a_bad_source_setting_names_its_variable(name, value, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env({name: value})
