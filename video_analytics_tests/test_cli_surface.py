"""What `video-analytics --help`, `--version` and `ui` show a user before anything runs."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from video_analytics import cli


def test_every_command_and_argument_has_a_help_text() -> None:
    root = cli.parser()
    (commands,) = [a for a in root._actions if isinstance(a, argparse._SubParsersAction)]
    missing = []
    for name, sub in commands.choices.items():
        if not next((c.help for c in commands._choices_actions if c.dest == name), None):
            missing.append(name)
        missing += [f"{name} {a.dest}" for a in sub._actions if not a.help and a.dest != "help"]
    assert missing == []


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("video-analytics ") and out.strip() != "video-analytics"


QUIET_CHECK = """
import dagster._cli.dev as dev
dev.dev_command_impl = lambda *args, **kwargs: print("started")
dev.dev_command.main(args=["-m", "video_analytics.definitions"], standalone_mode=False)
"""


@pytest.mark.parametrize("quiet", [False, True])
def test_dagster_dev_superseded_warning_is_silenced_by_the_ui_filter(quiet: bool) -> None:
    """The real `dagster dev` command up to its start, with and without the filter `ui` sets."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    if quiet:
        env["PYTHONWARNINGS"] = cli.QUIET_DAGSTER_DEV
    done = subprocess.run([sys.executable, "-c", QUIET_CHECK], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and "started" in done.stdout, done.stderr
    assert ("superseded" in done.stderr) is not quiet


def test_ui_starts_dagster_dev_in_dagster_home_with_the_lake_where_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dagster dev` warns when a dagster.yaml sits in its working folder but DAGSTER_HOME is elsewhere
    (the repo root has one): `ui` starts it in DAGSTER_HOME. The sandbox is replaced by an empty
    stand-in here: only the launch is under test (`test_demo_cli` serves the real webserver)."""
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # as in the repo root
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", "./data")
    monkeypatch.delenv("VIDEO_ANALYTICS_PROFILE", raising=False)
    launched: dict = {}

    class NoSandbox:
        def __enter__(self) -> NoSandbox:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def env(self) -> dict[str, str]:
            return {}

    monkeypatch.setattr("video_analytics.sandbox.Sandbox", lambda: NoSandbox())
    monkeypatch.setattr(cli, "sandbox_env", dict)
    monkeypatch.setattr(cli.subprocess, "call", lambda command, **kw: launched.update(command=command, **kw))
    cli.main(["ui", "--port", "3999"])
    assert launched["cwd"] == tmp_path / "home" and (tmp_path / "home" / "dagster.yaml").exists()
    assert launched["env"]["VIDEO_ANALYTICS_DATA_DIR"] == str(tmp_path / "data")
    assert cli.QUIET_DAGSTER_DEV in launched["env"]["PYTHONWARNINGS"]
    command = launched["command"]
    assert command[1:5] == ["dev", "-m", "video_analytics.definitions", "-d"] and command[5] == str(tmp_path)
    assert command[-4:] == ["-h", "127.0.0.1", "-p", "3999"]
