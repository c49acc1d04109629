"""ThreatExchange (Meta's Graph API) and Tech Against Terrorism fetched with
python-threatexchange's own clients against loopback servers speaking their APIs: the named
bank, kinds, tags and record ids a fetch brings; the checkpoint a later fetch resumes from;
deletions; the credential kept out of the bank, logs and messages; a failing server named with
exit 8 and nothing applied lost. Hashes are random, benign values."""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import typing as t
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwarden.bank import create_bank, open_bank
from hashwarden.cli import app
from hashwarden.exchange.programmes import ProgrammeExchanges

from .tat_server import JWT, Record, tat_server
from .tat_server import PASSWORD as TAT_PASSWORD
from .test_programmes import _adder
from .threatexchange_server import TOKEN, Update, threatexchange_server

_RANDOM = random.Random(20261201)
PDQS = [f"{_RANDOM.getrandbits(256):064x}" for _ in range(3)]
MD5S = [f"{_RANDOM.getrandbits(128):032x}" for _ in range(4)]
SHA256 = f"{_RANDOM.getrandbits(256):064x}"
GROUP = 4242
#: The secret part of the app token (the app id before `|` is no secret).
TOKEN_SECRET = TOKEN.partition("|")[2]


def _members(path: Path, named: str) -> set[str]:
    with open_bank(path) as bank:
        rows = bank.db.query("SELECT entry_id FROM named_bank_entries WHERE bank = ?", (named,))
        entries = bank.entries.by_id([int(r[0]) for r in rows])
        return {e.signals[0].value for e in entries.values()}


def _stored(path: Path) -> str:
    """Every row of every table of a bank, as text."""
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = [list(r) for table in tables for r in conn.execute(f'SELECT * FROM "{table}"')]
    return json.dumps(rows, default=str)


def _secrets_absent(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text
        assert secret.replace("|", "%7C") not in text


# --- ThreatExchange -------------------------------------------------------------------------


def _tx_add(cli_runner: CliRunner, bank: str) -> None:
    assert cli_runner.invoke(app, ["bank", "init", bank]).exit_code == 0
    add = ["exchange", "add", bank, "tx", "--api", "threatexchange", "-c", "B"]
    r = cli_runner.invoke(
        app, [*add, "--set", f"privacy_group={GROUP}", "--credentials-env", "HW_TEST_TX"]
    )
    assert r.exit_code == 0, r.output


def test_threatexchange_fetch_fills_the_named_bank_resumes_and_applies_deletions(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli_runner: CliRunner,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    bank = str(tmp_path / "b.db")
    with threatexchange_server(monkeypatch, GROUP) as server:
        server.updates = [
            Update(PDQS[0], "HASH_PDQ", 1_700_000_100, ["hw_test_a", "hw_test_b"]),
            Update(MD5S[0], "HASH_VIDEO_MD5", 1_700_000_200, ["hw_test_a"]),
            Update(MD5S[1], "HASH_MD5", 1_700_000_300, ["media_type_video"]),
            Update(MD5S[2], "HASH_MD5", 1_700_000_310, ["media_type_photo"]),  # not a video's
            Update("https://example.org/x", "URI", 1_700_000_320, ["hw_test_a"]),
        ]
        _tx_add(cli_runner, bank)
        r = cli_runner.invoke(app, ["exchange", "fetch", bank, "tx"])
        assert r.exit_code == 0, r.output
        assert "3 new entries" in r.stderr and "0 removed" in r.stderr, r.output
        assert "skipped 1 HASH_MD5, 1 URI" in r.stderr, r.output  # a photo's MD5, a URL
        assert _members(tmp_path / "b.db", "tx") == {PDQS[0], MD5S[0], MD5S[1]}
        with open_bank(tmp_path / "b.db") as opened:
            by_value = {e.signals[0].value: e for e in opened.entries.all()}
            checkpoint = ProgrammeExchanges(opened).get("tx").checkpoint
        pdq = by_value[PDQS[0]]
        assert (pdq.signals[0].kind, pdq.category, pdq.source) == ("pdq", "csam-b", "exchange:tx")
        assert pdq.extra["exchange:tx"] == {
            "id": f"HASH_PDQ {PDQS[0]}",
            "tags": ["hw_test_a", "hw_test_b"],
        }
        assert by_value[MD5S[1]].signals[0].kind == "md5"
        assert by_value[MD5S[1]].extra["exchange:tx"]["id"] == f"HASH_MD5 {MD5S[1]}"
        assert checkpoint is not None and checkpoint["update_time"] == 1_700_000_320
        first = list(server.requests)
        assert "start_time" not in first[0] and any(q.get("after") for q in first)

        # ThreatExchange deletes the first MD5 and adds a PDQ after the checkpoint
        server.updates += [
            Update(MD5S[0], "HASH_VIDEO_MD5", 1_700_000_400, deleted=True),
            Update(PDQS[1], "HASH_PDQ", 1_700_000_500, ["hw_test_c"]),
        ]
        asked = len(server.requests)
        r = cli_runner.invoke(app, ["exchange", "fetch", bank, "tx"])
        assert r.exit_code == 0, r.output
        assert "1 removed" in r.stderr, r.output
        assert _members(tmp_path / "b.db", "tx") == {PDQS[0], PDQS[1], MD5S[1]}
        resumed = server.requests[asked:]
        assert resumed[0]["start_time"] == "1700000320"
        assert all(q["access_token"] == TOKEN for q in server.requests)  # the client sent it
        with open_bank(tmp_path / "b.db") as opened:
            assert opened.verify().ok
        # pytx 1.2's ThreatExchange API takes no opinions: refused before any request
        asked = len(server.requests)
        vote = ["exchange", "vote", bank, "tx", "--kind", "pdq", "--value", PDQS[0], "--confirm"]
        r = cli_runner.invoke(app, vote)
        assert r.exit_code == 2 and "takes no confirmations" in r.output, r.output
        assert len(server.requests) == asked
    _secrets_absent(_stored(tmp_path / "b.db") + caplog.text + r.output, TOKEN_SECRET)


def test_an_empty_threatexchange_group_is_an_empty_fetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli_runner: CliRunner
) -> None:
    """Graph answers `{"data": []}` when nothing is there (yet): python-threatexchange 1.2's
    fetch asserts every page has updates; a fetch with nothing new is no failure."""
    bank = str(tmp_path / "b.db")
    with threatexchange_server(monkeypatch, GROUP) as server:
        _tx_add(cli_runner, bank)
        r = cli_runner.invoke(app, ["exchange", "fetch", bank, "tx"])
        assert r.exit_code == 0 and "0 records" in r.stderr, r.output
        server.updates = [Update(PDQS[0], "HASH_PDQ", 1_700_000_100, ["hw_test_a"])]
        r = cli_runner.invoke(app, ["exchange", "fetch", bank, "tx"])
        assert r.exit_code == 0 and "1 new entries" in r.stderr, r.output
        assert len(server.requests) == 2


@pytest.mark.parametrize("failure", [500, b"<html>not json</html>"])
def test_a_failing_threatexchange_is_exit_8_and_keeps_what_was_applied(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli_runner: CliRunner,
    caplog: pytest.LogCaptureFixture,
    failure: int | bytes,
) -> None:
    caplog.set_level(logging.DEBUG)
    bank = str(tmp_path / "b.db")
    with threatexchange_server(monkeypatch, GROUP) as server:
        server.updates = [
            Update(PDQS[0], "HASH_PDQ", 1_700_000_100),
            Update(MD5S[0], "HASH_VIDEO_MD5", 1_700_000_200),
            Update(PDQS[1], "HASH_PDQ", 1_700_000_300),
        ]
        _tx_add(cli_runner, bank)
        server.failure, server.fail_after = failure, 1  # the first page, then the failure
        r = cli_runner.invoke(app, ["exchange", "fetch", bank, "tx"])
        assert r.exit_code == 8, r.output
        assert "exchange tx: fetch failed" in r.output
        assert "Traceback" not in r.output
        assert _members(tmp_path / "b.db", "tx") == {PDQS[0], MD5S[0]}  # the first page kept
        _secrets_absent(r.output + caplog.text + _stored(tmp_path / "b.db"), TOKEN_SECRET)
        server.failure = None
        r = cli_runner.invoke(app, ["exchange", "fetch", bank, "tx"])
        assert r.exit_code == 0, r.output
        assert _members(tmp_path / "b.db", "tx") == {PDQS[0], PDQS[1], MD5S[0]}
        assert server.requests[-1]["start_time"] == "1700000200"  # resumed, not restarted


# --- Tech Against Terrorism -----------------------------------------------------------------


def _tat_add(bank: t.Any) -> ProgrammeExchanges:
    exchanges = ProgrammeExchanges(bank)
    exchanges.add("tat", "tat", config={}, credentials={"env": "HW_TEST_TAT"}, category="A")
    return exchanges


def test_tat_fetch_fills_the_named_bank_resumes_from_its_checkpoint_and_applies_deletions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with tat_server(monkeypatch) as server:
        server.records = [
            Record(11, PDQS[0], "PDQ", "png", 1_700_000_100.5),
            Record(12, MD5S[0], "MD5", "mp4", 1_700_000_200.25),
            Record(13, MD5S[1], "MD5", "jpg", 1_700_000_300.0),  # an image's MD5: not kept
            Record(14, SHA256, "SHA256", "mp4", 1_700_000_400.0),  # no kind of pytx's TAT
            Record(15, MD5S[2], "MD5", "webm", 1_700_000_500.0),
        ]
        with create_bank(tmp_path / "b.db") as bank:
            exchanges = _tat_add(bank)
            first = exchanges.fetch("tat", into_named_bank=_adder(bank))
            assert (first.added, first.removed) == (3, 0)
            by_value = {e.signals[0].value: e for e in bank.entries.all()}
            assert set(by_value) == {PDQS[0], MD5S[0], MD5S[2]}
            assert by_value[PDQS[0]].extra["exchange:tat"] == {"id": f"pdq {PDQS[0]}", "tags": []}
            assert by_value[MD5S[0]].signals[0].kind == "md5"
            assert by_value[MD5S[0]].category == "csam-a"
            assert exchanges.get("tat").checkpoint == {"checkpoint": "1700000500.0,15"}
            assert any(q.get("offset") == "2" for q in server.requests)  # the next page

            server.records += [
                Record(12, MD5S[0], "MD5", "mp4", 1_700_000_600.0, deleted=True),
                Record(16, PDQS[1], "PDQ", "jpg", 1_700_000_700.0),
            ]
            asked = len(server.requests)
            later = exchanges.fetch("tat", into_named_bank=_adder(bank))
            assert (later.added, later.removed) == (1, 1)
            assert {e.signals[0].value for e in bank.entries.all()} == {PDQS[0], PDQS[1], MD5S[2]}
            assert bank.verify().ok
        assert _members(tmp_path / "b.db", "tat") == {PDQS[0], PDQS[1], MD5S[2]}
        assert server.requests[asked]["after"] == "1700000500.0,15"
        assert all(q["bearer"] == "True" for q in server.requests)
        assert {(f["username"], f["password"]) for f in server.logins} == {
            ("tat-user", TAT_PASSWORD)
        }
    _secrets_absent(_stored(tmp_path / "b.db") + caplog.text, TAT_PASSWORD, JWT)


def test_an_empty_tat_list_then_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first fetch from an empty list brings no checkpoint: the next fetch starts afresh
    rather than failing on a checkpoint it cannot read."""
    with tat_server(monkeypatch) as server, create_bank(tmp_path / "b.db") as bank:
        exchanges = _tat_add(bank)
        assert exchanges.fetch("tat").records == 0
        server.records = [Record(11, PDQS[0], "PDQ", "png", 1_700_000_100.0)]
        assert exchanges.fetch("tat").added == 1
        assert exchanges.get("tat").checkpoint == {"checkpoint": "1700000100.0,11"}


@pytest.mark.parametrize("failure", [500, b"not json at all"])
def test_a_failing_tat_is_exit_8_and_keeps_what_was_applied(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli_runner: CliRunner,
    caplog: pytest.LogCaptureFixture,
    failure: int | bytes,
) -> None:
    caplog.set_level(logging.DEBUG)
    bank = str(tmp_path / "b.db")
    with tat_server(monkeypatch) as server:
        server.records = [
            Record(11, PDQS[0], "PDQ", "png", 1_700_000_100.0),
            Record(12, MD5S[0], "MD5", "mp4", 1_700_000_200.0),
            Record(13, PDQS[1], "PDQ", "png", 1_700_000_300.0),
        ]
        assert cli_runner.invoke(app, ["bank", "init", bank]).exit_code == 0
        add = ["exchange", "add", bank, "tat", "--api", "tat", "--credentials-env", "HW_TEST_TAT"]
        assert cli_runner.invoke(app, add).exit_code == 0
        server.failure, server.fail_after = failure, 1  # the first page, then the failure
        r = cli_runner.invoke(app, ["exchange", "fetch", bank, "tat"])
        assert r.exit_code == 8, r.output
        assert "exchange tat: fetch failed" in r.output and "Traceback" not in r.output
        assert _members(tmp_path / "b.db", "tat") == {PDQS[0], MD5S[0]}
        _secrets_absent(r.output + caplog.text + _stored(tmp_path / "b.db"), TAT_PASSWORD, JWT)
        server.failure = None
        r = cli_runner.invoke(app, ["exchange", "fetch", bank, "tat"])
        assert r.exit_code == 0, r.output
        assert _members(tmp_path / "b.db", "tat") == {PDQS[0], PDQS[1], MD5S[0]}
        assert server.requests[-1]["after"] == "1700000200.0,12"


def test_wrong_credentials_are_named_without_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli_runner: CliRunner
) -> None:
    bank = str(tmp_path / "b.db")
    with threatexchange_server(monkeypatch, GROUP), tat_server(monkeypatch):
        _tx_add(cli_runner, bank)
        add = ["exchange", "add", bank, "tat", "--api", "tat", "--credentials-env", "HW_TEST_TAT"]
        assert cli_runner.invoke(app, add).exit_code == 0
        wrong_token = "900000000001|WrongTokenWrongTokenWrong"
        monkeypatch.setenv("HW_TEST_TX", wrong_token)
        monkeypatch.setenv("HW_TEST_TAT", "tat-user:wrong-passw0rd-wrong")
        for name, secret in (("tx", "WrongTokenWrongTokenWrong"), ("tat", "wrong-passw0rd-wrong")):
            r = cli_runner.invoke(app, ["exchange", "fetch", bank, name])
            assert r.exit_code == 8, r.output
            assert f"exchange {name}" in r.output and "Traceback" not in r.output
            _secrets_absent(r.output, secret)
