"""A small bank matched without its indexes (`SmallBankMatcher`) answers every query as the
indexes do (`BankMatcher`), and `open_matcher` picks it only for a small bank."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashwarden.bank import NewEntry, create_bank
from hashwarden.index import BankMatcher, SmallBankMatcher, open_matcher, small
from hashwarden.index.small import is_small
from hashwarden.signals import Signal


def _near(rng: random.Random, pdq: str, bits: int) -> str:
    """`pdq` with `bits` distinct bits flipped."""
    flipped = int(pdq, 16)
    for bit in rng.sample(range(256), bits):
        flipped ^= 1 << bit
    return f"{flipped:064x}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    size=st.integers(0, 40),
    threshold=st.one_of(st.integers(0, 40), st.integers(0, 256)),
    flips=st.lists(st.integers(0, 140), min_size=1, max_size=6),
    exclude_disputed=st.booleans(),
)
def test_small_bank_answers_as_the_indexes(
    seed: int, size: int, threshold: int, flips: list[int], exclude_disputed: bool
) -> None:
    rng = random.Random(seed)
    # A few base hashes and their near copies, so banked hashes lie at every distance.
    bases = [f"{rng.getrandbits(256):064x}" for _ in range(3)]
    pdqs = list({_near(rng, rng.choice(bases), rng.randrange(60)) for _ in range(size)})
    md5s = [f"{rng.getrandbits(128):032x}" for _ in pdqs]
    with tempfile.TemporaryDirectory() as tmp, create_bank(Path(tmp) / "b.db") as bank:
        entries = [
            NewEntry([Signal("pdq", p), Signal("md5", m)], rng.choice(["csam-a", "csam-b"]))
            for p, m in zip(pdqs, md5s, strict=True)
        ]
        if entries:
            bank.entries.add_many(entries)
        shared = f"{rng.getrandbits(128):032x}"
        bank.known_good.add("os", [Signal("md5", shared), Signal("sha1", "a" * 40)])
        bank.known_good.add("apps", [Signal("md5", shared)])
        small = SmallBankMatcher(bank, threshold=threshold, exclude_disputed=exclude_disputed)
        indexed = BankMatcher(bank, threshold=threshold, exclude_disputed=exclude_disputed)
        for bits in flips:
            pdq = _near(rng, rng.choice(pdqs or bases), min(bits, 256))
            query = {"pdq": pdq, "md5": rng.choice([*md5s, shared, "0" * 32, "A" * 32])}
            variants = {"rotate90": _near(rng, pdq, rng.randrange(40))}
            for kwargs in ({}, {"pdq_variants": variants}, {"pdq_quality": 10}):
                assert small.match(query, **kwargs) == indexed.match(query, **kwargs), kwargs
        assert small.match({"sha1": "a" * 40}) == indexed.match({"sha1": "a" * 40})


def test_open_matcher_scans_a_small_bank_only(tmp_path: Path) -> None:
    with create_bank(tmp_path / "b.db") as bank:
        bank.entries.add_many([NewEntry([Signal("md5", f"{i:032x}")]) for i in range(3)])
        bank.known_good.add("os", [Signal("sha1", "a" * 40)])
        assert is_small(bank, limit=4) and not is_small(bank, limit=3)
        matcher = open_matcher(bank, threshold=10, exclude_disputed=True)
        assert isinstance(matcher, SmallBankMatcher)
        assert (matcher.threshold, matcher.exclude_disputed) == (10, True)


def test_open_matcher_indexes_a_large_bank(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(small, "SMALL_BANK", 2)
    with create_bank(tmp_path / "b.db") as bank:
        bank.entries.add_many([NewEntry([Signal("md5", f"{i:032x}")]) for i in range(3)])
        matcher = open_matcher(bank, threshold=7, exclude_disputed=True)
        assert isinstance(matcher, BankMatcher)
        assert (matcher.threshold, matcher.exclude_disputed) == (7, True)
