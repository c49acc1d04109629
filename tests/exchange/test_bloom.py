"""Bloom filters for field triage: written in DCSO's format and read back by `flor` (the
library CIRCL's hashlookup filters are read with) at the stated error rate, keyed so the filter
reveals nothing without the key, checked by `scan --bloom` without a bank, and never a
traceback on a malformed filter."""

from __future__ import annotations

import hashlib
import io
import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hashwarden.bank import NewEntry, create_bank
from hashwarden.cli import app
from hashwarden.errors import DataError, LimitExceededError, UsageError
from hashwarden.exchange.bloom import BloomFilter, BloomFormat, bloom_parameters, write_bloom
from hashwarden.signals import Signal

if TYPE_CHECKING:
    from flor import BloomFilter as FlorFilter

KEY = b"k" * 32


def _md5s(count: int, salt: bytes = b"in") -> list[str]:
    return [hashlib.md5(salt + i.to_bytes(8, "little")).hexdigest() for i in range(count)]


def _write(path: Path, values: list[str], **options: object) -> int:
    with path.open("wb") as stream:
        return write_bloom(values, stream, **options)  # type: ignore[arg-type]


def _flor(path: Path) -> FlorFilter:
    """The filter as DCSO's Python library reads it (a dev dependency)."""
    import flor

    bloom = flor.BloomFilter()
    with path.open("rb") as stream:
        bloom.read(stream)
    return bloom


def _false_rate(bloom: FlorFilter | BloomFilter, count: int) -> float:
    """The share of `count` hashes not in the list that the filter reports."""
    misses = _md5s(count, salt=b"out")
    if isinstance(bloom, BloomFilter):
        return sum(m in bloom for m in misses) / count
    return sum(m.upper().encode() in bloom for m in misses) / count


def test_flor_reads_the_filter_with_every_hash_and_the_stated_error_rate(tmp_path: Path) -> None:
    path = tmp_path / "list.bloom"
    values = _md5s(50_000)
    assert _write(path, [*values, *values[:100]], error_rate=0.01) == 50_000  # distinct
    bloom = _flor(path)
    m, k = bloom_parameters(50_000, 0.01)
    assert (bloom.n, bloom.p, bloom.k, bloom.m, bloom.N) == (50_000, 0.01, k, m, 50_000)
    assert all(v.upper().encode() in bloom for v in values)  # CIRCL's convention: upper case
    assert 0.007 <= _false_rate(bloom, 50_000) <= 0.013
    assert json.loads(bloom.data)["format"] == "hashwarden-bloom"
    ours = BloomFilter(path)
    assert all(v in ours and v.upper() in ours for v in values[:1000])
    assert _false_rate(ours, 20_000) == _false_rate(bloom, 20_000)


@pytest.mark.slow
def test_a_million_hashes_at_the_stated_error_rate(tmp_path: Path) -> None:
    """The measurement docs/exchange.md quotes: 1,000,000 MD5s at p = 0.001, 200,000 hashes
    not in the list checked with flor."""
    path = tmp_path / "million.bloom"
    assert _write(path, _md5s(1_000_000), error_rate=0.001) == 1_000_000
    assert path.stat().st_size < 1_800_000  # 14.4 bits a hash
    bloom = _flor(path)
    assert 0.0007 <= _false_rate(bloom, 200_000) <= 0.0013
    assert all(v.upper().encode() in bloom for v in _md5s(20_000))


def test_a_keyed_filter_reveals_nothing_without_its_key(tmp_path: Path) -> None:
    path = tmp_path / "keyed.bloom"
    values = _md5s(5_000)
    _write(path, values, error_rate=0.001, key=KEY)
    bloom = _flor(path)
    assert sum(v.upper().encode() in bloom for v in values) < 50  # the hashes are not in it
    assert all(v in BloomFilter(path, key=KEY) for v in values)
    with pytest.raises(UsageError, match="keyed filter"):
        BloomFilter(path)
    with pytest.raises(UsageError, match="not the key"):
        BloomFilter(path, key=b"x" * 32)
    plain = tmp_path / "plain.bloom"
    _write(plain, values)
    with pytest.raises(UsageError, match="not keyed"):
        BloomFilter(plain, key=KEY)


def test_error_rates_out_of_range_are_refused() -> None:
    for rate in (0.0, 0.9, -1.0, 1e-20):
        with pytest.raises(UsageError, match="error-rate"):
            BloomFormat(rate)


def test_malformed_headers_are_named(tmp_path: Path) -> None:
    good = io.BytesIO()
    write_bloom(_md5s(100), good)
    header = struct.Struct("<QQdQQQ")
    _, n, p, k, m, count = header.unpack(good.getvalue()[:48])
    cases = {
        b"": "shorter than",
        header.pack(2, n, p, k, m, count): "version flag",
        header.pack(1, 0, p, k, m, count): "malformed",
        header.pack(1, n, 1.5, k, m, count): "malformed",
        header.pack(1, n, p, 0, m, count): "malformed",
        header.pack(1, n, p, 1000, m, count): "malformed",
        header.pack(1, n, p, k, m, count) + b"\0" * 8: "truncated",
    }
    for data, message in cases.items():
        path = tmp_path / "bad.bloom"
        path.write_bytes(data)
        with pytest.raises(DataError, match=message):
            BloomFilter(path)
    path.write_bytes(header.pack(1, n, p, k, 1 << 62, count))
    with pytest.raises(LimitExceededError):
        BloomFilter(path)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=200), cut=st.integers(0, 120))
def test_hostile_filters_are_clear_errors(tmp_path: Path, data: bytes, cut: int) -> None:
    """Random bytes, and a real filter cut short or with its tail replaced: DataError or
    LimitExceededError, or a filter that answers; never anything else."""
    real = io.BytesIO()
    write_bloom(_md5s(20), real)
    for blob in (data, real.getvalue()[:cut], real.getvalue()[:cut] + data):
        path = tmp_path / "hostile.bloom"
        path.write_bytes(blob)
        try:
            bloom = BloomFilter(path)
        except (DataError, LimitExceededError):
            continue
        assert isinstance("0" * 32 in bloom, bool)
        assert isinstance("é" in bloom, bool)


# --- the CLI: bank export --format bloom, scan --bloom ---------------------------------------


def _bank_and_case(tmp_path: Path) -> tuple[Path, Path]:
    case = tmp_path / "case"
    (case / "sub").mkdir(parents=True)
    (case / "known.txt").write_bytes(b"banked content")
    (case / "sub" / "other.txt").write_bytes(b"something else")
    bank = tmp_path / "b.db"
    with create_bank(bank) as b:
        b.entries.add_many(
            [
                NewEntry([Signal("md5", hashlib.md5(b"banked content").hexdigest())], "csam-b"),
                NewEntry([Signal("sha1", hashlib.sha1(b"elsewhere").hexdigest())], "csam-a"),
                NewEntry([Signal("pdq", "f" * 64)], "csam-a"),
            ]
        )
    return bank, case


def test_export_a_filter_and_triage_a_case_without_the_bank(
    tmp_path: Path, cli_runner: CliRunner
) -> None:
    bank, case = _bank_and_case(tmp_path)
    out = tmp_path / "triage.bloom"
    r = cli_runner.invoke(app, ["bank", "export", str(bank), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "wrote 2 hashes" in r.stderr and "left out 1 pdq" in r.stderr
    assert BloomFilter(out).kinds == ["md5", "sha1"]
    candidates = tmp_path / "candidates.jsonl"
    r = cli_runner.invoke(app, ["scan", "--bloom", str(out), str(case), "--out", str(candidates)])
    assert r.exit_code == 1, r.output
    found = [json.loads(line) for line in candidates.read_text().splitlines()]
    assert [(c["path"], c["candidate"]) for c in found] == [(f"{case}/known.txt", ["md5"])]
    assert found[0]["md5"] == hashlib.md5(b"banked content").hexdigest()
    (case / "known.txt").unlink()
    r = cli_runner.invoke(app, ["scan", "--bloom", str(out), str(case)])
    assert r.exit_code == 0 and r.stdout == "", r.output


def test_keyed_export_and_triage(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank, case = _bank_and_case(tmp_path)
    key = tmp_path / "triage.key"
    key.write_bytes(KEY)
    out = tmp_path / "k.bloom"
    export = ["bank", "export", str(bank), "-f", "BLOOM", "--kind", "md5", "--out", str(out)]
    r = cli_runner.invoke(app, [*export, "--bloom-key", str(key), "--error-rate", "0.0001"])
    assert r.exit_code == 0, r.output
    assert BloomFilter(out, key=KEY).header.p == 0.0001
    scan = ["scan", "--bloom", str(out), str(case)]
    assert cli_runner.invoke(app, scan).exit_code == 2  # keyed: the key is needed
    r = cli_runner.invoke(app, [*scan, "--bloom-key", str(key)])
    assert r.exit_code == 1 and "known.txt" in r.stdout, r.output


def test_bloom_usage_errors(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank, case = _bank_and_case(tmp_path)
    out = tmp_path / "x.bloom"
    short_key = tmp_path / "short.key"
    short_key.write_bytes(b"short")
    runs = [
        (["bank", "export", str(bank), "-f", "bloom", "--error-rate", "2", "--out", str(out)], 2),
        (["bank", "export", str(bank), "-f", "csv", "--error-rate", "0.1"], 2),
        (["bank", "export", str(bank), "-f", "bloom", "--bloom-key", str(short_key)], 2),
        (["scan", "--bloom", str(tmp_path / "none.bloom"), str(case)], 4),
        (["scan", "--bloom", str(bank), str(case)], 3),  # an SQLite file, not a filter
        (["scan", str(bank), str(case), "--out", str(tmp_path / "r"), "--bloom-key", "k"], 2),
    ]
    for args, code in runs:
        r = cli_runner.invoke(app, args)
        assert r.exit_code == code, (args, r.output)
        assert r.exception is None or isinstance(r.exception, SystemExit), args
    assert not out.exists()  # refused before the file was opened
