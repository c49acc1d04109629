"""Hostile bundle input: malformed documents and signed bodies of any shape end in a clear
error with its exit code (never a traceback) and change nothing."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hashwarden.bank import Bank, NewEntry, create_bank
from hashwarden.cli import app
from hashwarden.errors import ConflictError, DataError, IntegrityError
from hashwarden.exchange.bundle import (
    FORMAT,
    add_trusted_key,
    apply_bundle,
    generate_keys,
    sign_body,
)
from hashwarden.signals import Signal

ORIGIN = "0b0e3d1c-4f7a-4c55-9d43-1f2b3c4d5e6f"
MD5 = "d35c785545392755e7e4164457657269"


@pytest.fixture(scope="module")
def key_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    generate_keys("peer", folder)
    return folder


def _body(**changes: object) -> dict[str, Any]:
    body: dict[str, Any] = {
        "format": FORMAT,
        "version": 1,
        "origin": ORIGIN,
        "since": 0,
        "sequence": 5,
        "created": "2026-01-01T00:00:00Z",
        "upserts": [{"signals": [["md5", MD5]], "category": "csam-b", "extra": {}}],
        "removals": [],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not _MISSING}


_MISSING = object()


def _fresh_bank(folder: Path, key_folder: Path) -> Bank:
    bank = create_bank(folder / "r.db")
    add_trusted_key(bank, key_folder / "peer.pub")
    return bank


MALFORMED_BODIES = {
    "since-text": _body(since="x"),
    "since-bool": _body(since=True),
    "sequence-huge": _body(sequence=10**30),
    "sequence-float": _body(sequence=5.5),
    "upserts-number": _body(upserts=5),
    "upsert-not-object": _body(upserts=["x"]),
    "signals-not-pairs": _body(upserts=[{"signals": [["md5"]], "category": "csam-b"}]),
    "signals-nested": _body(upserts=[{"signals": [[["md5"], {"x": [1]}]], "category": "csam-b"}]),
    "signal-value-number": _body(upserts=[{"signals": [["md5", 5]], "category": "csam-b"}]),
    "signal-nul": _body(upserts=[{"signals": [["photodna", "A\u0000B"]], "category": "csam-b"}]),
    "no-signals": _body(upserts=[{"signals": [], "category": "csam-b"}]),
    "category-unknown": _body(upserts=[{"signals": [["md5", MD5]], "category": "worst"}]),
    "category-nested": _body(upserts=[{"signals": [["md5", MD5]], "category": {"a": [1]}}]),
    "note-nul": _body(upserts=[{"signals": [["md5", MD5]], "category": "cgi", "note": "a\u0000"}]),
    "extra-list": _body(upserts=[{"signals": [["md5", MD5]], "category": "cgi", "extra": [1]}]),
    "victim-text": _body(
        upserts=[{"signals": [["md5", MD5]], "category": "cgi", "victim_identified": "yes"}]
    ),
    "removals-number": _body(removals=7),
    "removal-not-pairs": _body(removals=[["md5", MD5]]),
    "origin-number": _body(origin=12),
    "origin-not-a-bank-id": _body(origin="somewhere"),
    "missing-origin": _body(origin=_MISSING),
    "missing-upserts": _body(upserts=_MISSING),
    "missing-sequence": _body(sequence=_MISSING),
    "since-after-sequence": _body(since=9, sequence=5),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_BODIES))
def test_malformed_signed_bodies_are_data_errors(
    case: str, tmp_path: Path, key_folder: Path
) -> None:
    bank = _fresh_bank(tmp_path, key_folder)
    before = bank.fingerprint()
    document = sign_body(MALFORMED_BODIES[case], key_folder / "peer.key")
    with pytest.raises(DataError):
        apply_bundle(bank, json.dumps(document).encode(), "peer bundle")
    assert bank.fingerprint() == before
    assert bank.stats().entries == 0


def _document_cases(key_folder: Path) -> dict[str, bytes]:
    good = sign_body(_body(), key_folder / "peer.key")
    return {
        "not-json": b"{nope",
        "deep": b"[" * 100_000 + b"]" * 100_000,
        "deep-body": b'{"body":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "huge-int": b'{"body": {"since": 1' + b"0" * 5000 + b"}}",
        "key-list": json.dumps({**good, "key": [1, 2]}).encode(),
        "signature-number": json.dumps({**good, "signature": 12}).encode(),
        "signature-bad-base64": json.dumps({**good, "signature": "%%%not base64%%%"}).encode(),
        "key-bad-base64": json.dumps({**good, "key": "%%%"}).encode(),
        "body-list": json.dumps({**good, "body": [1]}).encode(),
        "not-utf8": b'{"body": "\xff\xfe"}',
        "surrogate": json.dumps({**good, "body": {**good["body"], "note": "\ud800"}}).encode(),
    }


@pytest.mark.parametrize(
    "case",
    [
        "not-json",
        "deep",
        "deep-body",
        "huge-int",
        "key-list",
        "signature-number",
        "signature-bad-base64",
        "key-bad-base64",
        "body-list",
        "not-utf8",
        "surrogate",
    ],
)
def test_malformed_documents_are_data_errors(case: str, tmp_path: Path, key_folder: Path) -> None:
    bank = _fresh_bank(tmp_path, key_folder)
    before = bank.fingerprint()
    with pytest.raises(DataError, match="peer bundle"):
        apply_bundle(bank, _document_cases(key_folder)[case], "peer bundle")
    assert bank.fingerprint() == before


def test_malformed_bundles_through_the_cli(
    tmp_path: Path, key_folder: Path, cli_runner: CliRunner
) -> None:
    _fresh_bank(tmp_path, key_folder).close()
    cases = {
        "since.json": json.dumps(sign_body(_body(since="x"), key_folder / "peer.key")),
        "upserts.json": json.dumps(sign_body(_body(upserts=5), key_folder / "peer.key")),
        "deep.json": "[" * 100_000 + "]" * 100_000,
        "b64.json": json.dumps({**sign_body(_body(), key_folder / "peer.key"), "signature": "%%%"}),
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        result = cli_runner.invoke(
            app, ["bundle", "import", str(tmp_path / "r.db"), str(tmp_path / name)]
        )
        assert result.exit_code == 3, (name, result.output)
        assert "Traceback" not in result.output and name in result.output


# -- any signed body -------------------------------------------------------------------------
_JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**62, max_value=2**80)
    | st.floats()
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
_PAIRS = st.sampled_from(
    [
        ["md5", MD5],
        ["md5", "0" * 32],
        ["md5", "A" * 32],
        ["sha1", "1" * 40],
        ["pdq", "f" * 64],
        ["photodna", "AAAA"],
        ["md5", "x"],
        ["nope", MD5],
        ["photodna", "a\u0000b"],
    ]
)
_TEXT = st.one_of(st.none(), st.text(max_size=12))
_UPSERT = st.fixed_dictionaries(
    {
        "signals": st.lists(_PAIRS, min_size=1, max_size=3),
        "category": st.sampled_from(["csam-a", "csam-b", "cgi", "uncategorised"]),
    },
    optional={
        "series": _TEXT,
        "victim_identified": st.booleans(),
        "source": _TEXT,
        "first_seen": _TEXT,
        "note": _TEXT,
        "extra": st.dictionaries(st.text(max_size=6), _JUNK, max_size=3),
    },
)
_VALID_BODY = st.fixed_dictionaries(
    {
        "format": st.just(FORMAT),
        "version": st.just(1),
        "origin": st.just(ORIGIN),
        "since": st.sampled_from([0, 0, 0, 1]),
        "sequence": st.integers(min_value=0, max_value=2**63 - 1),
        "upserts": st.lists(_UPSERT, max_size=4),
        "removals": st.lists(st.lists(_PAIRS, min_size=1, max_size=2), max_size=3),
    }
)


@st.composite
def _signed_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed body with up to three places (a field, an entry, a field of an entry,
    a signal pair) replaced by arbitrary JSON, dropped, or added."""
    body: dict[str, Any] = draw(_VALID_BODY)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        junk = draw(_JUNK)
        target: Any = body
        upserts = body.get("upserts")
        entries = [u for u in upserts if isinstance(u, dict)] if isinstance(upserts, list) else []
        if entries and draw(st.booleans()):
            target = draw(st.sampled_from(entries))
            if (
                isinstance(target.get("signals"), list)
                and target["signals"]
                and draw(st.booleans())
            ):
                target = target["signals"]
        if isinstance(target, list):
            index = draw(st.integers(min_value=0, max_value=len(target) - 1))
            target[index] = draw(st.one_of(st.just(junk), st.just([junk, junk]), st.just([])))
            continue
        field = draw(st.sampled_from([*target, "unknown"]))
        if draw(st.integers(min_value=0, max_value=4)) == 0:
            target.pop(field, None)
        else:
            target[field] = junk
    return body


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=_signed_bodies())
def test_any_signed_body_applies_or_is_refused_cleanly(
    body: dict[str, Any], key_folder: Path
) -> None:
    with tempfile.TemporaryDirectory() as folder, _fresh_bank(Path(folder), key_folder) as bank:
        bank.entries.add(NewEntry([Signal("md5", "0" * 32)], "csam-c"))  # held locally: claims
        before = (bank.fingerprint(), bank.stats().entries)
        document = sign_body(body, key_folder / "peer.key")
        try:
            apply_bundle(bank, json.dumps(document).encode(), "fuzzed bundle")
        except (DataError, IntegrityError, ConflictError) as exc:
            event(f"refused: {type(exc).__name__}")
            assert "fuzzed bundle" in str(exc)
            assert (bank.fingerprint(), bank.stats().entries) == before
        else:
            event("applied")
            assert bank.verify().ok


def test_a_signal_listed_twice_in_an_upsert_is_stored_once(
    tmp_path: Path, key_folder: Path
) -> None:
    bank = _fresh_bank(tmp_path, key_folder)
    body = _body(upserts=[{"signals": [["md5", MD5], ["md5", MD5.upper()]], "category": "cgi"}])
    counts = apply_bundle(bank, json.dumps(sign_body(body, key_folder / "peer.key")).encode(), "b")
    assert counts["added"] == 1
    assert bank.verify().ok  # the property test found the digest counting it twice
