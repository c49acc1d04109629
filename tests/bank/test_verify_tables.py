"""`bank verify` covers every table that grants power or changes matching.

A bank is built only through hashwarden's own functions (keys, named banks, votes, rules,
reviews, queued webhooks and programme votes, trust, a bundle import); it verifies ok. Then each table is changed with raw SQL
behind hashwarden's back, and `hashwarden bank verify` exits 5 naming that table.
"""

from __future__ import annotations

import itertools
import json
import shutil
import sqlite3
from contextlib import nullcontext
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwarden._sql import is_postgres_location
from hashwarden.bank import Bank, NewEntry, create_bank, open_bank
from hashwarden.bank import _bank as bank_module
from hashwarden.bank._audit import SqlAudit
from hashwarden.bank.guarded import GUARDED
from hashwarden.cli import app
from hashwarden.errors import DataError
from hashwarden.exchange.bundle import (
    add_trusted_key,
    build_bundle,
    generate_keys,
    import_bundle,
    revoke_trusted_key,
)
from hashwarden.exchange.programmes import ProgrammeExchanges
from hashwarden.index.matcher import Match
from hashwarden.service.actions import ActionEngine, DeliverySettings, NewRule
from hashwarden.service.banks import NamedBanks
from hashwarden.service.keys import create_key, revoke_key
from hashwarden.signals import Signal

from ..conftest import ENGINES, BankLocations


def _md5(n: int) -> str:
    return f"{n:032x}"


def _build(bank: Bank, peer_location: str, folder: Path) -> None:
    """A realistic history, written only through hashwarden's own functions."""
    ids = bank.entries.add_many(
        [NewEntry([Signal("md5", _md5(n))], "csam-a", source="hotline") for n in range(1, 7)]
    ).added
    create_key(bank, "platform", "matcher")
    create_key(bank, "ops", "admin", rate_per_minute=600)
    create_key(bank, "old", "admin")
    revoke_key(bank, "old")

    banks = NamedBanks(bank)
    banks.create("mine", threshold=10, note="ours", actor="t")
    banks.create("fp", negative=True, actor="t")
    banks.create("gone", actor="t")
    banks.add_members("mine", ids[:4], actor="t")
    banks.add_members("fp", [ids[5]], actor="t")
    banks.add_members("gone", ids[:2], actor="t")
    banks.disable_member("mine", ids[0], "2030-01-01", actor="t")
    banks.remove_member("mine", ids[1], actor="t")
    banks.update("mine", {"threshold": 5, "enabled_ratio": 0.5}, actor="t")
    banks.update("fp", {"disabled_until": "2031-02-03T04:05:06Z"}, actor="t")
    banks.delete("gone", actor="t")

    bank.provenance.vote(ids[2], "hotline", "dispute", reason="not ours")
    bank.provenance.vote(ids[3], "hotline", "dispute", reason="wrong")
    bank.provenance.vote(ids[3], "hotline", "confirm")
    bank.entries.remove(ids[2])  # takes its membership and its vote along

    # two entries brought by a programme: a decision on their matches is the programme's vote
    listing = folder / "programme.txt"
    listing.write_text("".join(f"video_md5 {_md5(n)}\n" for n in (60, 61)))
    exchanges = ProgrammeExchanges(bank)
    exchanges.add("local", "file", config={"filename": str(listing)}, category="csam-a")
    exchanges.fetch("local")
    programme_ids = bank.entries.lookup("md5", [_md5(60), _md5(61)])

    engine = ActionEngine(bank, settings=DeliverySettings(trust_env=False))
    try:
        engine.add_rule(NewRule("hook", webhook_url="https://hooks.platform.example/", report=True))
        spare, _ = engine.add_rule(NewRule("spare", report=True, categories=["csam-a"]))
        engine.set_enabled(spare.id, False)
        engine.set_enabled(spare.id, True)
        kept, _ = engine.add_rule(NewRule("kept", report=True, max_distance=3))
        engine.set_enabled(kept.id, False)
        engine.remove_rule(spare.id)
        reports = []
        for n in (1, 4, 5):
            match = Match(ids[n - 1], "md5", _md5(n), 0, "csam-a", None, False)
            fired = engine.on_match([match], {"md5": _md5(n)}, uploader_ref=f"acct-{n}")
            assert fired is not None and fired.report is not None
            reports.append(fired.report)
        engine.review(reports[0], "confirmed", reviewer="alice", note="sent")
        engine.review(reports[1], "rejected", reviewer="bob")
        # reports[2] stays pending: drafts made on matches are not decisions
        for n, decision in ((60, "confirmed"), (61, "rejected")):
            match = Match(programme_ids[_md5(n)], "md5", _md5(n), 0, "csam-a", None, False)
            fired = engine.on_match([match], {"md5": _md5(n)})
            assert fired is not None and fired.report is not None
            engine.review(fired.report, decision, reviewer="carol")  # queues the vote
        assert [v.vote for v in engine.votes()] == ["up", "down"]
        assert len(engine.deliveries(status="pending")) == 5  # never sent: no worker runs
    finally:
        engine.close()

    generate_keys("peer", folder)
    generate_keys("former", folder)
    add_trusted_key(bank, folder / "peer.pub")
    add_trusted_key(bank, folder / "former.pub")
    revoke_trusted_key(bank, "former")
    with create_bank(peer_location) as peer:
        peer.entries.add_many([NewEntry([Signal("md5", _md5(n))], "csam-b") for n in (50, 51)])
        first = build_bundle(peer, since=0, key_path=folder / "peer.key")
        since = peer.audit.head()[0]
        peer.entries.add(NewEntry([Signal("md5", _md5(52))], "csam-c"))
        second = build_bundle(peer, since=since, key_path=folder / "peer.key")
    for n, bundle in enumerate((first, second)):
        path = folder / f"bundle{n}.json"
        path.write_text(json.dumps(bundle))
        import_bundle(bank, path)


@pytest.fixture(scope="module", params=ENGINES)
def pristine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A bank built once per engine; each test changes a copy of it."""
    folder = tmp_path_factory.mktemp("verify")
    if request.param == "postgres":
        server = request.getfixturevalue("pg_server")
        location, peer = server.new_database(), server.new_database()
    else:
        location, peer = str(folder / "bank.db"), str(folder / "peer.db")
    with create_bank(location) as bank:
        _build(bank, peer, folder)
    return location


@pytest.fixture
def built(request: pytest.FixtureRequest, pristine: str, tmp_path: Path) -> str:
    if not is_postgres_location(pristine):
        shutil.copyfile(pristine, tmp_path / "bank.db")
        return str(tmp_path / "bank.db")
    import psycopg

    server = request.getfixturevalue("pg_server")
    name = f"copy{next(_copies)}"
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {pristine.rsplit('/', 1)[1]}")
    return str(server.dsn(name))


_copies = itertools.count(1)


def _tamper(location: str, sql: str) -> None:
    """Change the bank behind hashwarden's back, as `sqlite3` or `psql` would."""
    if is_postgres_location(location):
        import psycopg

        with psycopg.connect(location, autocommit=True) as conn:
            conn.execute(sql)
        return
    conn = sqlite3.connect(location)
    conn.execute(sql)
    conn.commit()
    conn.close()


def _verify(location: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["bank", "verify", location])
    return result.exit_code, result.output


def test_legitimate_writes_verify_ok(built: str) -> None:
    code, output = _verify(built)
    assert code == 0, output
    assert output.startswith("ok:") and "guarded tables" in output


@pytest.mark.parametrize(
    ("table", "sql"),
    [
        # a matcher key turned admin
        ("api_keys", "UPDATE api_keys SET role = 'admin' WHERE name = 'platform'"),
        # a revoked key revived
        ("api_keys", "UPDATE api_keys SET revoked = NULL WHERE name = 'old'"),
        # a key planted
        (
            "api_keys",
            "INSERT INTO api_keys(name, role, key_hash, created)"
            " VALUES ('mallory', 'admin', 'ff', '2026-01-01')",
        ),
        # a rate limit lifted
        ("api_keys", "UPDATE api_keys SET rate_per_minute = NULL WHERE name = 'ops'"),
        # a trusted key inserted
        (
            "trusted_keys",
            "INSERT INTO trusted_keys(name, public_key, added)"
            " VALUES ('mallory', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', '2026-01-01')",
        ),
        # a revoked trusted key revived
        ("trusted_keys", "UPDATE trusted_keys SET revoked = NULL WHERE name = 'former'"),
        # a named bank made negative
        ("named_banks", "UPDATE named_banks SET negative = 1 WHERE name = 'mine'"),
        ("named_banks", "UPDATE named_banks SET threshold = 256 WHERE name = 'mine'"),
        ("named_banks", "UPDATE named_banks SET disabled_until = NULL WHERE name = 'fp'"),
        (
            "named_banks",
            "INSERT INTO named_banks(name, negative, created) VALUES ('evil', 1, '2026-01-01')",
        ),
        # membership
        ("named_bank_entries", "UPDATE named_bank_entries SET disabled_until = NULL"),
        ("named_bank_entries", "DELETE FROM named_bank_entries WHERE bank = 'fp'"),
        (
            "named_bank_entries",
            "INSERT INTO named_bank_entries(bank, entry_id, added) VALUES ('fp', 1, '2026-01-01')",
        ),
        # a webhook redirected, its secret swapped, a rule switched back on
        (
            "action_rules",
            "UPDATE action_rules SET webhook_url = 'https://attacker.example/' WHERE name = 'hook'",
        ),
        ("action_rules", "UPDATE action_rules SET webhook_secret = 'known' WHERE name = 'hook'"),
        ("action_rules", "UPDATE action_rules SET enabled = 1 WHERE name = 'kept'"),
        ("action_rules", "DELETE FROM action_rules WHERE name = 'hook'"),
        # a report marked rejected, a decision undone, a decided report's content changed
        (
            "action_reports",
            "UPDATE action_reports SET status = 'rejected', reviewer = 'alice'"
            " WHERE status = 'pending'",
        ),
        (
            "action_reports",
            "UPDATE action_reports SET status = 'pending' WHERE status <> 'pending'",
        ),
        ("action_reports", "UPDATE action_reports SET review_note = NULL WHERE reviewer = 'alice'"),
        ("action_reports", "UPDATE action_reports SET reviewer = 'carol' WHERE reviewer = 'bob'"),
        ("action_reports", "UPDATE action_reports SET hashes = '{}' WHERE reviewer = 'alice'"),
        # an origin's binding handed to another key, or dropped (first use would rebind it)
        ("trusted_key_origins", "UPDATE trusted_key_origins SET key_name = 'former'"),
        ("trusted_key_origins", "DELETE FROM trusted_key_origins"),
        # a matcher key suspended (or its suspension lifted) behind the log's back
        (
            "match_suspensions",
            "INSERT INTO match_suspensions(key_name, entry_id, since, until, queries)"
            " VALUES ('platform', 1, '2026-01-01', '2999-01-01', 1)",
        ),
        # bundle state rewound (a replay would then be accepted)
        ("bundle_state", "UPDATE bundle_state SET last_sequence = 0"),
        ("bundle_state", "DELETE FROM bundle_state"),
        # votes decide which entries a disputed-excluding matcher skips
        ("votes", "UPDATE votes SET vote = 'dispute'"),
        ("votes", "DELETE FROM votes"),
        # a queued webhook redirected, its content changed, one planted or dropped
        (
            "action_deliveries",
            "UPDATE action_deliveries SET url = 'https://attacker.example/'"
            " WHERE id = (SELECT MIN(id) FROM action_deliveries WHERE status = 'pending')",
        ),
        ("action_deliveries", "UPDATE action_deliveries SET body = '{}'"),
        ("action_deliveries", "UPDATE action_deliveries SET event = 'other'"),
        (
            "action_deliveries",
            "INSERT INTO action_deliveries(rule_id, event, url, body, next_attempt, created)"
            " SELECT rule_id, event, 'https://attacker.example/', body, next_attempt, created"
            " FROM action_deliveries WHERE id = (SELECT MIN(id) FROM action_deliveries)",
        ),
        ("action_deliveries", "DELETE FROM action_deliveries WHERE status = 'pending'"),
        # a vote cast in the bank's name: turned over, aimed at another record, planted
        ("programme_votes", "UPDATE programme_votes SET vote = 'down' WHERE vote = 'up'"),
        (
            "programme_votes",
            f"UPDATE programme_votes SET record = 'video_md5 {_md5(99)}', value = '{_md5(99)}'"
            " WHERE vote = 'up'",
        ),
        ("programme_votes", "UPDATE programme_votes SET record = 'other' WHERE vote = 'down'"),
        (
            "programme_votes",
            "INSERT INTO programme_votes(report_id, exchange, record, kind, value, vote,"
            " next_attempt, created) SELECT report_id, exchange, record, 'sha1', value, 'down',"
            " next_attempt, created FROM programme_votes WHERE vote = 'up'",
        ),
        ("programme_votes", "DELETE FROM programme_votes"),
    ],
)
def test_a_table_changed_behind_verify_is_named(built: str, table: str, sql: str) -> None:
    _tamper(built, sql)
    code, output = _verify(built)
    assert code == 5, output
    assert f"{table} changed outside hashwarden" in output
    assert output.count("changed outside hashwarden") == 1, output


def test_the_workers_bookkeeping_keeps_verify_clean(
    built: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker updates a queued row's status, attempts, next attempt, error and delivery
    time without an audit event: verify vouches only for what is sent, so these pass."""
    monkeypatch.setattr(ProgrammeExchanges, "cast_vote", lambda *args, **kwargs: None)
    with open_bank(built) as bank:
        engine = ActionEngine(bank, settings=DeliverySettings(trust_env=False))
        try:
            outbox = engine.outbox
            sent, retried, refused = (outbox.claim() for _ in range(3))
            assert sent is not None and retried is not None and refused is not None
            outbox.delivered(sent.id)
            outbox.retry_later(retried.id, "503 Service Unavailable", retried.attempts)
            outbox.failed(refused.id, "410 Gone")
            engine.retry(refused.id, actor="ops")  # an admin sends it again
            engine.remove_rule(engine.rules()[0].id, actor="ops")  # its pending ones fail
            votes = engine.votes_outbox
            while (vote := votes.claim()) is not None:
                votes.attempt(vote)
            assert {v.status for v in engine.votes()} == {"delivered"}
            statuses = {d.status for d in engine.deliveries(limit=1000)}
            assert statuses == {"delivered", "failed"}
        finally:
            engine.close()
    # the same bookkeeping by hand (an operator unsticking a queue) is no tampering either
    _tamper(built, "UPDATE action_deliveries SET status = 'pending', attempts = 0")
    _tamper(built, "UPDATE programme_votes SET attempts = 9, last_error = 'x', delivered = NULL")
    code, output = _verify(built)
    assert code == 0, output


def test_service_writes_verify_ok_on_both_engines(bank_locations: BankLocations) -> None:
    """Writers that live apart from the bank (the service's tables) vouch for what they write
    on PostgreSQL too, where values come back typed by the server."""
    location = bank_locations.new_location()
    with create_bank(location) as bank:
        NamedBanks(bank).create("ratio", enabled_ratio=0.3, actor="t")
        create_key(bank, "k", "curator", rate_per_minute=7)
        assert bank.verify().ok, bank.verify().problems
    _tamper(location, "UPDATE named_banks SET enabled_ratio = 1.0")
    with open_bank(location, readonly=True) as bank:
        assert bank.verify().problems == [
            "named_banks changed outside hashwarden: its rows do not add up to what the audit"
            " log recorded"
        ]


def test_a_change_left_unrecorded_is_refused(bank_path: Path) -> None:
    """A writer that forgets `record` cannot commit a change to a guarded table."""
    planted = "INSERT INTO api_keys(name, role, key_hash, created) VALUES ('x','admin','f','t')"
    with open_bank(bank_path) as bank:
        with (
            pytest.raises(RuntimeError, match="api_keys"),
            bank.db.transaction() as conn,
            bank.audit.tracked("api_keys", "name = ?", ("x",)),
        ):
            conn.execute(planted)
        assert bank.db.query("SELECT name FROM api_keys") == []
        with (
            pytest.raises(RuntimeError, match="not a guarded table"),
            bank.db.transaction(),
            bank.audit.tracked("entries", "id = ?", (1,)),
        ):
            pass


@pytest.fixture
def bank_path(tmp_path: Path) -> Path:
    path = tmp_path / "bank.db"
    create_bank(path).close()
    return path


def test_an_old_bank_is_sealed_once_and_then_guarded(
    bank_locations: BankLocations, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bank written before its tables were guarded (no sealing, no row digests in its log)
    verifies ok once opened for writing, which records its rows as the baseline."""
    location = bank_locations.new_location()
    with monkeypatch.context() as old_code:
        old_code.setattr(bank_module, "GUARDED", ())
        old_code.setattr(SqlAudit, "tracked", _untracked)
        with create_bank(location) as bank:
            _build(bank, bank_locations.new_location(), tmp_path)
            assert not any("sealed" in e.detail for e in bank.audit.events())
    with pytest.raises(DataError, match="open it once for writing"):
        open_bank(location, readonly=True)
    with open_bank(location) as bank:  # the first open for writing seals
        (seal,) = [e for e in bank.audit.events() if e.action == "bank.seal"]
        assert "api_keys" in seal.detail["sealed"] and "action_reports" in seal.detail["sealed"]
    with open_bank(location) as bank:  # and only the first
        assert [e.action for e in bank.audit.events()].count("bank.seal") == 1
    code, output = _verify(location)
    assert code == 0, output
    _tamper(location, "UPDATE api_keys SET role = 'admin' WHERE name = 'platform'")
    code, output = _verify(location)
    assert code == 5 and "api_keys changed outside hashwarden" in output


def test_a_second_seal_is_tampering(built: str) -> None:
    """Clearing the seal marker and reopening would make the tampered rows the new baseline;
    verify names a table sealed twice."""
    _tamper(
        built,
        "INSERT INTO api_keys(name, role, key_hash, created)"
        " VALUES ('mallory', 'admin', 'ff', '2026-01-01')",
    )
    _tamper(built, "DELETE FROM meta WHERE key = 'guarded'")
    with open_bank(built):
        pass
    code, output = _verify(built)
    assert code == 5 and "api_keys was sealed more than once" in output


QUEUES = ("action_deliveries", "programme_votes")


def test_a_bank_from_before_its_queues_were_guarded_is_sealed_once(
    bank_locations: BankLocations, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bank whose queued webhooks and votes were written before their guard: read-only it
    verifies what it covered then; its next open for writing seals the two queues (one
    event), and from then on a queued row changed behind the log is named."""
    location = bank_locations.new_location()
    tracked = SqlAudit.tracked
    with monkeypatch.context() as old_code:
        old_code.setattr(bank_module, "GUARDED", tuple(g for g in GUARDED if g.table not in QUEUES))

        def tracked_then(self: SqlAudit, table: str, where: str, params: tuple = ()) -> object:
            if table in QUEUES:
                return nullcontext(self._db)
            return tracked(self, table, where, params)

        old_code.setattr(SqlAudit, "tracked", tracked_then)
        with create_bank(location) as bank:
            _build(bank, bank_locations.new_location(), tmp_path)
            before = bank.audit.count()
    with open_bank(location, readonly=True) as bank:  # reads as it did, queues not yet covered
        report = bank.verify()
        assert report.ok and report.guarded == len(GUARDED) - 2, report.problems
        assert bank.audit.count() == before
    with open_bank(location) as bank:  # the first open for writing seals the queues
        assert bank.audit.count() == before + 1
        (seal,) = [e for e in bank.audit.events() if e.action == "bank.seal"]
        assert seal.detail["sealed"] == list(QUEUES)
    with open_bank(location) as bank:  # and only the first
        assert bank.audit.count() == before + 1
    code, output = _verify(location)
    assert code == 0 and f"{len(GUARDED)} guarded tables" in output, output
    _tamper(location, "UPDATE action_deliveries SET url = 'https://attacker.example/'")
    _tamper(location, "UPDATE programme_votes SET vote = 'up'")
    code, output = _verify(location)
    assert code == 5, output
    assert "action_deliveries changed outside hashwarden" in output
    assert "programme_votes changed outside hashwarden" in output


def test_a_table_dropped_from_the_seal_marker_is_named_read_only(built: str) -> None:
    """Read-only, a table the bank has not sealed yet is not vouched for; one the log sealed
    but the bank's marker no longer lists was hidden from verify behind hashwarden's back."""
    with open_bank(built, readonly=True) as bank:
        marker = json.loads(bank.db.query("SELECT value FROM meta WHERE key = 'guarded'")[0][0])
    hidden = json.dumps([t for t in marker if t != "action_deliveries"])
    _tamper(built, f"UPDATE meta SET value = '{hidden}' WHERE key = 'guarded'")
    _tamper(built, "UPDATE action_deliveries SET url = 'https://attacker.example/'")
    code, output = _verify(built)
    assert code == 5, output
    assert "action_deliveries was sealed by audit event 1 but the bank no longer lists" in output


def _untracked(self: SqlAudit, table: str, where: str, params: object = ()) -> object:
    """What writers did before tables were guarded: nothing."""
    return nullcontext(self._db)
