"""The distance oracle: a key that may not read the bank must not rebuild a banked PDQ hash
from match answers, while every copy within the threshold is still reported.

The attacks run against the service as a `matcher` key would run them: the issue's one bit a
request (exact distances), the boundary walk (a sharp match/no-match edge is a one-bit oracle),
and a smarter boundary attack that repeats each bit with random extra flips.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from hashwarden.bank import Bank
from hashwarden.bank.base import NewEntry
from hashwarden.service import ServiceSettings, create_app
from hashwarden.service.keys import create_key
from hashwarden.service.privacy import MatchPrivacy, acceptance, reach
from hashwarden.signals.base import Signal

THRESHOLD = 31
BANKED = f"{random.Random(13).getrandbits(256):064x}"


def flip(value: str, *bits: int) -> str:
    number = int(value, 16)
    for bit in bits:
        number ^= 1 << bit
    return f"{number:064x}"


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def near_copy(rng: random.Random, bits: int) -> str:
    return flip(BANKED, *rng.sample(range(256), bits))


class Stopped(Exception):
    """The service refused to answer (the attack was caught)."""


@dataclass
class Matcher:
    """The attacker: a `matcher` key asking one route; counts its requests."""

    client: TestClient
    headers: dict[str, str]
    entry: int
    route: str = "hashes"
    requests: int = 0

    def ask(self, pdq: str) -> int | None:
        """The distance reported for the banked entry, or None when it did not match."""
        self.requests += 1
        if self.route == "raw":
            got = self.client.get(
                "/m/raw_lookup",
                params={"signal_type": "pdq", "signal": pdq, "include_distance": "true"},
                headers=self.headers,
            )
        else:
            got = self.client.post(
                "/v1/match/hashes", json={"signals": {"pdq": pdq}}, headers=self.headers
            )
        if got.status_code == 429:
            raise Stopped(got.json()["detail"])
        assert got.status_code == 200, got.text
        if self.route == "raw":
            hits = [m for m in got.json()["matches"] if m["bank_content_id"] == self.entry]
            return int(hits[0]["distance"]) if hits else None
        hits = [m for m in got.json()["matches"] if m["entry"] == self.entry]
        return int(hits[0]["distance"]) if hits else None


#: A fixed noise key, so that each attack below sees the same answers on every run (a
#: deployment's own key is random, kept in its bank).
NOISE_KEY = "tests-noise-key"


def _service(bank: Bank, privacy: MatchPrivacy | None = None) -> tuple[TestClient, int]:
    entry = bank.entries.add(NewEntry([Signal("pdq", BANKED)], category="csam-a"))
    privacy = privacy or MatchPrivacy(secret=NOISE_KEY)
    settings = ServiceSettings(threshold=THRESHOLD, privacy=privacy)
    return TestClient(create_app(settings, bank)), entry


def _key(bank: Bank, role: str, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_key(bank, name, role)}"}


# -- the attacks -------------------------------------------------------------------------------
def one_bit_a_request(attacker: Matcher, start: str) -> str:
    """The issue's attack: from a near copy, flip each bit once; a smaller distance means the
    bit differed from the banked hash. 257 requests."""
    base = attacker.ask(start)
    assert base is not None
    rebuilt = int(start, 16)
    for bit in range(256):
        got = attacker.ask(flip(start, bit))
        if got is not None and got < base:
            rebuilt ^= 1 << bit
    return f"{rebuilt:064x}"


def walk_to_the_edge(attacker: Matcher, start: str, rng: random.Random) -> str:
    """Flip random bits until the copy stops matching: the first hash past the edge."""
    current = start
    for bit in rng.sample(range(256), 256):
        following = flip(current, bit)
        if attacker.ask(following) is None:
            return following
        current = following
    raise AssertionError("never left the threshold")


def boundary_attack(attacker: Matcher, start: str, rng: random.Random) -> str:
    """Just past a sharp edge, flipping a bit that differs from the banked hash brings the copy
    back within the threshold: one request a bit."""
    edge = walk_to_the_edge(attacker, start, rng)
    rebuilt = int(edge, 16)
    for bit in range(256):
        if attacker.ask(flip(edge, bit)) is not None:
            rebuilt ^= 1 << bit
    return f"{rebuilt:064x}"


def repeated_boundary_attack(
    attacker: Matcher, start: str, rng: random.Random, *, repeats: int, extra: int = 2
) -> str:
    """The smarter attack on a noisy edge: each bit asked `repeats` times, each time with
    `extra` random other bits flipped (a fresh query, so fresh noise). A bit's score is the
    share of matches among all the queries that flipped it; bits scoring above the rest are
    taken to differ (split where the two groups separate best)."""
    edge = walk_to_the_edge(attacker, start, rng)
    hits, asked = [0] * 256, [0] * 256
    for bit in range(256):
        for _ in range(repeats):
            flipped = [bit, *rng.sample([b for b in range(256) if b != bit], extra)]
            matched = attacker.ask(flip(edge, *flipped)) is not None
            for b in flipped:
                hits[b] += matched
                asked[b] += 1
    rates = [hits[b] / asked[b] for b in range(256)]
    order = sorted(range(256), key=lambda b: rates[b], reverse=True)
    best_split, best_gap = 0, -1.0
    for split in range(1, 256):
        high, low = [rates[b] for b in order[:split]], [rates[b] for b in order[split:]]
        gap = split * (256 - split) * (sum(high) / split - sum(low) / (256 - split)) ** 2
        if gap > best_gap:
            best_split, best_gap = split, gap
    rebuilt = int(edge, 16)
    for bit in order[:best_split]:
        rebuilt ^= 1 << bit
    return f"{rebuilt:064x}"


# -- the attacks fail -------------------------------------------------------------------------
@pytest.mark.parametrize("route", ["hashes", "raw"])
def test_one_bit_a_request_learns_nothing(bank: Bank, route: str) -> None:
    client, entry = _service(bank)
    attacker = Matcher(client, _key(bank, "matcher", "platform"), entry, route)
    start = near_copy(random.Random(1), 8)
    rebuilt = one_bit_a_request(attacker, start)
    assert attacker.requests == 257
    # every near match reads alike: the attacker ends where it started, no closer
    assert rebuilt != BANKED and distance(rebuilt, BANKED) >= distance(start, BANKED)


def test_the_boundary_attack_is_stopped(bank: Bank, caplog: pytest.LogCaptureFixture) -> None:
    client, entry = _service(bank)
    attacker = Matcher(client, _key(bank, "matcher", "prober"), entry)
    honest = Matcher(client, _key(bank, "matcher", "platform"), entry)
    with caplog.at_level(logging.WARNING), pytest.raises(Stopped, match="probing"):
        boundary_attack(attacker, near_copy(random.Random(2), 8), random.Random(3))
    stopped_after = attacker.requests
    assert stopped_after < 256 + 64  # stopped before one request a bit
    assert MatchPrivacy().probe_budget <= stopped_after
    with pytest.raises(Stopped):
        attacker.ask(BANKED)  # the whole key waits, exact matches included
    assert honest.ask(BANKED) == 0  # other keys are not affected
    events = [e for e in bank.audit.events() if e.action == "match.probe_suspend"]
    assert [(e.detail["key"], e.detail["entry"]) for e in events] == [("prober", entry)]
    assert any("probing" in r.getMessage() and "prober" in r.getMessage() for r in caplog.records)

    # an admin sees the suspension and lifts it
    admin = _key(bank, "admin", "ops")
    listed = client.get("/v1/match/suspensions", headers=admin).json()
    assert [(s["key"], s["entry"], s["strikes"], s["active"]) for s in listed] == [
        ("prober", entry, 1, True)
    ]
    assert client.get("/v1/match/suspensions", headers=attacker.headers).status_code == 403
    assert client.delete("/v1/match/suspensions/prober", headers=admin).status_code == 204
    assert client.delete("/v1/match/suspensions/prober", headers=admin).status_code == 404
    assert attacker.ask(BANKED) == 0
    assert any(e.action == "match.probe_lift" for e in bank.audit.events())


def test_with_a_sharp_edge_the_guard_alone_stops_the_boundary_attack(bank: Bank) -> None:
    """`HASHWARDEN_MATCH_JITTER=0`: both outcomes of each flip land in the watched zone, so
    the key is suspended long before one request a bit."""
    client, entry = _service(bank, MatchPrivacy(jitter=0, secret=NOISE_KEY))
    attacker = Matcher(client, _key(bank, "matcher", "prober"), entry)
    with pytest.raises(Stopped):
        boundary_attack(attacker, near_copy(random.Random(2), 8), random.Random(3))
    assert attacker.requests < 200


def test_a_suspension_answers_429_with_retry_after(bank: Bank) -> None:
    client, _ = _service(bank, MatchPrivacy(probe_budget=3, secret=NOISE_KEY))
    headers = _key(bank, "matcher", "prober")
    rng = random.Random(4)
    answers = []
    for _ in range(6):
        query = near_copy(rng, THRESHOLD + 1)  # just past the threshold: in the noisy band
        answers.append(
            client.post("/v1/match/hashes", json={"signals": {"pdq": query}}, headers=headers)
        )
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429, 429]
    assert int(answers[-1].headers["retry-after"]) > 3600
    lookup = client.get(f"/m/lookup?signal_type=pdq&signal={BANKED}", headers=headers)
    assert lookup.status_code == 429


def test_each_further_suspension_lasts_twice_as_long(bank: Bank) -> None:
    window = 600.0
    client, _ = _service(bank, MatchPrivacy(probe_budget=2, probe_window_s=window))
    headers = _key(bank, "matcher", "prober")
    rng = random.Random(15)

    def probe_until_refused() -> int:
        for _ in range(10):
            query = {"signals": {"pdq": near_copy(rng, THRESHOLD + 1)}}
            answer = client.post("/v1/match/hashes", json=query, headers=headers)
            if answer.status_code == 429:
                return int(answer.headers["retry-after"])
        raise AssertionError("never suspended")

    first = probe_until_refused()
    assert window - 60 < first <= window
    with bank.db.transaction() as conn:  # the first suspension runs out
        conn.execute("UPDATE match_suspensions SET until = '2000-01-01T00:00:00.000000Z'")
    time.sleep(1.1)  # past the one-second cache of suspensions
    second = probe_until_refused()
    assert 2 * window - 60 < second <= 2 * window
    strikes = [
        e.detail["strikes"] for e in bank.audit.events() if e.action == "match.probe_suspend"
    ]
    assert strikes == [1, 2]


def test_without_the_guard_the_noisy_edge_defeats_the_boundary_attacks(bank: Bank) -> None:
    """With the probe guard off, the edge's noise alone: the one-request-a-bit boundary attack
    and the smarter one (each bit asked 4 times with random extra flips, 1,024 requests past
    the walk) rebuild a hash further from the banked one than the threshold."""
    client, entry = _service(bank, MatchPrivacy(probe_budget=0, secret=NOISE_KEY))
    attacker = Matcher(client, _key(bank, "matcher", "prober"), entry)
    simple = boundary_attack(attacker, near_copy(random.Random(5), 8), random.Random(6))
    assert distance(simple, BANKED) > THRESHOLD
    smarter = repeated_boundary_attack(
        attacker, near_copy(random.Random(7), 8), random.Random(8), repeats=4
    )
    assert distance(smarter, BANKED) > THRESHOLD
    assert not any(e.action == "match.probe_suspend" for e in bank.audit.events())


# -- what must keep working ------------------------------------------------------------------
def test_recall_never_drops_and_far_copies_never_match(bank: Bank) -> None:
    """Every copy within the threshold is reported (as a match within it); copies beyond the
    noisy band never are."""
    client, entry = _service(bank, MatchPrivacy(probe_budget=0, secret=NOISE_KEY))
    attacker = Matcher(client, _key(bank, "matcher", "platform"), entry)
    rng = random.Random(9)
    for bits in [*range(1, THRESHOLD + 1), *[rng.randint(20, THRESHOLD) for _ in range(60)]]:
        assert attacker.ask(near_copy(rng, bits)) == THRESHOLD, bits
    assert attacker.ask(BANKED) == 0
    jitter = MatchPrivacy().jitter
    for bits in range(THRESHOLD + jitter + 1, THRESHOLD + jitter + 20):
        assert attacker.ask(near_copy(rng, bits)) is None, bits
    band = [attacker.ask(near_copy(rng, THRESHOLD + 1 + i % jitter)) for i in range(120)]
    assert 0 < sum(b is not None for b in band) < len(band)  # the band is noisy, both ways


def test_a_repeated_query_gets_the_same_answer(bank: Bank) -> None:
    """Asking again draws no fresh noise: the noise is a keyed function of entry and query,
    kept in the bank, so every worker and replica answers alike."""
    unguarded = ServiceSettings(privacy=MatchPrivacy(probe_budget=0))  # the bank's own key
    client, _ = _service(bank, unguarded.privacy)
    other = TestClient(create_app(unguarded, bank))  # another worker
    headers = _key(bank, "matcher", "platform")
    rng = random.Random(10)
    for _ in range(40):
        query = near_copy(rng, THRESHOLD + rng.randint(1, 8))
        body = {"signals": {"pdq": query}}
        first = client.post("/v1/match/hashes", json=body, headers=headers).json()["matches"]
        again = client.post("/v1/match/hashes", json=body, headers=headers).json()["matches"]
        elsewhere = other.post("/v1/match/hashes", json=body, headers=headers).json()["matches"]
        assert first == again == elsewhere


def test_keys_that_may_read_see_exact_distances(bank: Bank) -> None:
    client, entry = _service(bank)
    curator = Matcher(client, _key(bank, "curator", "curator"), entry)
    rng = random.Random(11)
    for bits in (1, 6, 17, THRESHOLD):
        assert curator.ask(near_copy(rng, bits)) == bits
    assert curator.ask(near_copy(rng, THRESHOLD + 1)) is None  # the plain threshold
    got = client.post(
        "/v1/match/hashes",
        json={"signals": {"pdq": near_copy(rng, 6)}},
        headers=curator.headers,
    ).json()["matches"][0]
    assert got["value"] == BANKED


def test_a_named_banks_stricter_threshold_is_no_sharp_edge_either(bank: Bank) -> None:
    """A bank's own threshold decides which banks a match counts in: the same noise applies
    there, and the distance shown is that bank's threshold."""
    client, entry = _service(bank, MatchPrivacy(probe_budget=0, secret=NOISE_KEY))
    admin = _key(bank, "admin", "ops")
    assert client.post(
        "/v1/banks", json={"name": "strict", "threshold": 10}, headers=admin
    ).is_success
    added = client.post(
        "/v1/banks/strict/entries", json={"signals": {"pdq": BANKED}}, headers=admin
    )
    assert added.json()["ids"] == [entry]
    headers = _key(bank, "matcher", "platform")
    rng = random.Random(12)

    def banks_and_distance(bits: int) -> tuple[list[str], int] | None:
        body = {"signals": {"pdq": near_copy(rng, bits)}}
        found = client.post("/v1/match/hashes", json=body, headers=headers).json()["matches"]
        return (found[0]["banks"], found[0]["distance"]) if found else None

    for bits in range(1, 11):
        assert banks_and_distance(bits) == (["strict"], 10)
    just_past = [banks_and_distance(11 + i % 8) for i in range(80)]
    assert all(found is None or found == (["strict"], 10) for found in just_past)
    assert sum(found is not None for found in just_past) not in (0, len(just_past))


# -- the noise itself -------------------------------------------------------------------------
def test_acceptance_falls_from_one_to_zero_over_the_band() -> None:
    jitter = 8
    assert [acceptance(k, jitter) for k in (-5, 0)] == [1.0, 1.0]  # within: always
    assert [acceptance(k, jitter) for k in (jitter + 1, 40)] == [0.0, 0.0]  # past the band: never
    band = [acceptance(k, jitter) for k in range(jitter + 2)]
    assert all(a > b for a, b in itertools.pairwise(band))


def test_reach_is_keyed_and_spread(bank: Bank) -> None:
    rng = random.Random(14)
    queries = [near_copy(rng, 35) for _ in range(2000)]
    reaches = [reach(b"secret-one", 7, q, 8) for q in queries]
    assert set(reaches) <= set(range(9)) and len(set(reaches)) == 9
    assert reaches != [reach(b"secret-two", 7, q, 8) for q in queries]
    assert reaches != [reach(b"secret-one", 8, q, 8) for q in queries]
    for k in range(1, 9):  # P(reach >= k) follows the acceptance curve
        share = sum(r >= k for r in reaches) / len(reaches)
        assert abs(share - acceptance(k, 8)) < 0.05
