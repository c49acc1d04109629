"""A search complete only up to 31 but verified further (the match service's noisy band):
exact within 31, a subset of brute force beyond, and nearly all of it at a few bits past."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashwarden.index import PdqIndex, pdq_distance


def _flip(value: str, bits: int, rng: random.Random) -> str:
    number = int(value, 16)
    for bit in rng.sample(range(256), bits):
        number ^= 1 << bit
    return f"{number:064x}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    size=st.integers(1, 300),
    complete=st.integers(0, 31),
    extra=st.integers(1, 20),
    near=st.lists(st.integers(0, 60), min_size=1, max_size=6),
    multi_index=st.booleans(),
)
def test_complete_up_to_then_a_subset(
    seed: int, size: int, complete: int, extra: int, near: list[int], multi_index: bool
) -> None:
    rng = random.Random(seed)
    bank = {i: f"{rng.getrandbits(256):064x}" for i in range(size)}
    for i in range(0, size, 5):
        bank[i] = _flip(bank[0], rng.randrange(0, 50), rng)
    index = PdqIndex(bank.keys(), bank.values())
    if multi_index:  # small indexes are searched by brute force unless told otherwise
        index.brute_force_below = 0
    bank[size] = _flip(bank[0], rng.randrange(0, 50), rng)
    index.add([size], [bank[size]])  # one in the delta, searched by brute force
    threshold = complete + extra
    for bits in near:
        query = _flip(rng.choice(list(bank.values())), bits, rng)
        truth = sorted(
            ((i, d) for i, h in bank.items() if (d := pdq_distance(h, query)) <= threshold),
            key=lambda x: (x[1], x[0]),
        )
        got = index.query(query, threshold, complete=complete)
        assert set(got) <= set(truth)
        assert [hit for hit in got if hit[1] <= complete] == [
            hit for hit in truth if hit[1] <= complete
        ]
        assert got == sorted(got, key=lambda x: (x[1], x[0]))


def test_nearly_every_hash_a_few_bits_past_is_found() -> None:
    rng = random.Random(5)
    bank = {i: f"{rng.getrandbits(256):064x}" for i in range(2000)}
    index = PdqIndex(bank.keys(), bank.values())
    index.brute_force_below = 0  # the multi-index's band, not brute force's whole answer
    found = missed = 0
    for _ in range(600):
        target = rng.randrange(2000)
        query = _flip(bank[target], rng.randint(32, 40), rng)
        hits = dict(index.query(query, 40, complete=31))
        found += target in hits
        missed += target not in hits
    assert missed <= 0.02 * (found + missed)
