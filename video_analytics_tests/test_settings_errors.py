"""Settings a deployment gets wrong fail early, in one message that names the setting to fix."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest

from video_analytics.definitions import build_definitions
from video_analytics.settings import Settings, SettingsError, env_number
from video_analytics_tests.support import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
SECRETS = {
    "BRIGHTCOVE_CLIENT_ID": "brightcove",
    "BRIGHTCOVE_CLIENT_SECRET": "brightcove",
    "DM_CLIENT_API": "dailymotion",
    "DM_CLIENT_SECRET": "dailymotion",
    "WISTIA_API_TOKEN": "wistia",
    "TMDB_API_KEY": "tmdb",
    "AGORA_LOG_ROOT": "agora_logs",
}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "WISTIA_REQUESTS_PER_MINUTE='abc' is not a number; set a number above 0, or unset it"),
        ("0", "WISTIA_REQUESTS_PER_MINUTE='0' must be above 0"),
        ("nan", "WISTIA_REQUESTS_PER_MINUTE='nan' must be above 0"),
    ],
)
def test_a_bad_request_pace_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("WISTIA_REQUESTS_PER_MINUTE", value)
    with pytest.raises(SettingsError) as error:
        build_definitions(Settings.from_env())
    assert str(error.value).startswith(message)


def test_numbers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WISTIA_REQUESTS_PER_MINUTE", " 120.5 ")
    assert build_definitions(Settings.from_env()).resources["wistia"].requests_per_minute == 120.5
    monkeypatch.setenv("AGORA_DEMO_LINES", "1.5")
    with pytest.raises(SettingsError, match=r"AGORA_DEMO_LINES='1\.5' is not a whole number"):
        env_number("AGORA_DEMO_LINES", integer=True)
    monkeypatch.delenv("AGORA_DEMO_LINES")
    assert env_number("AGORA_DEMO_LINES", integer=True) is None


@pytest.fixture
def no_secrets(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [*SECRETS, "TMDB_READ_ACCESS_TOKEN"]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_production_without_credentials_fails_at_load_naming_each_variable(
    no_secrets: pytest.MonkeyPatch,
) -> None:
    no_secrets.setenv("BRIGHTCOVE_CLIENT_ID", "set-but-the-secret-is-not")
    with pytest.raises(SettingsError) as error:
        build_definitions(Settings.from_env(profile="production"))
    message = str(error.value)
    assert message.startswith("VIDEO_ANALYTICS_PROFILE=production: unset environment variables")
    for name, resource in SECRETS.items():
        if name != "BRIGHTCOVE_CLIENT_ID":
            assert f"{name}" in message and f"(resource {resource!r})" in message
    assert "BRIGHTCOVE_CLIENT_ID" not in message and "set-but-the-secret-is-not" not in message
    assert "VIDEO_ANALYTICS_SECRETS_CHECK=run" in message


def test_production_with_credentials_loads_and_the_check_can_wait_for_launch(
    no_secrets: pytest.MonkeyPatch,
) -> None:
    build_definitions(Settings.from_env(profile="sandbox"))  # the sandbox supplies its own at start
    build_definitions(Settings.from_env(profile="production", secrets_check="run"))
    for name in SECRETS:
        no_secrets.setenv(name, f"value-of-{name}")
    defs = build_definitions(Settings.from_env(profile="production"))
    assert isinstance(defs.resources["brightcove"].client_secret, dg.EnvVar)  # still resolved at run time


def test_a_bad_secrets_check_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEO_ANALYTICS_SECRETS_CHECK", "never")
    with pytest.raises(SettingsError, match="VIDEO_ANALYTICS_SECRETS_CHECK='never' is not one of load, run"):
        Settings.from_env()


def test_unreachable_postgres_is_one_message_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real connection to a loopback port nobody listens on (Dagster's own retries included; their
    back-off sleeps are recorded, not waited: seconds of nothing)."""
    import dagster_postgres.utils

    waits: list[float] = []
    monkeypatch.setattr(dagster_postgres.utils, "time", SimpleNamespace(sleep=waits.append))
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    port = free_port()
    monkeypatch.setenv("VIDEO_ANALYTICS_PG_URL", f"postgresql://analytics:hunter2@127.0.0.1:{port}/runs")
    with pytest.raises(SettingsError) as error:
        dg.DagsterInstance.get()
    message = str(error.value)
    assert message.startswith(
        f"VIDEO_ANALYTICS_PG_URL: cannot use the PostgreSQL instance storage at "
        f"postgresql://analytics:***@127.0.0.1:{port}/runs: connection to server at"
    )
    assert "Connection refused" in message and "unset it to keep runs in SQLite" in message
    assert "hunter2" not in message and "\n" not in message
    assert error.value.__suppress_context__  # no 60-line chain of retries behind it
    assert len(waits) >= 5, "Dagster retried the connection before giving up"
