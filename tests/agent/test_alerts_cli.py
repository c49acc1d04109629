"""`hashwarden alerts list` and `alerts agents` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hashwarden.bank import Bank
from hashwarden.cli import app
from hashwarden.service.alerts import AlertIn, AlertStore, HeartbeatIn

from ..service.test_alerts import alert


def _store(bank: Bank) -> None:
    store = AlertStore(bank)
    store.add(AlertIn(**alert("k-0000000000000001")), key_name="agents", central={})
    second = alert("k-0000000000000002", agent="desktop-2", path="/media/usb/x.zip!a.png")
    store.add(AlertIn(**second), key_name="agents", central={})
    store.decide(1, "closed", who="soc", note="done")
    store.heartbeat(HeartbeatIn(agent="desktop-2", host="desktop-2.example.org"), key_name="a")


def test_alerts_list_prints_and_filters(bank: Bank, cli_runner: CliRunner) -> None:
    _store(bank)
    location = str(bank.location)
    shown = cli_runner.invoke(app, ["alerts", "list", location])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.strip().splitlines()
    assert len(lines) == 2
    assert "/home/alice/Downloads/IMG_0001.jpg" in lines[0] and "closed" in lines[0]
    assert "/media/usb/x.zip!a.png" in lines[1] and "open" in lines[1]
    assert "sha256=" + "ab" * 32 in lines[1]
    as_json = cli_runner.invoke(app, ["alerts", "list", location, "--status", "open", "--json"])
    (only,) = [json.loads(line) for line in as_json.output.splitlines()]
    assert only["agent"] == "desktop-2" and only["matches"][0]["distance"] == 4
    by_agent = cli_runner.invoke(app, ["alerts", "list", location, "--agent", "nope"])
    assert by_agent.output.strip() == "no alerts"


def test_alerts_list_refuses_bad_input(bank: Bank, cli_runner: CliRunner, tmp_path: Path) -> None:
    location = str(bank.location)
    bad_status = cli_runner.invoke(app, ["alerts", "list", location, "--status", "x"])
    assert bad_status.exit_code == 2 and "status" in bad_status.output
    bad_time = cli_runner.invoke(app, ["alerts", "list", location, "--since", "May"])
    assert bad_time.exit_code == 2 and "--since" in bad_time.output
    missing = cli_runner.invoke(app, ["alerts", "list", str(tmp_path / "none.db")])
    assert missing.exit_code == 4


def test_alerts_agents_lists_each_agent(bank: Bank, cli_runner: CliRunner) -> None:
    _store(bank)
    shown = cli_runner.invoke(app, ["alerts", "agents", str(bank.location)])
    assert shown.exit_code == 0, shown.output
    assert "desktop-2  desktop-2.example.org" in shown.output and "live" in shown.output
