"""The trust model of exchange: keys are bound to the origins they sign for, and every peer
speaks only for itself (its upserts and removals change only its own claims)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hashwarden.bank import Bank, NewEntry, create_bank
from hashwarden.cli import app
from hashwarden.errors import ConflictError, IntegrityError
from hashwarden.exchange.bundle import (
    ORIGIN_KEY,
    add_trusted_key,
    build_bundle,
    generate_keys,
    import_bundle,
    key_origins,
    revoke_trusted_key,
    sign_body,
)
from hashwarden.signals import Signal

from ..conftest import BankLocations

M = "1" * 32  # a hash the receiving bank holds locally
N = "2" * 32  # a hash only peer A holds
S1 = "3" * 40  # a SHA-1 peer A knows for M's content


def _md5(value: str) -> Signal:
    return Signal("md5", value)


def _write(folder: Path, name: str, bundle: dict[str, Any]) -> Path:
    path = folder / name
    path.write_text(json.dumps(bundle))
    return path


@pytest.fixture
def new_bank(bank_locations: BankLocations) -> Iterator[Callable[[], Bank]]:
    """Makes new banks (SQLite files, or databases on the test PostgreSQL server)."""
    opened: list[Bank] = []

    def make() -> Bank:
        opened.append(create_bank(bank_locations.new_location()))
        return opened[-1]

    yield make
    for bank in opened:
        bank.close()


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    for name in ("a", "b", "c"):
        generate_keys(name, tmp_path)
    return tmp_path


def _forge(bundle: dict[str, Any], key: Path, **changes: object) -> dict[str, Any]:
    """The bundle's body with `changes`, signed anew with `key` (a trusted peer lying)."""
    return sign_body({**bundle["body"], **changes}, key)


# -- keys bound to origins -------------------------------------------------------------------
def test_a_peer_cannot_sign_for_another_origin_bound_on_first_use(
    new_bank: Callable[[], Bank], keys: Path
) -> None:
    a, b, r = new_bank(), new_bank(), new_bank()
    add_trusted_key(r, keys / "a.pub")
    add_trusted_key(r, keys / "b.pub")
    a.entries.add(NewEntry([_md5(N)], "csam-b", source="a"))
    import_bundle(r, _write(keys, "a1.json", build_bundle(a, since=0, key_path=keys / "a.key")))
    b.entries.add(NewEntry([_md5(M)], "cgi", source="b"))
    import_bundle(r, _write(keys, "b1.json", build_bundle(b, since=0, key_path=keys / "b.key")))
    assert key_origins(r) == {"a": [a.bank_id], "b": [b.bank_id]}

    # B, trusted, signs a bundle naming A's origin, continuing A's sequence.
    before = r.fingerprint()
    lie = _forge(
        build_bundle(b, since=0, key_path=keys / "b.key"),
        keys / "b.key",
        origin=a.bank_id,
        since=r.trust.bundle_sequence(a.bank_id),
        sequence=10_000,
        removals=[[["md5", N]]],
    )
    with pytest.raises(IntegrityError, match="origin"):
        import_bundle(r, _write(keys, "lie.json", lie))
    assert r.fingerprint() == before
    assert r.entries.lookup("md5", [N])

    # A's genuine bundles still apply (no replay lock-out).
    since = a.audit.head()[0]
    a.entries.add(NewEntry([_md5("4" * 32)], "csam-a", source="a"))
    counts = import_bundle(
        r, _write(keys, "a2.json", build_bundle(a, since=since, key_path=keys / "a.key"))
    )
    assert counts["added"] == 1
    assert r.verify().ok


def test_bindings_given_when_a_key_is_added(new_bank: Callable[[], Bank], keys: Path) -> None:
    a, b, r = new_bank(), new_bank(), new_bank()
    add_trusted_key(r, keys / "a.pub")  # bound on first use
    add_trusted_key(r, keys / "b.pub", origins=[b.bank_id])
    with pytest.raises(ConflictError, match="bound"):
        add_trusted_key(r, keys / "c.pub", origins=[b.bank_id])
    assert [k[0] for k in r.trust.all_keys()] == ["a", "b"]  # c refused whole
    b.entries.add(NewEntry([_md5(M)], "cgi", source="b"))
    # B claims A's origin before A ever sent anything: B is bound to its own origin.
    lie = _forge(
        build_bundle(b, since=0, key_path=keys / "b.key"), keys / "b.key", origin=a.bank_id
    )
    with pytest.raises(IntegrityError, match="origin"):
        import_bundle(r, _write(keys, "lie.json", lie))
    # A's key, not bound yet, cannot take B's origin either (bound to key b).
    a.entries.add(NewEntry([_md5(N)], "csam-b", source="a"))
    lie = _forge(
        build_bundle(a, since=0, key_path=keys / "a.key"), keys / "a.key", origin=b.bank_id
    )
    with pytest.raises(IntegrityError, match="origin"):
        import_bundle(r, _write(keys, "lie2.json", lie))
    assert key_origins(r) == {"b": [b.bank_id]}  # a refused bundle binds nothing
    import_bundle(r, _write(keys, "a1.json", build_bundle(a, since=0, key_path=keys / "a.key")))
    import_bundle(r, _write(keys, "b1.json", build_bundle(b, since=0, key_path=keys / "b.key")))
    assert key_origins(r) == {"a": [a.bank_id], "b": [b.bank_id]}
    bindings = [
        (e.action, e.detail.get("name"), e.detail.get("origin"), e.detail.get("origins"))
        for e in r.audit.events()
        if e.action.startswith("keys.")
    ]
    assert bindings == [
        ("keys.add", "a", None, []),
        ("keys.add", "b", None, [b.bank_id]),
        ("keys.bind", "a", a.bank_id, None),
    ]
    assert r.verify().ok


def test_keys_cli_binds_and_lists_origins(
    tmp_path: Path, keys: Path, cli_runner: CliRunner
) -> None:
    with create_bank(tmp_path / "a.db") as a, create_bank(tmp_path / "b.db") as b:
        a_id, b_id = a.bank_id, b.bank_id
        b.entries.add(NewEntry([_md5(M)], "cgi", source="b"))
        lie = _forge(build_bundle(b, since=0, key_path=keys / "b.key"), keys / "b.key", origin=a_id)
    create_bank(tmp_path / "r.db").close()
    r = str(tmp_path / "r.db")
    result = cli_runner.invoke(app, ["keys", "add", r, str(keys / "b.pub"), "--origin", b_id])
    assert result.exit_code == 0, result.output
    result = cli_runner.invoke(app, ["keys", "add", r, str(keys / "a.pub")])
    assert result.exit_code == 0, result.output
    listing = cli_runner.invoke(app, ["keys", "list", r]).output
    assert b_id in listing and "first use" in listing
    result = cli_runner.invoke(app, ["bundle", "import", r, str(_write(keys, "lie.json", lie))])
    assert result.exit_code == 5 and "origin" in result.output
    result = cli_runner.invoke(app, ["keys", "add", r, str(keys / "c.pub"), "--origin", "nope"])
    assert result.exit_code == 2


# -- every partner speaks only for itself ----------------------------------------------------
def test_a_peer_upsert_and_removal_only_change_its_own_claims(
    new_bank: Callable[[], Bank], keys: Path
) -> None:
    a, b, r = new_bank(), new_bank(), new_bank()
    add_trusted_key(r, keys / "a.pub")
    add_trusted_key(r, keys / "b.pub")
    local_id = r.entries.add(NewEntry([_md5(M)], "csam-a", "local-series", note="ours"))
    local_before = r.entries.get(local_id)

    # A holds M (as C, with a SHA-1 the receiver does not know) and N of its own.
    a_m = a.entries.add(
        NewEntry([_md5(M), Signal("sha1", S1)], "csam-c", "a-series", source="a", note="a's")
    )
    a_n = a.entries.add(NewEntry([_md5(N)], "csam-b", source="a"))
    counts = import_bundle(
        r, _write(keys, "a1.json", build_bundle(a, since=0, key_path=keys / "a.key"))
    )
    assert counts == {"added": 1, "updated": 0, "removed": 0, "claimed": 1, "withdrawn": 0}
    after = r.entries.get(local_id)
    assert (after.category, after.series, after.source, after.note, after.extra) == (
        "csam-a",
        "local-series",
        None,
        "ours",
        {},
    )
    assert after.signals == local_before.signals  # A's SHA-1 is not attached to our entry
    assert r.entries.lookup("sha1", [S1]) == {}
    assert r.provenance.conflicts() == {local_id: {"local": "csam-a", "peer:a": "csam-c"}}
    (n_id,) = r.entries.lookup("md5", [N]).values()
    assert r.entries.get(n_id).extra[ORIGIN_KEY] == a.bank_id

    # The receiver still publishes M as its own, with its own category.
    own = build_bundle(r, since=0, key_path=keys / "c.key")["body"]["upserts"]
    assert [(u["signals"], u["category"]) for u in own] == [([["md5", M]], "csam-a")]

    # B, another peer, can neither change nor remove A's entry (nor the local one).
    b.entries.add(NewEntry([_md5(N)], "cgi", source="b"))
    b.entries.add(NewEntry([_md5(M)], "cgi", source="b"))
    import_bundle(r, _write(keys, "b1.json", build_bundle(b, since=0, key_path=keys / "b.key")))
    b_since = b.audit.head()[0]
    for entry_id in list(b.entries.lookup("md5", [M, N]).values()):
        b.entries.remove(entry_id)
    counts = import_bundle(
        r, _write(keys, "b2.json", build_bundle(b, since=b_since, key_path=keys / "b.key"))
    )
    assert counts == {"added": 0, "updated": 0, "removed": 0, "claimed": 0, "withdrawn": 2}
    assert r.entries.get(n_id).category == "csam-b"
    assert r.entries.get(n_id).extra[ORIGIN_KEY] == a.bank_id
    assert r.entries.get(local_id).category == "csam-a"

    # A updates its own entry (applied), then removes M (withdraws its claim) and N (gone).
    a_since = a.audit.head()[0]
    a.entries.update(a_n, category="csam-a", note="regraded")
    counts = import_bundle(
        r, _write(keys, "a2.json", build_bundle(a, since=a_since, key_path=keys / "a.key"))
    )
    assert counts["updated"] == 1
    assert (r.entries.get(n_id).category, r.entries.get(n_id).note) == ("csam-a", "regraded")
    a_since = a.audit.head()[0]
    a.entries.remove(a_m)
    a.entries.remove(a_n)
    counts = import_bundle(
        r, _write(keys, "a3.json", build_bundle(a, since=a_since, key_path=keys / "a.key"))
    )
    assert counts == {"added": 0, "updated": 0, "removed": 1, "claimed": 0, "withdrawn": 1}
    assert r.entries.lookup("md5", [N]) == {}
    assert r.entries.get(local_id).category == "csam-a"
    assert r.provenance.conflicts() == {}
    assert [p[0] for p in r.provenance.claims(local_id)] == ["local"]
    assert r.verify().ok


def test_an_own_entry_update_does_not_take_others_signals(
    new_bank: Callable[[], Bank], keys: Path
) -> None:
    a, r = new_bank(), new_bank()
    add_trusted_key(r, keys / "a.pub")
    a_n = a.entries.add(NewEntry([_md5(N)], "csam-b", source="a"))
    import_bundle(r, _write(keys, "a1.json", build_bundle(a, since=0, key_path=keys / "a.key")))
    local_id = r.entries.add(NewEntry([Signal("sha1", S1)], "csam-c", source="police"))
    # A's next bundle says its entry N also has the SHA-1 the receiver holds locally.
    since = a.audit.head()[0]
    a.entries.update(a_n, note="more")
    body = build_bundle(a, since=since, key_path=keys / "a.key")["body"]
    body["upserts"][0]["signals"].append(["sha1", S1])
    import_bundle(r, _write(keys, "a2.json", sign_body(body, keys / "a.key")))
    (n_id,) = r.entries.lookup("md5", [N]).values()
    assert r.entries.lookup("sha1", [S1]) == {S1: local_id}
    assert r.entries.get(n_id).note == "more"
    assert r.entries.get(local_id).category == "csam-c"
    assert r.provenance.conflicts() == {local_id: {"peer:a": "csam-b", "police": "csam-c"}}
    assert r.verify().ok


def test_entries_from_a_peer_are_not_published_again_but_local_ones_are(
    tmp_path: Path, keys: Path
) -> None:
    with create_bank(tmp_path / "a.db") as a, create_bank(tmp_path / "r.db") as r:
        add_trusted_key(r, keys / "a.pub")
        a.entries.add(NewEntry([_md5(M)], "csam-c", source="a"))
        r.entries.add(NewEntry([_md5(M)], "csam-a", source="r"))
        import_bundle(r, _write(keys, "a.json", build_bundle(a, since=0, key_path=keys / "a.key")))
        body = build_bundle(r, since=0, key_path=keys / "c.key")["body"]
        assert [(u["category"], ORIGIN_KEY in u["extra"]) for u in body["upserts"]] == [
            ("csam-a", False)
        ]


def test_a_revoked_keys_origin_passes_to_a_new_key_only_when_added_for_it(
    tmp_path: Path, keys: Path
) -> None:
    with create_bank(tmp_path / "a.db") as a, create_bank(tmp_path / "r.db") as r:
        add_trusted_key(r, keys / "a.pub")
        add_trusted_key(r, keys / "b.pub")
        a.entries.add(NewEntry([_md5(N)], "csam-b", source="a"))
        first = build_bundle(a, since=0, key_path=keys / "a.key")
        import_bundle(r, _write(keys, "a1.json", first))
        revoke_trusted_key(r, "a")
        # A trusted peer cannot take over the origin of a revoked key by signing for it.
        since = a.audit.head()[0]
        a.entries.add(NewEntry([_md5(M)], "csam-a", source="a"))
        rotated = build_bundle(a, since=since, key_path=keys / "c.key")
        lie = _forge(rotated, keys / "b.key")
        with pytest.raises(IntegrityError, match="origin"):
            import_bundle(r, _write(keys, "lie.json", lie))
        # The admin hands the origin to A's new key, and A's bundles flow again.
        add_trusted_key(r, keys / "c.pub", origins=[a.bank_id])
        assert key_origins(r) == {"c": [a.bank_id]}
        assert import_bundle(r, _write(keys, "a2.json", rotated))["added"] == 1
        assert r.verify().ok


def test_a_peer_claim_never_counts_in_the_consensus(
    new_bank: Callable[[], Bank], keys: Path
) -> None:
    a, r = new_bank(), new_bank()
    add_trusted_key(r, keys / "a.pub")
    local_id = r.entries.add(NewEntry([_md5(M)], "csam-c", source="hotline"))
    a.entries.add(NewEntry([_md5(M)], "csam-a", source="a"))
    import_bundle(r, _write(keys, "a1.json", build_bundle(a, since=0, key_path=keys / "a.key")))
    assert r.provenance.conflicts()[local_id]["peer:a"] == "csam-a"
    # A local action recomputes the consensus: the peer's more severe claim stays out of it.
    assert r.provenance.vote(local_id, "analyst", "confirm") == "csam-c"
    assert r.entries.get(local_id).category == "csam-c"
    assert r.verify().ok
