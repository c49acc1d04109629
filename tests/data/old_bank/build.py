"""How `bank.db` and `expected.json` were made: run once with hashwarden at commit ac77ec1 (the
code before the bank was split into stores), from the repository root:

    PYTHONPATH=src python tests/data/old_bank/build.py

Kept for the record only: it uses the API of that commit (`SqliteBank`), which no longer exists.
tests/bank/test_old_bank.py checks that today's code opens, verifies and reads the file alike.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from hashwarden.bank import NewEntry, SqliteBank, create_bank
from hashwarden.exchange.bundle import (
    add_trusted_key,
    build_bundle,
    generate_keys,
    import_bundle,
    key_origins,
    revoke_trusted_key,
)
from hashwarden.index.matcher import Match
from hashwarden.reports.statistics import Event, record_events
from hashwarden.service.actions import ActionEngine, DeliverySettings, NewRule
from hashwarden.service.banks import NamedBanks
from hashwarden.service.keys import create_key, list_keys, revoke_key
from hashwarden.signals import Signal

HERE = Path(__file__).parent


def _md5(n: int) -> str:
    return f"{n:032x}"


def build(bank: SqliteBank, work: Path) -> None:
    ids = bank.add_entries(
        [NewEntry([Signal("md5", _md5(n))], "csam-a", source="hotline") for n in range(1, 7)],
        detail={"file": "first.csv"},
    ).added
    bank.add_entries(
        [
            NewEntry([Signal("md5", _md5(1)), Signal("sha1", "a" * 40)], "csam-b", source="ngo"),
            NewEntry([Signal("md5", _md5(7))], series="s1", note="n", extra={"k": "v"}),
        ]
    )
    bank.update_entry(ids[4], series="renamed")
    bank.add_known_good("os", [Signal("md5", _md5(900)), Signal("sha1", "b" * 40)], source="x")
    bank.vote(ids[2], "hotline", "dispute", reason="not ours")
    bank.vote(ids[3], "hotline", "dispute", reason="wrong")
    bank.vote(ids[3], "hotline", "confirm")
    bank.remove_entry(ids[5], reason="mistake")

    create_key(bank, "platform", "matcher")
    create_key(bank, "old", "admin", rate_per_minute=60)
    revoke_key(bank, "old")
    banks = NamedBanks(bank)
    banks.create("mine", threshold=10, note="ours", actor="t")
    banks.create("fp", negative=True, actor="t")
    banks.create("past", actor="t")
    banks.add_members("mine", ids[:4], actor="t")
    banks.add_members("fp", [ids[4]], actor="t")
    banks.add_members("past", [ids[0]], actor="t")
    banks.disable_member("mine", ids[0], "2030-01-01", actor="t")
    banks.disable_member("mine", ids[1], "2001-01-01T00:00:00Z", actor="t")
    banks.update("fp", {"disabled_until": "2031-02-03T04:05:06Z"}, actor="t")
    banks.update("past", {"disabled_until": "2001-02-03T04:05:06Z"}, actor="t")

    engine = ActionEngine(bank, settings=DeliverySettings(trust_env=False))
    try:
        rule, _ = engine.add_rule(NewRule("kept", report=True, max_distance=3))
        match = Match(ids[0], "md5", _md5(1), 0, "csam-a", None, False)
        fired = engine.on_match([match], {"md5": _md5(1)}, uploader_ref="acct-1")
        assert fired is not None and fired.report is not None
        engine.review(fired.report, "confirmed", reviewer="alice", note="sent")
        engine.set_enabled(rule.id, False)
    finally:
        engine.close()

    record_events(
        bank,
        [
            Event("p2p", "known", "csam-a", at="2025-01-02T03:04:05.000000Z"),
            Event("web", "new", count=3, at="2025-02-01T00:00:00.000000Z"),
        ],
    )

    generate_keys("peer", work)
    generate_keys("former", work)
    add_trusted_key(bank, work / "peer.pub")
    add_trusted_key(bank, work / "former.pub")
    revoke_trusted_key(bank, "former")
    with create_bank(work / "peer.db") as peer:
        peer.add_entries([NewEntry([Signal("md5", _md5(n))], "csam-b") for n in (50, 51)])
        peer.add_entries([NewEntry([Signal("md5", _md5(2))], "csam-c")])
        bundle = build_bundle(peer, since=0, key_path=work / "peer.key")
    (work / "bundle.json").write_text(json.dumps(bundle))
    import_bundle(bank, work / "bundle.json")


def expected(bank: SqliteBank) -> dict[str, object]:
    report = bank.verify()
    stats = bank.stats()
    return {
        "verify": {"events": report.events, "entries": report.entries, "guarded": report.guarded},
        "stats": {
            "entries": stats.entries,
            "signals_by_kind": stats.signals_by_kind,
            "entries_by_category": stats.entries_by_category,
            "known_good_sets": stats.known_good_sets,
            "audit_events": stats.audit_events,
        },
        "bank_id": bank.bank_id,
        "fingerprint": bank.fingerprint(),
        "entries": [
            [e.id, sorted([s.kind, s.value] for s in e.signals), e.category, e.series, e.version]
            for e in bank.entries()
        ],
        "conflicts": {str(k): v for k, v in bank.conflicts().items()},
        "disputed": sorted(bank.disputed_entry_ids()),
        "trusted_keys": [
            [name, revoked is not None] for name, _, _, revoked in bank.trusted_keys()
        ],
        "key_origins": key_origins(bank),
        "api_keys": [[k.name, k.role, k.revoked is not None] for k in list_keys(bank)],
        "named_banks": [[b.name, b.disabled_until] for b in NamedBanks(bank).all()],
        "events": [list(r) for r in bank.events_between("2025-01-01", "2026")],
    }


def main() -> None:
    target = HERE / "bank.db"
    target.unlink(missing_ok=True)
    work = Path(tempfile.mkdtemp())
    try:
        with SqliteBank.create(target) as bank:
            build(bank, work)
            facts = expected(bank)
            assert bank.verify().ok, bank.verify().problems
            bank.query("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        shutil.rmtree(work)
    (HERE / "expected.json").write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
