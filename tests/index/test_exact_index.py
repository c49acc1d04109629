"""Exact-kind tables answer as a dict would (and as the bank's SQL does), across adds, removes,
saves and refreshes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashwarden.bank import NewEntry, create_bank
from hashwarden.index import BankMatcher
from hashwarden.index import saved as saved_module
from hashwarden.index.exact import ExactIndex, ExactTable
from hashwarden.index.saved import save_index
from hashwarden.signals import Signal


def _model_find(model: dict[str, list[int]], queries: list[str]) -> list[tuple[int, int]]:
    return sorted((i, label) for i, q in enumerate(queries) for label in model.get(q, []))


def _table_find(table: ExactTable, queries: list[str]) -> list[tuple[int, int]]:
    positions, labels = table.find(queries)
    return sorted(zip(positions.tolist(), labels.tolist(), strict=True))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    size=st.integers(0, 400),
    digits=st.sampled_from([32, 40, None]),
    removals=st.integers(0, 30),
    additions=st.integers(0, 30),
    odd=st.integers(0, 3),
)
def test_table_equals_a_dict(
    seed: int, size: int, digits: int | None, removals: int, additions: int, odd: int
) -> None:
    rng = random.Random(seed)
    width = digits or 20

    def value() -> str:
        # Few distinct leading bytes, so 64-bit keys collide and full rows must decide.
        return f"{rng.randrange(4):02x}" + f"{rng.getrandbits(width * 4):0{width}x}"[2:]

    model: dict[str, list[int]] = {}
    values = [value() for _ in range(size)]
    # Not canonical hex (upper case, wrong length): kept aside, still found as text.
    values += [value().upper() for _ in range(odd)] + ["xyz"] * min(odd, 1)
    for label, v in enumerate(values):
        model.setdefault(v, []).append(label)
    table = ExactTable(digits)
    table.add(values, list(range(len(values))))
    if rng.random() < 0.5:
        table.compact()
    gone = rng.sample(range(len(values)), min(removals, len(values)))
    table.remove_labels(gone)
    model = {v: [x for x in ls if x not in gone] for v, ls in model.items()}
    fresh = [value() for _ in range(additions)] + [rng.choice(values)] if values else []
    table.add(fresh, [10_000 + k for k in range(len(fresh))])
    for k, v in enumerate(fresh):
        model.setdefault(v, []).append(10_000 + k)
    queries = [rng.choice(values + fresh) for _ in range(8)] if values else []
    queries += [value(), value().upper(), "", "0" * width]
    assert _table_find(table, queries) == _model_find(model, queries)
    assert len(table) == sum(len(ls) for ls in model.values())


def test_save_and_load_memory_mapped(tmp_path: Path) -> None:
    index = ExactIndex({"md5": 32, "photodna": None})
    index.add("md5", ["ab" * 16, "AB" * 16], [1, 2])
    index.add("photodna", ["opaque=="], [3])
    index.save(tmp_path / "x", {"sets": ["a"]})
    loaded, meta = ExactIndex.load(tmp_path / "x")
    assert meta["sets"] == ["a"]
    for kind, values in (("md5", ["ab" * 16, "AB" * 16, "cd" * 16]), ("photodna", ["opaque=="])):
        found = loaded.find(kind, values)
        assert found is not None
        assert found[1].tolist() == index.find(kind, values)[1].tolist()  # type: ignore[index]
    assert not loaded.tables["photodna"].verified and loaded.find("sha1", ["0"]) is None


MD5 = "0123456789abcdef" * 2
SHA1 = "f" * 40


def test_matcher_exact_kinds_known_good_and_refresh(tmp_path: Path) -> None:
    with create_bank(tmp_path / "b.db") as bank:
        first = bank.entries.add(NewEntry([Signal("md5", MD5), Signal("photodna", "pd1")], "csam"))
        bank.known_good.add("os", [Signal("sha1", SHA1)])
        bank.known_good.add("apps", [Signal("sha1", SHA1), Signal("photodna", "kg")])
        matcher = BankMatcher(bank)
        result = matcher.match({"md5": MD5, "sha1": SHA1, "photodna": "pd1"})
        assert {(m.entry, m.kind) for m in result.matches} == {(first, "md5"), (first, "photodna")}
        assert result.known_good == ["apps", "os"]
        assert matcher.match({"photodna": "kg"}).known_good == ["apps"]
        assert matcher.match({"md5": MD5.upper(), "photodna": "pd"}).matches == []
        # Changes after the matcher was built: added found, removed gone, new known-good sets.
        second = bank.entries.add(NewEntry([Signal("sha256", "a" * 64)], "cgi"))
        bank.entries.remove(first)
        bank.known_good.add("later", [Signal("md5", "e" * 32)])
        assert matcher.refresh() == 3
        assert matcher.match({"md5": MD5, "photodna": "pd1"}).matches == []
        assert [m.entry for m in matcher.match({"sha256": "a" * 64}).matches] == [second]
        assert matcher.match({"md5": "e" * 32}).known_good == ["later"]


def test_matcher_loads_saved_exact_tables_and_applies_later_changes(tmp_path: Path) -> None:
    with create_bank(tmp_path / "b.db") as bank:
        ids = bank.entries.add_many(
            [NewEntry([Signal("md5", f"{i:032x}")], "csam") for i in range(100)]
        ).added
        bank.known_good.add("os", [Signal("md5", "f" * 32)])
        folder, _ = save_index(bank)
        assert {p.name for p in folder.iterdir()} >= {"entries", "known_good"}
        bank.entries.remove(ids[5])
        new = bank.entries.add(NewEntry([Signal("md5", "d" * 32)], "cgi"))
        matcher = BankMatcher(bank)
        assert matcher.match({"md5": f"{5:032x}"}).matches == []
        assert [m.entry for m in matcher.match({"md5": f"{6:032x}"}).matches] == [ids[6]]
        assert [m.entry for m in matcher.match({"md5": "d" * 32}).matches] == [new]
        assert matcher.match({"md5": "f" * 32}).known_good == ["os"]


def test_large_known_good_kinds_stay_in_the_bank(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(saved_module, "KNOWN_GOOD_IN_MEMORY", 1)
    with create_bank(tmp_path / "b.db") as bank:
        bank.known_good.add("nsrl", [Signal("md5", "1" * 32), Signal("md5", "2" * 32)])
        bank.known_good.add("os", [Signal("sha1", SHA1)])
        matcher = BankMatcher(bank)
        assert "md5" not in matcher.known_good_index.index.tables  # asked of the bank
        assert "sha1" in matcher.known_good_index.index.tables
        assert matcher.match({"md5": "2" * 32, "sha1": SHA1}).known_good == ["nsrl", "os"]
        assert matcher.match({"md5": "3" * 32}).known_good == []
