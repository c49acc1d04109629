"""The agent's settings: TOML file, flags on top, checked when read."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwarden.agent.config import AgentConfig, load_config, parse_duration
from hashwarden.cli import app
from hashwarden.errors import DataError, NotFoundError, UsageError
from hashwarden.scan import Limits

FLAGS_NONE = {"paths": (), "bank": None, "report_to": None, "key": None, "state": None}


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "etc" / "agent.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_a_config_file_with_flags_on_top(tmp_path: Path) -> None:
    (tmp_path / "etc" / "key").parent.mkdir()
    (tmp_path / "etc" / "key").write_text("hw_secret\n")
    config = _file(
        tmp_path,
        """
        paths = ["/home", "data"]
        bank = "bank.db"
        report_to = "https://soc.example.org"
        key_file = "key"
        state = "/var/lib/hashwarden-agent"
        sweep_every = "12h"
        max_cpu = 5
        media_roots = ["/media"]
        [limits]
        max_depth = 3
        """,
    )
    found = load_config(config, {**FLAGS_NONE, "sweep_every": "30m", "max_cpu": None})
    assert found.paths == (Path("/home"), tmp_path / "etc" / "data")
    assert found.bank == tmp_path / "etc" / "bank.db"  # relative to the file
    assert found.key == "hw_secret"
    assert found.sweep_every == 1800.0  # the flag wins
    assert found.max_cpu == 5.0
    assert found.media_roots == (Path("/media"),)
    assert found.limits == Limits(max_depth=3)
    assert "hw_secret" not in repr(found)


def test_flags_alone_and_the_key_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHWARDEN_AGENT_KEY", "hw_from_env")
    flags = {
        "paths": (Path("w"),),
        "bank": Path("b.db"),
        "report_to": "http://127.0.0.1:8000",
        "key": None,
        "state": Path("s"),
    }
    monkeypatch.chdir(tmp_path)
    found = load_config(None, flags)
    assert found.key == "hw_from_env" and found.paths == (tmp_path / "w",)
    assert found.sweep_every == 86400.0 and found.max_cpu == 20.0  # the defaults


NEEDED = 'paths = ["/x"]\nbank = "b"\nstate = "s"\nkey = "k"\n'
URL = 'report_to = "http://127.0.0.1:8000"\n'


@pytest.mark.parametrize(
    ("body", "error", "says"),
    [
        (NEEDED, UsageError, "--report-to"),
        (NEEDED + URL + "nonsense = 1", UsageError, "unknown setting 'nonsense'"),
        (NEEDED + 'report_to = "ftp://x"', UsageError, "http"),
        (NEEDED + URL + 'sweep_every = "soon"', UsageError, "sweep_every"),
        (NEEDED + URL + 'max_cpu = "lots"', UsageError, "max_cpu"),
        (NEEDED + URL + "max_cpu = 0", UsageError, "max_cpu"),
        (NEEDED + URL + "[limits]\nmax_depth = -1", UsageError, "max_depth"),
        (NEEDED + URL + "[limits]\nmax_speed = 1", UsageError, "unknown limit"),
        (NEEDED + URL + 'sync_url = "https://x/"', UsageError, "sync_key"),
        ("paths = [", DataError, "not TOML"),
    ],
)
def test_wrong_settings_are_refused_naming_them(
    tmp_path: Path, body: str, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        load_config(_file(tmp_path, body), FLAGS_NONE)


def test_durations() -> None:
    assert parse_duration(90, "x") == 90.0
    assert parse_duration("15m", "x") == 900.0
    assert parse_duration("1.5h", "x") == 5400.0
    assert parse_duration("2d", "x") == 172800.0
    for wrong in ("0", "-1", "1w", True, "400d"):
        with pytest.raises(UsageError):
            parse_duration(wrong, "x")


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no config file"):
        load_config(tmp_path / "none.toml", FLAGS_NONE)
    config = _file(tmp_path, 'key_file = "nowhere"\n')
    with pytest.raises(NotFoundError, match="key file"):
        load_config(config, FLAGS_NONE)


def test_watch_cli_refuses_what_it_cannot_run(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank = tmp_path / "b.db"
    assert cli_runner.invoke(app, ["bank", "init", str(bank)]).exit_code == 0
    no_bank = cli_runner.invoke(app, ["watch", "--state", "s", "--report-to", "http://h"])
    assert no_bank.exit_code == 2 and "hashwarden watch BANK PATH..." in no_bank.output
    no_url = cli_runner.invoke(app, ["watch", str(bank), str(tmp_path), "--state", "s"])
    assert no_url.exit_code == 2 and "--report-to" in no_url.output
    run = ["--state", "s", "--key", "k", "--report-to", "http://127.0.0.1:9"]
    for args, missing in (
        ([str(bank), str(tmp_path / "gone")], "gone"),
        ([str(tmp_path / "none.db"), str(tmp_path)], "none.db"),
    ):
        r = cli_runner.invoke(app, ["watch", *args, *run])
        assert r.exit_code == 4 and missing in r.output and "Traceback" not in r.output, r.output
    no_status = cli_runner.invoke(app, ["watch", "--status", "--state", str(tmp_path)])
    assert no_status.exit_code == 4 and "no agent status" in no_status.output
    needs_state = cli_runner.invoke(app, ["watch", "--status"])
    assert needs_state.exit_code == 2


def test_status_finds_the_state_folder_in_the_config(tmp_path: Path, cli_runner: CliRunner) -> None:
    named = _file(tmp_path, 'state = "run"\npaths = 3\n')  # the rest is not checked
    r = cli_runner.invoke(app, ["watch", "--status", "--config", str(named)])
    assert r.exit_code == 4 and f"no agent status in {tmp_path / 'etc' / 'run'}" in r.output, (
        r.output
    )
    unnamed = _file(tmp_path, 'bank = "b.db"\n')
    r = cli_runner.invoke(app, ["watch", "--status", "--config", str(unnamed)])
    assert r.exit_code == 2 and "names no state folder" in r.output, r.output


def test_agent_config_checks_itself() -> None:
    with pytest.raises(UsageError, match="PATH"):
        AgentConfig((), Path("b"), "http://h", "k", Path("s"))
    with pytest.raises(UsageError, match="nice"):
        AgentConfig((Path("/x"),), Path("b"), "http://h", "k", Path("s"), nice=40)
