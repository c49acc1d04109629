"""Hash-sharing programmes through python-threatexchange's SignalExchangeAPI: the file-based
exchange for real, and a scripted incremental API (checkpoints, deletions, feedback) standing
in for the remote programmes; no network."""

from __future__ import annotations

import http.server
import json
import logging
import threading
import time
import typing as t
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigWithDefaults
from threatexchange.exchanges.signal_exchange_api import SignalExchangeAPIWithSimpleUpdates
from typer.testing import CliRunner

from hashwarden.bank import Bank, NewEntry, create_bank
from hashwarden.cli import app
from hashwarden.errors import DataError, ExchangeUnavailableError, UsageError
from hashwarden.exchange import programmes
from hashwarden.exchange.programmes import ProgrammeExchanges
from hashwarden.signals import Signal

from .ncmec_server import PASSWORD, Entry, ncmec_server

PDQ = "f" * 64
MD5S = [f"{i:032x}" for i in range(1, 6)]


def _members(bank: Bank, named: str) -> list[int]:
    rows = bank.db.query(
        "SELECT entry_id FROM named_bank_entries WHERE bank = ? ORDER BY entry_id", (named,)
    )
    return [int(r[0]) for r in rows]


def _adder(bank: Bank) -> t.Callable[[str, list[int]], None]:
    """Named-bank membership as `exchange fetch` does it (the service's NamedBanks)."""
    from hashwarden.service.banks import NamedBanks

    named = NamedBanks(bank)

    def add(name: str, ids: list[int]) -> None:
        try:
            named.get(name)
        except Exception:
            named.create(name, actor="test")
        named.add_members(name, ids, actor="test")

    return add


def test_a_file_exchange_fills_a_named_bank_and_a_later_fetch_applies_deletions(
    tmp_path: Path,
) -> None:
    listing = tmp_path / "list.txt"
    lines = [f"pdq {PDQ}", *(f"video_md5 {m}" for m in MD5S), "url https://example.org/x"]
    listing.write_text("\n".join(lines) + "\n")
    with create_bank(tmp_path / "b.db") as bank:
        bank.entries.add(NewEntry([Signal("md5", MD5S[0])], "csam-a", source="hotline-x"))
        exchanges = ProgrammeExchanges(bank)
        exchanges.add("ncmec-file", "file", config={"filename": str(listing)}, category="B")
        first = exchanges.fetch("ncmec-file", into_named_bank=_adder(bank))
        assert (first.records, first.added, first.matched, first.removed) == (7, 5, 1, 0)
        assert dict(first.skipped) == {"url": 1}
        assert len(_members(bank, "ncmec-file")) == 6
        entry = next(e for e in bank.entries.all() if e.signal("pdq") == PDQ)
        assert entry.source == "exchange:ncmec-file" and entry.category == "csam-b"
        assert entry.extra["exchange:ncmec-file"] == {"id": f"pdq {PDQ}", "tags": []}

        again = exchanges.fetch("ncmec-file", into_named_bank=_adder(bank))
        assert (again.added, again.matched, again.removed) == (0, 6, 0)

        listing.write_text(f"video_md5 {MD5S[0]}\nvideo_md5 {MD5S[1]}\n")  # four withdrawn
        later = exchanges.fetch("ncmec-file", into_named_bank=_adder(bank))
        assert later.removed == 4
        left = {e.signals[0].value for e in bank.entries.all()}
        # the hotline's own entry stays (it held MD5S[0] before the programme did)
        assert left == {MD5S[0], MD5S[1]}
        assert len(_members(bank, "ncmec-file")) == 2
        assert bank.verify().ok


# --- a scripted incremental programme: checkpoints, deletions, feedback ---------------------


@dataclass
class PageCheckpoint(state.FetchCheckpointBase):
    page: int = 0


@dataclass
class ScriptedConfig(CollaborationConfigWithDefaults):
    programme: str = "stopncii-like"


class ScriptedAPI(
    SignalExchangeAPIWithSimpleUpdates[ScriptedConfig, PageCheckpoint, state.FetchedSignalMetadata]
):
    """Pages of updates (None: the programme withdrew the signal), served from a checkpoint."""

    PAGES: ClassVar[list[dict[tuple[str, str], state.FetchedSignalMetadata | None]]] = []
    OPINIONS: ClassVar[list[tuple[str, str, state.SignalOpinionCategory]]] = []
    FAIL_AT: ClassVar[int | None] = None

    def __init__(self, collab: ScriptedConfig) -> None:
        self.collab = collab

    @classmethod
    def get_name(cls) -> str:
        return "scripted"

    @staticmethod
    def get_config_cls() -> type[ScriptedConfig]:
        return ScriptedConfig

    @staticmethod
    def get_checkpoint_cls() -> type[PageCheckpoint]:
        return PageCheckpoint

    @staticmethod
    def get_record_cls() -> type[state.FetchedSignalMetadata]:
        return state.FetchedSignalMetadata

    @classmethod
    def for_collab(cls, collab: ScriptedConfig) -> ScriptedAPI:
        return cls(collab)

    def fetch_iter(self, _types: t.Sequence[t.Any], checkpoint: PageCheckpoint | None) -> t.Any:
        for page in range(checkpoint.page if checkpoint else 0, len(self.PAGES)):
            if page == self.FAIL_AT:
                raise ConnectionError("connection reset by peer")
            yield state.FetchDelta(self.PAGES[page], PageCheckpoint(page + 1))

    def report_opinion(self, s_type: t.Any, signal: str, opinion: state.SignalOpinion) -> None:
        self.OPINIONS.append((s_type.get_name(), signal, opinion.category))


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> type[ScriptedAPI]:
    monkeypatch.setitem(programmes.APIS, "scripted", (__name__, "ScriptedAPI"))
    ScriptedAPI.PAGES, ScriptedAPI.OPINIONS, ScriptedAPI.FAIL_AT = [], [], None
    return ScriptedAPI


def test_fetches_resume_from_the_checkpoint_and_honour_withdrawals(
    tmp_path: Path, scripted: type[ScriptedAPI]
) -> None:
    meta = state.FetchedSignalMetadata()
    scripted.PAGES = [
        {("pdq", PDQ): meta, ("video_md5", MD5S[0]): meta},
        {("video_md5", MD5S[1]): meta},
        {("video_md5", MD5S[0]): None},  # withdrawn
    ]
    scripted.FAIL_AT = 2
    with create_bank(tmp_path / "b.db") as bank:
        exchanges = ProgrammeExchanges(bank)
        exchanges.add("stopncii", "scripted", config={}, category="csam")
        with pytest.raises(ExchangeUnavailableError, match="connection reset"):
            exchanges.fetch("stopncii")
        assert bank.entries.count() == 3  # the pages before the cut are kept
        assert exchanges.get("stopncii").checkpoint == {"page": 2}
        scripted.FAIL_AT = None
        resumed = exchanges.fetch("stopncii")
        assert (resumed.records, resumed.added, resumed.removed) == (1, 0, 1)
        assert {e.signals[0].value for e in bank.entries.all()} == {PDQ, MD5S[1]}
        assert exchanges.fetch("stopncii").records == 0  # nothing new
        assert bank.verify().ok


def test_a_verdict_becomes_the_programmes_vote(
    tmp_path: Path, scripted: type[ScriptedAPI], cli_runner: CliRunner
) -> None:
    with create_bank(tmp_path / "b.db") as bank:
        exchanges = ProgrammeExchanges(bank)
        exchanges.add("tx", "scripted", config={})
        exchanges.send_opinion("tx", Signal("pdq", PDQ), confirm=True)
        exchanges.send_opinion("tx", Signal("md5", MD5S[0]), confirm=False)
        with pytest.raises(UsageError, match="no signal type for sha1"):
            exchanges.send_opinion("tx", Signal("sha1", "a" * 40), confirm=True)
    sent = list(scripted.OPINIONS)
    assert sent == [
        ("pdq", PDQ, state.SignalOpinionCategory.POSITIVE_CLASS),
        ("video_md5", MD5S[0], state.SignalOpinionCategory.NEGATIVE_CLASS),
    ]
    bank_path = str(tmp_path / "b.db")
    vote = ["exchange", "vote", bank_path, "tx", "--kind", "md5", "--value", MD5S[1]]
    r = cli_runner.invoke(app, [*vote, "--confirm"])
    assert r.exit_code == 0, r.output
    assert scripted.OPINIONS[-1] == (
        "video_md5",
        MD5S[1],
        state.SignalOpinionCategory.POSITIVE_CLASS,
    )


# --- the CLI, credentials, hostile lists --------------------------------------------------------


def test_exchange_commands(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank = str(tmp_path / "b.db")
    listing = tmp_path / "list.txt"
    listing.write_text(f"pdq {PDQ}\nvideo_md5 {MD5S[0]}\n")
    assert cli_runner.invoke(app, ["bank", "init", bank]).exit_code == 0
    add = ["exchange", "add", bank, "local", "--api", "file", "--file", str(listing), "-c", "A"]
    r = cli_runner.invoke(app, add)
    assert r.exit_code == 0 and "into named bank local" in r.stdout, r.output
    assert cli_runner.invoke(app, add).exit_code == 9  # the name is taken
    r = cli_runner.invoke(app, ["exchange", "fetch", bank])
    assert r.exit_code == 0 and "2 new entries" in r.stderr, r.output
    r = cli_runner.invoke(app, ["match", bank, "--md5", MD5S[0]])
    assert r.exit_code == 1, r.output
    listed = json.loads(cli_runner.invoke(app, ["exchange", "list", bank, "--json"]).stdout)
    assert listed["name"] == "local" and listed["category"] == "csam-a" and listed["fetched"]
    runs = [
        (["exchange", "add", bank, "x", "--api", "nope"], 2),
        (["exchange", "add", bank, "x", "--api", "file", "--set", "colour=red"], 2),
        (["exchange", "add", bank, "x y", "--api", "file", "--file", "f"], 2),
        (["exchange", "fetch", bank, "absent"], 4),
        (["exchange", "vote", bank, "local", "--kind", "md5", "--value", MD5S[0], "--dispute"], 2),
    ]
    for args, code in runs:
        r = cli_runner.invoke(app, args)
        assert r.exit_code == code, (args, r.output)
    r = cli_runner.invoke(app, ["exchange", "remove", bank, "local", "--entries"])
    assert r.exit_code == 0 and "2 entries removed" in r.stdout, r.output
    assert cli_runner.invoke(app, ["exchange", "list", bank]).stdout == ""


def test_credentials_are_read_when_fetching_and_never_stored(
    tmp_path: Path, cli_runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = str(tmp_path / "b.db")
    assert cli_runner.invoke(app, ["bank", "init", bank]).exit_code == 0
    add = ["exchange", "add", bank, "ncii", "--api", "stopncii"]
    r = cli_runner.invoke(app, [*add, "--credentials-env", "HW_TEST_NCII_KEY"])
    assert r.exit_code == 0, r.output
    monkeypatch.delenv("HW_TEST_NCII_KEY", raising=False)
    r = cli_runner.invoke(app, ["exchange", "fetch", bank, "ncii"])  # refused before any request
    assert r.exit_code == 2 and "HW_TEST_NCII_KEY" in r.output, r.output
    secret = tmp_path / "ncii.secret"
    secret.write_text("   \n")
    r = cli_runner.invoke(
        app, [*add[:3], "ncii2", "--api", "stopncii", "--credentials-file", str(secret)]
    )
    assert r.exit_code == 0, r.output
    r = cli_runner.invoke(app, ["exchange", "fetch", bank, "ncii2"])
    assert r.exit_code == 2 and "no credentials" in r.output, r.output
    listed = cli_runner.invoke(app, ["exchange", "list", bank, "--json"]).stdout
    assert '"env": "HW_TEST_NCII_KEY"' in listed and str(secret) in listed


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(max_size=300))
def test_a_hostile_file_list_is_a_clear_error_or_read(tmp_path: Path, body: bytes) -> None:
    listing = tmp_path / "hostile.txt"
    listing.write_bytes(body)
    location = tmp_path / "h.db"
    location.unlink(missing_ok=True)
    with create_bank(location) as bank:
        exchanges = ProgrammeExchanges(bank)
        exchanges.add("h", "file", config={"filename": str(listing)})
        try:
            result = exchanges.fetch("h")
        except DataError:
            assert bank.entries.count() == 0
            return
        assert result.records >= result.added


def test_an_older_bank_read_only_has_no_exchanges(tmp_path: Path, cli_runner: CliRunner) -> None:
    """Opened read-only, a bank from before exchanges reads as it did (no migration needed)."""
    import sqlite3

    old = tmp_path / "old.db"
    create_bank(old).close()
    with sqlite3.connect(old) as conn:  # as a bank from before 0700-programme-exchanges
        conn.executescript(
            "DROP TABLE programme_records; DROP TABLE programme_exchanges;"
            " DELETE FROM schema_migrations WHERE name = '0700-programme-exchanges';"
        )
    r = cli_runner.invoke(app, ["exchange", "list", str(old)])
    assert r.exit_code == 0 and r.stdout == "", r.output
    r = cli_runner.invoke(app, ["exchange", "fetch", str(old), "absent"])  # opens for writing
    assert r.exit_code == 4, r.output


# --- StopNCII's real client against a local server speaking its FetchHashes shapes ------------


class _StopNCII(http.server.BaseHTTPRequestHandler):
    """GET /v1/FetchHashes as StopNCII documents it: paged records, a next page token, and the
    timestamp to resume from; every record its hash status."""

    pages: ClassVar[dict[str, list[dict[str, t.Any]]]] = {}
    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        self.seen.append({**query, "key": self.headers.get("x-functions-key", "")})
        pages = self.pages.get(query.get("startTimestamp", ""), [])
        number = int(query.get("nextPageToken") or 0)
        page = pages[number] if url.path == "/v1/FetchHashes" and number < len(pages) else []
        more = number + 1 < len(pages)
        body = json.dumps(
            {
                "count": len(page),
                "nextPageToken": str(number + 1) if more else None,
                "nextSetTimestamp": 100,
                "hasMoreRecords": more,
                "hashRecords": page,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _record(signal_type: str, value: str, status: str) -> dict[str, t.Any]:
    return {
        "lastModtimestamp": 50,
        "signalType": signal_type,
        "hashValue": value,
        "hashStatus": status,
        "caseNumbers": {"case-1": status},
        "CSPFeedbacks": [{"feedbackValue": "Blocked", "tags": ["ncii"], "source": "csp-a"}],
    }


def test_stopncii_fetches_over_its_client_and_withdrawn_cases_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StopNCII)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _StopNCII.seen = []
        _StopNCII.pages = {
            "10": [  # the first fetch, from StopNCII's start time: two pages
                [_record("ImagePDQ", PDQ, "Active")],
                [_record("VideoMD5", MD5S[0], "Received"), _record("URL", "https://x", "Active")],
            ],
            "100": [[_record("ImagePDQ", PDQ, "Withdrawn")]],  # then: the PDQ withdrawn
        }
        base = f"http://127.0.0.1:{server.server_address[1]}/v1"
        monkeypatch.setenv("HW_TEST_NCII", f"fetch-key,subscription-key,{base}")
        with create_bank(tmp_path / "b.db") as bank:
            exchanges = ProgrammeExchanges(bank)
            exchanges.add("ncii", "stopncii", config={}, credentials={"env": "HW_TEST_NCII"})
            first = exchanges.fetch("ncii")
            assert (first.added, first.removed, dict(first.skipped)) == (2, 0, {"url": 1})
            entry = next(e for e in bank.entries.all() if e.signal("pdq") == PDQ)
            assert entry.extra["exchange:ncii"]["id"] == f"pdq {PDQ}"
            assert exchanges.get("ncii").checkpoint["update_time"] == 100
            later = exchanges.fetch("ncii")
            assert later.removed == 1
            assert [e.signals for e in bank.entries.all()] == [[Signal("md5", MD5S[0])]]
            assert bank.verify().ok
        assert [s["startTimestamp"] for s in _StopNCII.seen] == ["10", "10", "100"]
        assert {s["key"] for s in _StopNCII.seen} == {"fetch-key"}
        stored = json.dumps([list(r) for r in _dump(tmp_path / "b.db")])
        assert "fetch-key" not in stored and "subscription-key" not in stored
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _dump(path: Path) -> list[tuple[t.Any, ...]]:
    """Every row of every table of a bank."""
    import sqlite3

    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [row for table in tables for row in conn.execute(f'SELECT * FROM "{table}"')]


def test_a_verdict_on_entries_goes_to_the_programmes_that_brought_them(
    tmp_path: Path, scripted: type[ScriptedAPI]
) -> None:
    """What a confirmed report draft does with its matched entries: each programme record
    behind them gets the up-vote; one that takes no feedback is reported, not fatal."""
    meta = state.FetchedSignalMetadata()
    scripted.PAGES = [{("pdq", PDQ): meta, ("video_md5", MD5S[0]): meta}]
    listing = tmp_path / "list.txt"
    listing.write_text(f"video_md5 {MD5S[0]}\n")
    with create_bank(tmp_path / "b.db") as bank:
        exchanges = ProgrammeExchanges(bank)
        exchanges.add("tx", "scripted", config={})
        exchanges.add("local", "file", config={"filename": str(listing)})
        exchanges.fetch("tx")
        exchanges.fetch("local")
        md5_entry = bank.entries.lookup("md5", [MD5S[0]])[MD5S[0]]
        outcome = exchanges.send_verdicts([md5_entry], confirm=False)
    assert outcome["sent"] == [f"tx md5 {MD5S[0]}"]
    assert len(outcome["failed"]) == 1 and outcome["failed"][0].startswith("local md5")
    assert [("video_md5", MD5S[0], state.SignalOpinionCategory.NEGATIVE_CLASS)] == scripted.OPINIONS


# --- NCMEC's real client against a local server speaking its v2 XML shapes --------------------


def test_ncmec_fetches_pages_resumes_from_its_checkpoint_and_applies_deletions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    long_ago = int(time.time()) - 3 * 86400
    with ncmec_server(monkeypatch) as server:
        server.page_size = 1  # two entries of one second: the client follows the next link
        server.entries = [
            Entry("e1", 42, "image", long_ago, {"pdq": PDQ, "md5": MD5S[4]}),
            Entry("e2", 42, "video", long_ago, {"md5": MD5S[0]}),
            Entry("e3", 7, "video", long_ago + 2, {"md5": MD5S[1]}),
        ]
        with create_bank(tmp_path / "b.db") as bank:
            exchanges = ProgrammeExchanges(bank)
            exchanges.add(
                "ncmec",
                "ncmec",
                config={"environment": "test_Industry"},
                credentials={"env": "HW_TEST_NCMEC"},
            )
            first = exchanges.fetch("ncmec", into_named_bank=_adder(bank))
            assert (first.added, first.removed) == (3, 0) and first.records >= 3
            entry = next(e for e in bank.entries.all() if e.signal("pdq") == PDQ)
            assert entry.extra["exchange:ncmec"] == {"id": "42-e1", "tags": ["A1"]}
            checkpoint = exchanges.get("ncmec").checkpoint
            assert checkpoint is not None
            reached = int(checkpoint["get_entries_max_ts"])
            assert reached > long_ago + 2
            # NCMEC deletes e2 after the checkpoint; the next fetch asks from there on
            server.entries.append(Entry("e2", 42, "video", reached + 1, deleted=True))
            while int(time.time()) - 5 <= reached + 1:  # the client asks up to 5 s ago
                time.sleep(0.2)
            asked = len(server.requests)
            later = exchanges.fetch("ncmec", into_named_bank=_adder(bank))
            assert later.removed == 1
            left = sorted(e.signals[0].value for e in bank.entries.all())
            assert left == sorted([PDQ, MD5S[1]])
            assert len(_members(bank, "ncmec")) == 2
            assert bank.verify().ok
    pages = [r for r in server.requests if r["path"] == "/v2/entries"]
    assert any(r.get("start") == "1" for r in pages)  # a second page, by the next link
    resumed = [r for r in server.requests[asked:] if r["path"] == "/v2/entries"]
    assert resumed and all(r["from"] >= _date(reached) for r in resumed)
    assert PASSWORD not in caplog.text
    stored = json.dumps([list(r) for r in _dump(tmp_path / "b.db")])
    assert PASSWORD not in stored


def _date(timestamp: int) -> str:
    """A time as the NCMEC client writes it."""
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_bank_verify_names_an_exchange_changed_behind_the_log(tmp_path: Path) -> None:
    """An exchange's configuration decides where credentials are read and which bank and
    category its entries take: a change made outside hashwarden is a verify problem."""
    import sqlite3

    listing = tmp_path / "list.txt"
    listing.write_text(f"pdq {PDQ}\n")
    with create_bank(tmp_path / "b.db") as bank:
        exchanges = ProgrammeExchanges(bank)
        exchanges.add("local", "file", config={"filename": str(listing)})
        exchanges.add("gone", "file", config={"filename": str(listing)})
        exchanges.fetch("local")
        exchanges.remove("gone")
        assert bank.verify().ok
    with sqlite3.connect(tmp_path / "b.db") as conn:
        conn.execute(
            "UPDATE programme_exchanges SET credentials = ? WHERE name = 'local'",
            (json.dumps({"file": "/tmp/elsewhere"}),),
        )
    with _open(tmp_path) as bank:
        problems = bank.verify().problems
    assert any("programme_exchanges changed outside hashwarden" in p for p in problems), problems


def _open(tmp_path: Path) -> Bank:
    from hashwarden.bank import open_bank

    return open_bank(tmp_path / "b.db")
