"""The case store's columns and the vectorised retro-hunt matching: the same pairs as comparing
everything with everything (random hashes and planted near ones, every threshold), the same hits
as the store's rows give, built for stores from before the columns, removed with their case."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashwarden.bank import NewEntry, create_bank
from hashwarden.cases import CaseStore, retro_hunt
from hashwarden.cases import columns as columns_module
from hashwarden.cases.columns import DigestMatcher, NearMatcher
from hashwarden.cases.retro import NewEntries, Part, match_part
from hashwarden.errors import DataError
from hashwarden.index.matcher import MIN_PDQ_QUALITY
from hashwarden.scan import FileRecord
from hashwarden.signals import Signal
from hashwarden.signals.hashing import ContentHashes

VARIANTS = ("rotate90", "flip_horizontal", "trimmed")


def _near(rng: np.random.Generator, row: np.ndarray, bits: int) -> np.ndarray:
    """`row` (32 bytes) with `bits` of its bits flipped."""
    unpacked = np.unpackbits(row)
    unpacked[rng.choice(256, bits, replace=False)] ^= 1
    return np.packbits(unpacked)


def _brute_pairs(
    stored: np.ndarray, wanted: np.ndarray, threshold: int
) -> set[tuple[int, int, int]]:
    pairs = set()
    for i, a in enumerate(stored):
        for j, b in enumerate(wanted):
            distance = (int.from_bytes(a.tobytes()) ^ int.from_bytes(b.tobytes())).bit_count()
            if distance <= threshold:
                pairs.add((i, j, distance))
    return pairs


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    stored_n=st.integers(0, 120),
    wanted_n=st.integers(0, 40),
    threshold=st.sampled_from([0, 1, 15, 16, 31, 32, 47, 48, 70]),
)
def test_near_pairs_are_every_pair_within_the_threshold(
    seed: int, stored_n: int, wanted_n: int, threshold: int
) -> None:
    rng = np.random.default_rng(seed)
    stored = rng.integers(0, 256, (stored_n, 32), dtype=np.uint8)
    wanted = rng.integers(0, 256, (wanted_n, 32), dtype=np.uint8)
    for j in range(min(wanted_n, stored_n)):  # planted: around the threshold, either side
        bits = int(rng.integers(max(0, threshold - 3), threshold + 3))
        wanted[j] = _near(rng, stored[int(rng.integers(stored_n))], min(bits, 256))
    if stored_n > 3 and wanted_n > 1:
        stored[1] = stored[0]  # the same hash stored twice
        wanted[1] = _near(rng, stored[0], 1)
    with pytest.MonkeyPatch.context() as patch:
        # Small chunks and blocks: their edges are crossed, as millions of rows cross them.
        patch.setattr(columns_module, "CHUNK", 16)
        patch.setattr(columns_module, "INDEXED", 8)
        rows, wants, distances = NearMatcher(wanted, threshold).pairs(stored)
    found = list(zip(rows.tolist(), wants.tolist(), distances.tolist(), strict=True))
    assert found == sorted(found)  # ordered, each pair once
    assert set(found) == _brute_pairs(stored, wanted, threshold)


def test_digests_are_matched_whole_not_by_their_first_bytes() -> None:
    rng = np.random.default_rng(7)
    stored = rng.integers(0, 256, (50, 16), dtype=np.uint8)
    twin = stored[3].copy()
    twin[15] ^= 1  # the same first 8 bytes, another digest
    wanted = [stored[3].tobytes(), twin.tobytes(), stored[40].tobytes(), bytes(16)]
    stored[41] = stored[40]
    assert DigestMatcher(wanted).matches(stored) == [(3, 0), (40, 2), (41, 2)]
    assert DigestMatcher([]).matches(stored) == []


def _hex(rng: np.random.Generator, size: int) -> str:
    return rng.integers(0, 256, size, dtype=np.uint8).tobytes().hex()


def _store(root: Path, rng: np.random.Generator, files: int) -> tuple[CaseStore, list[str]]:
    """A store of two cases of random image files (some of low PDQ quality), through the
    writer a scan uses; also the PDQ of every stored file and variant."""
    store = CaseStore.open(root, create=True)
    pdqs: list[str] = []
    for case in ("one", "two"):
        writer = store.writer(case)
        for i in range(files):
            digests = [_hex(rng, 16), _hex(rng, 20), _hex(rng, 32)]
            own = [_hex(rng, 32) for _ in range(1 + len(VARIANTS))]
            quality = 30 if i % 7 == 0 else 90
            hashes = ContentHashes(
                10,
                *digests,
                "image/jpeg",
                own[0],
                quality,
                pdq_variants=dict(zip(VARIANTS, own[1:], strict=True)),
                extra={"ed2k": _hex(rng, 16)},
            )
            record = FileRecord(f"{case}/{i}.jpg", "unknown", 10, *digests, own[0], quality)
            writer.add(record, hashes)
            pdqs += own
        writer.close({"bank_fingerprint": "id:1:x"})
    return store, pdqs


def _reference(store: CaseStore, new: NewEntries, threshold: int) -> list[tuple[object, ...]]:
    """The hits as the rows of `hashes` give them, compared one by one: for each (file, entry)
    the nearest, the original before a variant, an exact kind before PDQ, then by kind name;
    low-quality PDQ left out."""
    nearest: dict[tuple[int, int], tuple[object, ...]] = {}
    rows = store.db.query(
        "SELECT h.file_id, h.kind, h.variant, h.value, f.pdq_quality FROM hashes h"
        " JOIN files f ON f.id = h.file_id"
    )
    for file_id, kind, variant, value, quality in rows:
        found: list[tuple[int, int]] = []
        if kind == "pdq" and (quality is None or quality >= MIN_PDQ_QUALITY):
            for entry_id, wanted in zip(new.pdq_ids, new.pdq_values, strict=True):
                distance = (int(value, 16) ^ int(wanted, 16)).bit_count()
                if distance <= threshold:
                    found.append((entry_id, distance))
        elif kind in new.exact and value in new.exact[kind]:
            found = [(entry_id, 0) for entry_id in new.exact[kind][value]]
        for entry_id, distance in found:
            hit = (file_id, entry_id, kind, variant, value, distance)
            best = nearest.get((file_id, entry_id))
            preference = (distance, variant, kind == "pdq", kind)
            if best is None or preference < (best[5], best[3], best[2] == "pdq", best[2]):
                nearest[(file_id, entry_id)] = hit
    return sorted(nearest.values())


def _entries(rng: np.random.Generator, store: CaseStore, pdqs: list[str]) -> NewEntries:
    stored = {
        kind: [
            str(r[0]) for r in store.db.query("SELECT value FROM hashes WHERE kind = ?", (kind,))
        ]
        for kind in ("md5", "sha1", "sha256", "ed2k")
    }
    exact = {
        kind: {values[i]: [100 + n, 200 + n] if n == 0 else [100 + n] for n, i in enumerate(picks)}
        for kind, values in stored.items()
        for picks in [rng.choice(len(values), 4, replace=False)]
    }
    exact["md5"]["ab" * 16] = [300]  # matches nothing
    pdq_values = []
    for _ in range(30):
        raw = np.frombuffer(bytes.fromhex(pdqs[int(rng.integers(len(pdqs)))]), dtype=np.uint8)
        pdq_values.append(_near(rng, raw.copy(), int(rng.integers(0, 40))).tobytes().hex())
    pdq_values.append(_hex(rng, 32))  # far from everything
    return NewEntries(exact, [1000 + n for n in range(len(pdq_values))], pdq_values)


@pytest.mark.parametrize("threshold", [31, 52])
def test_match_part_gives_the_hits_the_stored_rows_give(tmp_path: Path, threshold: int) -> None:
    rng = np.random.default_rng(threshold)
    store, pdqs = _store(tmp_path / "s", rng, 60)
    with store:
        new = _entries(rng, store, pdqs)
        expected = _reference(store, new, threshold)
        ids = (store.case_id("one"), store.case_id("two"))
        lo, hi = store.file_range(ids)
    whole = match_part(Part(tmp_path / "s", ids, lo, hi), new, threshold)
    cut = [
        hit
        for start in range(lo, hi + 1, 7)
        for hit in match_part(Part(tmp_path / "s", ids, start, start + 6), new, threshold)
    ]
    assert whole == expected == sorted(cut)
    assert {h[2] for h in whole} == {"md5", "sha1", "sha256", "ed2k", "pdq"}
    assert any(h[3] for h in whole)  # variants found, by name
    only_two = match_part(Part(tmp_path / "s", ids[1:], lo, hi), new, threshold)
    assert only_two == [h for h in expected if int(str(h[0])) > hi - 60]


def test_a_store_from_before_the_columns_gets_them_at_its_first_hunt(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    store, pdqs = _store(tmp_path / "s", rng, 20)
    bank = create_bank(tmp_path / "b.db")
    with store, bank:
        value = str(store.db.query("SELECT value FROM hashes WHERE kind = 'sha1' LIMIT 1")[0][0])
        bank.entries.add_many(
            [
                NewEntry([Signal("sha1", value)], "csam-a"),
                NewEntry([Signal("pdq", pdqs[5])], "csam-b"),
            ]
        )
        one = store.case_id("one")
        part = Part(tmp_path / "s", (one,), *store.file_range([one]))
        shutil.rmtree(tmp_path / "s" / "columns")  # as a store written before them
        with pytest.raises(DataError, match="no columns"):
            match_part(part, NewEntries(), 31)
        result = retro_hunt(bank, store, since=0)
        assert result.matched == 2
        assert sorted(p.name for p in (tmp_path / "s" / "columns").iterdir()) == ["1", "2"]
        assert store.build_columns([1, 2]) == 0  # built once


def test_columns_are_whole_when_kept_and_go_with_their_case(tmp_path: Path) -> None:
    with CaseStore.open(tmp_path / "s", create=True) as store:
        running = store.writer("c")
        running.add(FileRecord("x.jpg", "unknown", 3, md5="0" * 32), None)
        running._flush()
        assert store.columns(running.scan_id, partial=True).is_dir()
        assert not store.columns(running.scan_id).exists()  # not kept: not read
        running.abort()
        assert not store.columns(running.scan_id, partial=True).exists()
        kept = store.writer("c")
        kept.add(FileRecord("y.jpg", "unknown", 3, md5="1" * 32), None)
        kept.close({})
        assert [p.name for p in store.columns(kept.scan_id).iterdir()] == [
            f"{store.file_range([store.case_id('c')])[0]:012d}.arrays"
        ]
        empty = store.writer("d")
        empty.close({})  # a scan of nothing: an empty folder, nothing to read
        assert list(store.columns(empty.scan_id).iterdir()) == []
        store.delete("c")
        assert sorted(p.name for p in (tmp_path / "s" / "columns").iterdir()) == [
            str(empty.scan_id)
        ]
