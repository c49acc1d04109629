"""The PDQ index returns exactly what brute force returns, across adds, removes and reloads."""

from __future__ import annotations

import random
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hashwarden.bank import NewEntry, create_bank
from hashwarden.cli import app
from hashwarden.errors import DataError
from hashwarden.index import BankMatcher, PdqIndex, pdq_distance
from hashwarden.index import pdq as pdq_module
from hashwarden.index.saved import index_folder, save_index
from hashwarden.signals import Signal


def _brute(bank: dict[int, str], query: str, threshold: int) -> list[tuple[int, int]]:
    hits = [(i, pdq_distance(h, query)) for i, h in bank.items()]
    return sorted(((i, d) for i, d in hits if d <= threshold), key=lambda x: (x[1], x[0]))


def _flip(value: str, bits: int, rng: random.Random) -> str:
    number = int(value, 16)
    for bit in rng.sample(range(256), bits):
        number ^= 1 << bit
    return f"{number:064x}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    size=st.integers(0, 300),
    threshold=st.integers(0, 64),
    near=st.lists(st.integers(0, 70), min_size=1, max_size=8),
    removals=st.integers(0, 20),
    additions=st.integers(0, 20),
    multi_index=st.booleans(),
    one_pass=st.booleans(),
)
def test_index_equals_brute_force(
    seed: int,
    size: int,
    threshold: int,
    near: list[int],
    removals: int,
    additions: int,
    multi_index: bool,
    one_pass: bool,
) -> None:
    # Brute force meets all queries in one pass when they are few enough, else one at a time.
    together = pdq_module._BRUTE_TOGETHER if one_pass else 0
    with patch.object(pdq_module, "_BRUTE_TOGETHER", together):
        _index_equals_brute_force(seed, size, threshold, near, (removals, additions), multi_index)


def _index_equals_brute_force(
    seed: int, size: int, threshold: int, near: list[int], changes: tuple[int, int], multi: bool
) -> None:
    removals, additions = changes
    rng = random.Random(seed)
    bank = {i: f"{rng.getrandbits(256):064x}" for i in range(size)}
    # Clusters of near duplicates, the realistic case.
    for i in range(0, size, 7):
        bank[i] = _flip(bank[0] if bank else f"{0:064x}", rng.randrange(0, 40), rng)
    index = PdqIndex(bank.keys(), bank.values())
    if multi:  # small indexes are searched by brute force unless told otherwise
        index.brute_force_below = 0
    for victim in rng.sample(sorted(bank), min(removals, len(bank))):
        index.remove([victim])
        del bank[victim]
    fresh = {
        size + k: _flip(
            rng.choice(list(bank.values())) if bank else f"{k:064x}", rng.randrange(0, 30), rng
        )
        for k in range(additions)
    }
    index.add(fresh.keys(), fresh.values())
    bank.update(fresh)
    queries = [
        _flip(rng.choice(list(bank.values())), bits, rng)
        if bank
        else f"{rng.getrandbits(256):064x}"
        for bits in near
    ]
    assert index.query_many(queries, threshold) == [_brute(bank, q, threshold) for q in queries]
    assert index.query(queries[0], threshold) == _brute(bank, queries[0], threshold)
    assert len(index) == len(bank)


def test_save_load_and_damage(tmp_path: Path) -> None:
    rng = random.Random(7)
    bank = {i: f"{rng.getrandbits(256):064x}" for i in range(500)}
    index = PdqIndex(bank.keys(), bank.values())
    index.add([1000], [_flip(bank[3], 5, rng)])
    index.save(tmp_path / "idx", {"bank_id": "x"})
    loaded, meta = PdqIndex.load(tmp_path / "idx")
    assert not loaded._words.flags.writeable  # mapped, not read into memory
    assert meta["bank_id"] == "x" and len(loaded) == 501
    query = _flip(bank[3], 2, rng)
    assert loaded.query(query, 31) == index.query(query, 31)
    assert [i for i, _ in loaded.query(query, 31)] == [3, 1000]
    data = (tmp_path / "idx").read_bytes()
    (tmp_path / "idx").write_bytes(data[: len(data) // 2])  # cut short
    with pytest.raises(DataError, match="runs past the end"):
        PdqIndex.load(tmp_path / "idx")
    (tmp_path / "idx").write_bytes(b"garbage")
    with pytest.raises(DataError, match="not a hashwarden array file"):
        PdqIndex.load(tmp_path / "idx")


def test_matcher_uses_the_saved_index_and_sees_later_changes(tmp_path: Path) -> None:
    rng = random.Random(3)
    hashes = [f"{rng.getrandbits(256):064x}" for _ in range(50)]
    with create_bank(tmp_path / "b.db") as bank:
        ids = bank.entries.add_many([NewEntry([Signal("pdq", h)], "csam") for h in hashes]).added
        folder, count = save_index(bank)
        assert count == 50 and folder == index_folder(bank)
        later = f"{rng.getrandbits(256):064x}"
        new_id = bank.entries.add(NewEntry([Signal("pdq", later)], "csam-a"))
        bank.entries.remove(ids[0])
        matcher = BankMatcher(bank)
        assert [m.entry for m in matcher.match({"pdq": _flip(later, 4, rng)}).matches] == [new_id]
        assert matcher.match({"pdq": hashes[0]}).matches == []
        assert [m.entry for m in matcher.match({"pdq": hashes[1]}).matches] == [ids[1]]
        # Changes after the matcher was built arrive with refresh().
        bank.entries.remove(ids[1])
        third = bank.entries.add(NewEntry([Signal("pdq", _flip(hashes[2], 3, rng))], "cgi"))
        assert matcher.refresh() == 2
        assert matcher.match({"pdq": hashes[1]}).matches == []
        assert {m.entry for m in matcher.match({"pdq": hashes[2]}).matches} == {ids[2], third}


def test_index_cli(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank = tmp_path / "b.db"
    with create_bank(bank) as b:
        b.entries.add(NewEntry([Signal("pdq", "ab" * 32)], "csam"))
    result = cli_runner.invoke(app, ["index", "status", str(bank)])
    assert result.exit_code == 4 and "not usable" in result.output
    result = cli_runner.invoke(app, ["index", "build", str(bank)])
    assert result.exit_code == 0 and "indexed 1 PDQ hashes" in result.output
    result = cli_runner.invoke(app, ["index", "status", str(bank)])
    assert result.exit_code == 0 and "up to date" in result.output
    result = cli_runner.invoke(app, ["match", "--bank", str(bank), "--pdq", "ab" * 31 + "aa"])
    assert result.exit_code == 1 and "distance 1" in result.output
