"""Every format round-trips; malformed input is a clear DataError that leaves the bank as it was."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hashwarden.bank import Entry, NewEntry, create_bank, open_bank
from hashwarden.cli import app
from hashwarden.errors import DataError
from hashwarden.exchange import FORMATS, ImportOptions, get_format, read_nsrl
from hashwarden.exchange.base import shareable
from hashwarden.exchange.tabular import HMA_HEADER
from hashwarden.signals import Signal


def _sample_entries() -> list[NewEntry]:
    return [
        NewEntry(
            [Signal("md5", f"{i:032x}"), Signal("sha1", f"{i:040x}")],
            ["csam-a", "csam-b", "csam-c", "exploitive", "cgi"][i % 5],
            f"series-{i % 3}" if i % 2 else None,
            bool(i % 2),
            "hotline-x",
            extra={"MediaID": str(1000 + i)} if i % 3 == 0 else {},
        )
        for i in range(1, 16)
    ]


def _round_trip(tmp_path: Path, fmt_name: str, entries: list[NewEntry]) -> list[Entry]:
    fmt = get_format(fmt_name)
    with create_bank(tmp_path / "a.db") as a:
        a.entries.add_many(entries)
        kinds = sorted(a.stats().signals_by_kind)
        buffer = io.BytesIO()
        fmt.write(a.entries.all(), buffer, kinds)
    options = ImportOptions(source="hotline-x")
    with create_bank(tmp_path / "b.db") as b:
        b.entries.add_many(fmt.read(io.BytesIO(buffer.getvalue()), options, "file"))
        return list(b.entries.all())


def _key(e: NewEntry) -> tuple[object, ...]:
    return (sorted(e.signals), e.category, e.series, e.victim_identified, e.source)


@pytest.mark.parametrize("fmt", ["csv", "vics"])
def test_full_round_trip(tmp_path: Path, fmt: str) -> None:
    entries = _sample_entries()
    back = _round_trip(tmp_path, fmt, entries)
    assert [_key(e) for e in back] == [_key(e) for e in entries]
    media_ids = [e.extra.get("MediaID") for e in back]
    assert media_ids == [e.extra.get("MediaID") for e in entries]


def test_icse_round_trip_keeps_series_victim_and_columns(tmp_path: Path) -> None:
    entries = [
        NewEntry(
            [Signal("md5", f"{i:032x}"), Signal("photodna", f"AAAA{i}==")],
            "uncategorised",
            f"s{i}",
            i % 2 == 0,
            "hotline-x",
            extra={"icse:Image ID": str(i)},
        )
        for i in range(1, 6)
    ]
    back = _round_trip(tmp_path, "icse", entries)
    assert [_key(e) for e in back] == [_key(e) for e in entries]
    assert [e.extra["icse:Image ID"] for e in back] == ["1", "2", "3", "4", "5"]


@pytest.mark.parametrize("fmt", ["plain", "hma"])
def test_single_signal_formats_round_trip(tmp_path: Path, fmt: str) -> None:
    entries = [
        NewEntry(
            [Signal("pdq" if i % 2 else "md5", f"{i:064x}" if i % 2 else f"{i:032x}")],
            "csam-b" if fmt == "hma" else "uncategorised",
            source="hotline-x",
        )
        for i in range(1, 9)
    ]
    back = _round_trip(tmp_path, fmt, entries)
    assert sorted(_key(e) for e in back) == sorted(_key(e) for e in entries)


VICS_V1 = {
    "odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Media",
    "value": [
        {
            "MediaID": 7,
            "Category": 2,
            "MD5": "D35C785545392755E7E4164457657269",
            "VictimIdentified": True,
            "Series": "bridge",
            "Tags": ["a"],
            "MediaSize": 12,
        }
    ],
}
VICS_CASES = {
    "@odata.context": "http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases",
    "value": [
        {
            "CaseID": "c1",
            "CaseNumber": "2026-1",
            "Media": [
                {"MediaID": 1, "Category": 1, "SHA1": "EA45D7166B30F98AAC6AF52F952193CE3083CB4C"},
                {
                    "MediaID": 2,
                    "Category": 0,
                    "MD5": "69b0834fac1477a4397a0be6b6e55c1a",
                    "PhotoDNA": "A" * 192,
                },
            ],
        }
    ],
}


def test_vics_versions_and_cases() -> None:
    fmt = get_format("vics")
    (one,) = fmt.read(io.BytesIO(json.dumps(VICS_V1).encode()), ImportOptions(), "v1")
    assert one.category == "exploitive" and one.victim_identified and one.series == "bridge"
    assert one.signals == [Signal("md5", "d35c785545392755e7e4164457657269")]
    assert one.extra == {"MediaID": 7, "Tags": ["a"], "MediaSize": 12}
    first, second = fmt.read(io.BytesIO(json.dumps(VICS_CASES).encode()), ImportOptions(), "c")
    assert first.category == "csam" and second.category == "non-pertinent"
    assert Signal("photodna", "A" * 192) in second.signals
    assert first.extra["vics:case"] == {"CaseID": "c1", "CaseNumber": "2026-1"}
    legacy = list(
        fmt.read(
            io.BytesIO(json.dumps(VICS_CASES).encode()),
            ImportOptions(category_scheme="vic-legacy"),
            "c",
        )
    )
    assert legacy[1].category == "uncategorised"


def test_unmappable_category_is_refused_unless_mapped(
    tmp_path: Path, cli_runner: CliRunner
) -> None:
    bank = tmp_path / "b.db"
    create_bank(bank).close()
    listing = tmp_path / "l.csv"
    listing.write_text("md5,category\n" + f"{1:032x},A\n" + f"{2:032x},Z9\n")
    r = cli_runner.invoke(app, ["bank", "import", str(bank), str(listing), "-f", "csv"])
    assert r.exit_code == 3 and "'Z9'" in r.output and "line 3" in r.output
    r = cli_runner.invoke(
        app, ["bank", "import", str(bank), str(listing), "-f", "csv", "--map-category", "Z9=cgi"]
    )
    assert r.exit_code == 0, r.output
    with open_bank(bank) as b:
        assert b.stats().entries_by_category == {"cgi": 1, "csam-a": 1}


def test_cli_export_import_every_format(tmp_path: Path, cli_runner: CliRunner) -> None:
    source = tmp_path / "a.db"
    with create_bank(source) as a:
        a.entries.add_many(_sample_entries())
    for fmt in FORMATS:
        out = tmp_path / f"out.{fmt}"
        r = cli_runner.invoke(app, ["bank", "export", str(source), "-f", fmt, "--out", str(out)])
        assert r.exit_code == 0, (fmt, r.output)
        target = tmp_path / f"{fmt}.db"
        create_bank(target).close()
        args = ["bank", "import", str(target), str(out), "-f", fmt, "-c", "csam"]
        r = cli_runner.invoke(app, args)
        assert r.exit_code == 0, (fmt, r.output)
        with open_bank(target) as b:
            assert b.stats().entries >= 15, fmt


def test_shareable_leaves_file_names_and_notes_home() -> None:
    entry = Entry(
        [Signal("md5", f"{1:032x}")],
        "csam-b",
        note="seized from the laptop of Jane Roe",
        extra={
            "file_name": "jane-roe.jpg",
            "MediaFiles": [{"FileName": "jane-roe.jpg", "FilePath": "C:/Users/jroe"}],
            "MediaID": 7,
        },
        id=1,
    )
    kept = shareable(entry)
    assert kept.note is None and kept.extra == {"MediaID": 7}
    assert entry.extra["file_name"] == "jane-roe.jpg" and entry.note  # the original is untouched
    named = shareable(entry, file_names=True)
    assert named.note is None and named.extra == entry.extra
    assert shareable(entry, file_names=True, notes=True) == entry


def test_vics_media_file_names_stay_home_unless_asked(
    tmp_path: Path, cli_runner: CliRunner
) -> None:
    bank = tmp_path / "b.db"
    create_bank(bank).close()
    media = {
        **VICS_V1["value"][0],  # type: ignore[index]
        "MediaFiles": [{"FileName": "jane-roe.jpg", "FilePath": "C:/Users/jroe/Pictures"}],
    }
    listing = tmp_path / "v.json"
    listing.write_text(json.dumps({**VICS_V1, "value": [media]}))
    r = cli_runner.invoke(app, ["bank", "import", str(bank), str(listing), "-f", "vics"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out.json"
    export = ["bank", "export", str(bank), "-f", "vics", "--out", str(out)]
    assert cli_runner.invoke(app, export).exit_code == 0
    (written,) = json.loads(out.read_text())["value"]
    assert "MediaFiles" not in written and written["MediaID"] == 7
    assert cli_runner.invoke(app, [*export, "--include-file-names"]).exit_code == 0
    (written,) = json.loads(out.read_text())["value"]
    assert written["MediaFiles"] == media["MediaFiles"]


VALID = {
    "csv": b"md5,category\n" + f"{1:032x},B\n".encode(),
    "icse": b"MD5;SHA1;Series name\n" + f"{1:032X};;s\n".encode(),
    "hma": b"pdq," + b"ab" * 32 + b",collab,csam-a,t1 t2\n",
    "vics": json.dumps(VICS_V1).encode(),
    "plain": f"{1:032x}\n".encode(),
}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fmt=st.sampled_from(sorted(VALID)), cut=st.integers(0, 400), noise=st.binary(max_size=40))
def test_malformed_input_is_a_clear_error_and_changes_nothing(
    tmp_path_factory: pytest.TempPathFactory, fmt: str, cut: int, noise: bytes
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "b.db"
    with create_bank(path) as bank:
        bank.entries.add(NewEntry([Signal("md5", "f" * 32)], "csam"))
        before = bank.stats()
        data = VALID[fmt] * 3
        data = data[:cut] + noise + data[cut:]
        try:
            bank.entries.add_many(get_format(fmt).read(io.BytesIO(data), ImportOptions(), "fuzz"))
        except DataError as exc:
            assert "fuzz" in str(exc)
            after = bank.stats()
            assert (after.entries, after.audit_events) == (before.entries, before.audit_events)
        assert bank.verify().ok


def _rdsv3(path: Path, rows: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE FILE (sha256 TEXT, sha1 TEXT, md5 TEXT, crc32 TEXT,"
        " file_name TEXT, file_size INTEGER, package_id INTEGER)"
    )
    conn.execute("CREATE VIEW DISTINCT_HASH AS SELECT DISTINCT sha256, sha1, md5, crc32 FROM FILE")
    conn.executemany(
        "INSERT INTO FILE VALUES (?,?,?,?,?,?,?)",
        (
            (f"{i:064X}", f"{i:040X}", f"{i:032X}", "00000000", f"f{i}.dll", i, 1)
            for i in range(rows)
        ),
    )
    conn.commit()
    conn.close()


_MEASURE = """
import re, sys
from pathlib import Path
from hashwarden.bank import create_bank
from hashwarden.exchange import read_nsrl
with create_bank(Path(sys.argv[1])) as bank:
    count = bank.known_good.add("nsrl", read_nsrl(Path(sys.argv[2])))
# VmHWM is this address space's peak; getrusage's maxrss would inherit pytest's across exec.
status = Path("/proc/self/status").read_text()
print(count, re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
"""


@pytest.mark.slow
def test_nsrl_million_rows_in_bounded_memory(tmp_path: Path) -> None:
    rows = 1_000_000
    _rdsv3(tmp_path / "rds.db", rows)
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(tmp_path / "b.db"), str(tmp_path / "rds.db")],
        capture_output=True,
        text=True,
        check=True,
    )
    count, peak_kib = (int(x) for x in out.stdout.split())
    assert count == 3 * rows
    with open_bank(tmp_path / "b.db", readonly=True) as bank:
        assert bank.known_good.lookup("md5", [f"{rows - 1:032x}"]) == {f"{rows - 1:032x}": "nsrl"}
        assert bank.verify().ok
    # The bound says memory does not grow with the list (3 million hashes are ~200 MB of
    # text); the measured peak is in docs/exchange.md.
    print(f"NSRL: {rows:,} rows, peak resident memory {peak_kib / 1024:.0f} MiB")
    assert peak_kib < 200 * 1024, peak_kib


def test_nsrl_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite" * 100)
    with pytest.raises(DataError, match="not an NSRL"):
        list(read_nsrl(junk))
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("CREATE TABLE other (x)").connection.close()
    with pytest.raises(DataError, match="neither a DISTINCT_HASH"):
        list(read_nsrl(empty))


# --- NSRL files are foreign: opened untrusted ------------------------------------------------

HASHWARDEN = [sys.executable, "-m", "hashwarden"]
_RECURSIVE = (
    "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r)"
    " SELECT printf('%064x', x) AS sha256, printf('%040x', x) AS sha1,"
    " printf('%032x', x) AS md5, '' AS crc32 FROM r"
)


def _bank_tables(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """What an import could change: known-good sets, their hashes, the audit log."""
    with sqlite3.connect(path) as conn:
        return {
            table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in ("known_good_sets", "known_good", "audit")
        }


_READ_NSRL = """
import sys
from pathlib import Path
from hashwarden.errors import DataError
from hashwarden.exchange import read_nsrl
try:
    n = sum(1 for _ in read_nsrl(Path(sys.argv[1])))
except DataError as exc:
    print(exc)
    sys.exit(exc.exit_code)
print(f"read {n} hashes")
"""


def _read_nsrl_in_child(path: Path) -> tuple[int, str]:
    """Exit code and message of reading `path` in a child process, which a read that never
    ends cannot take the test run down with."""
    try:
        run = subprocess.run(
            [sys.executable, "-c", _READ_NSRL, str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading {path.name} did not end within 120 s")
    return run.returncode, run.stdout + run.stderr


def test_nsrl_recursive_view_is_refused_quickly_and_changes_nothing(tmp_path: Path) -> None:
    """An RDS-like file whose DISTINCT_HASH view recurses for ever: the import ends (within a
    generous deadline) with exit 3 naming the file, and the bank is as it was."""
    rds = tmp_path / "rds-recursive.db"
    conn = sqlite3.connect(rds)
    conn.execute("CREATE TABLE FILE (sha256 TEXT, sha1 TEXT, md5 TEXT, crc32 TEXT)")
    conn.execute(f"CREATE VIEW DISTINCT_HASH AS {_RECURSIVE}")
    conn.commit()
    conn.close()
    bank_path = tmp_path / "bank.db"
    with create_bank(bank_path) as bank:
        bank.known_good.add("os", [Signal("md5", "1" * 32)])
    before = _bank_tables(bank_path)
    try:
        run = subprocess.run(
            [*HASHWARDEN, "bank", "import", str(bank_path), str(rds), "--format", "nsrl"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("importing an NSRL file whose view recurses did not end within 120 s")
    assert run.returncode == 3, run.stderr
    assert "rds-recursive.db" in run.stderr and "Traceback" not in run.stderr
    assert _bank_tables(bank_path) == before
    with open_bank(bank_path, readonly=True) as bank:
        assert bank.verify().ok


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        (  # the view NSRL ships, over a FILE that is a view recursing for ever
            [
                f"CREATE VIEW FILE AS {_RECURSIVE}",
                "CREATE VIEW DISTINCT_HASH AS SELECT DISTINCT sha256, sha1, md5, crc32 FROM FILE",
            ],
            "not a plain view",
        ),
        (  # a view with a sub-query
            [
                "CREATE TABLE FILE (sha256 TEXT, sha1 TEXT, md5 TEXT, crc32 TEXT)",
                "CREATE VIEW DISTINCT_HASH AS SELECT DISTINCT sha256, sha1, md5, crc32 FROM FILE"
                " WHERE (SELECT count(*) FROM FILE a, FILE b, FILE c) > 0",
            ],
            "not a plain view",
        ),
        (  # a column computed on every read, a gigabyte at a time
            [
                "CREATE TABLE FILE (sha1 TEXT, md5 TEXT, sha256 TEXT"
                " GENERATED ALWAYS AS (printf('%.*c', 1000000000, 'x')) VIRTUAL)",
            ],
            "computed",
        ),
        (  # a virtual table instead of a table
            ["CREATE VIRTUAL TABLE FILE USING fts5(sha256, sha1, md5)"],
            "not a plain table",
        ),
    ],
)
def test_nsrl_schema_that_is_not_plain_is_refused(
    tmp_path: Path, schema: list[str], reason: str
) -> None:
    rds = tmp_path / "hostile.db"
    conn = sqlite3.connect(rds)
    for statement in schema:
        conn.execute(statement)
    conn.commit()
    conn.close()
    code, said = _read_nsrl_in_child(rds)
    assert code == 3, said
    assert reason in said and "hostile.db" in said


def test_nsrl_as_nist_writes_it_is_read(tmp_path: Path) -> None:
    """NIST's own layout (schema.sql's multi-line view) passes the checks."""
    rds = tmp_path / "rds.db"
    conn = sqlite3.connect(rds)
    conn.execute(
        "CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL,"
        " crc32 VARCHAR NOT NULL, file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL,"
        " package_id INTEGER NOT NULL, CONSTRAINT PK_FILE__FILE PRIMARY KEY"
        " (sha256, sha1, md5, crc32, file_name, file_size, package_id))"
    )
    conn.execute(
        "CREATE VIEW DISTINCT_HASH AS\n SELECT DISTINCT\n  sha256,\n  sha1,\n  md5,\n  crc32\n"
        " FROM\n  FILE\n/* DISTINCT_HASH(sha256,sha1,md5,crc32) */"
    )
    conn.executemany(
        "INSERT INTO FILE VALUES (?,?,?,?,?,?,?)",
        [(f"{i:064X}", f"{i:040X}", f"{i:032X}", "0", f"f{i}", i, 1) for i in range(3)],
    )
    conn.commit()
    conn.close()
    assert len(list(read_nsrl(rds))) == 9


def test_nsrl_query_deadline(tmp_path: Path) -> None:
    """SQLite working longer than the deadline without handing over rows is stopped."""
    _rdsv3(tmp_path / "rds.db", 20_000)
    with pytest.raises(DataError, match=r"rds\.db.*deadline"):
        list(read_nsrl(tmp_path / "rds.db", deadline_s=1e-9))


@pytest.mark.parametrize("where", ["media", "item", "outside"])
def test_vics_nesting_is_bounded(tmp_path: Path, where: str) -> None:
    """A few kilobytes of brackets cost ijson's prefixed parser memory quadratic in the depth
    (20,000 levels: 1 GB) and json.dumps a RecursionError: refused, naming the file."""
    deep = "[" * 5000 + "]" * 5000
    media = {
        "media": f'{{"MD5": "{1:032x}", "Category": 1, "Deep": {deep}}}',
        "item": deep,
        "outside": f'{{"MD5": "{1:032x}", "Category": 1}}',
    }[where]
    context = "http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"
    extra = f', "Other": {deep}' if where == "outside" else ""
    data = f'{{"@odata.context": "{context}"{extra}, "value": [{media}]}}'.encode()
    with create_bank(tmp_path / "b.db") as bank:
        with pytest.raises(DataError, match="nested deeper than"):
            bank.entries.add_many(
                get_format("vics").read(io.BytesIO(data), ImportOptions(), "deep.json")
            )
        assert bank.entries.count() == 0


@pytest.mark.parametrize("depth", [900, 100_000])
def test_csv_extra_nested_too_deeply_is_a_data_error(tmp_path: Path, depth: int) -> None:
    """100,000 levels are a RecursionError in json.loads; 900 load, but could never be
    written back (json.dumps recurses too): both refused."""
    deep = "[" * depth + "]" * depth
    data = f'md5,category,extra\n{1:032x},B,"{{""x"": {deep}}}"\n'.encode()
    with create_bank(tmp_path / "b.db") as bank:
        with pytest.raises(DataError, match="line 2: the extra column is nested too deeply"):
            bank.entries.add_many(
                get_format("csv").read(io.BytesIO(data), ImportOptions(), "f.csv")
            )
        assert bank.entries.count() == 0


def test_hma_reads_what_python_threatexchange_writes_and_writes_what_it_reads(
    tmp_path: Path,
) -> None:
    """`threatexchange dataset --csv` (its own writer, called here) puts an opinion category
    (INVESTIGATION_SEED, ...) where our category goes; what we write names only signal types
    pytx knows, with values its types accept."""
    import csv as csv_module

    from threatexchange.cli.dataset_cmd import DatasetCommand
    from threatexchange.exchanges.fetch_state import FetchedSignalMetadata
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal
    from threatexchange.signal_type.sha256 import VideoSHA256Signal

    text = io.StringIO()
    writer = csv_module.DictWriter(text, HMA_HEADER)
    writer.writeheader()
    pdq, md5 = "ab" * 32, f"{7:032x}"
    for s_type, value in ((PdqSignal, pdq), (VideoMD5Signal, md5)):
        DatasetCommand._print_csv(None, writer, "ncmec", s_type, value, FetchedSignalMetadata())  # type: ignore[arg-type]
    options = ImportOptions(category="csam-b")
    back = list(get_format("hma").read(io.BytesIO(text.getvalue().encode()), options, "pytx.csv"))
    assert [(e.signals, e.category, e.source) for e in back] == [
        ([Signal("pdq", pdq)], "csam-b", "ncmec"),
        ([Signal("md5", md5)], "csam-b", "ncmec"),
    ]
    assert back[0].extra == {"hma:opinion": "INVESTIGATION_SEED"}
    negative = text.getvalue().replace("INVESTIGATION_SEED", "NEGATIVE_CLASS", 1).encode()
    with pytest.raises(DataError, match="line 2: opinion NEGATIVE_CLASS"):
        list(get_format("hma").read(io.BytesIO(negative), options, "pytx.csv"))

    entry = Entry(
        [Signal("md5", md5), Signal("sha256", "c" * 64), Signal("pdq", pdq)], "csam-a", id=1
    )
    written = io.BytesIO()
    get_format("hma").write([entry], written, ["md5", "pdq", "sha256"])
    rows = list(csv_module.reader(io.StringIO(written.getvalue().decode())))
    assert rows[0] == HMA_HEADER
    types = {t.get_name(): t for t in (PdqSignal, VideoMD5Signal, VideoSHA256Signal)}
    for signal_type, value, *_ in rows[1:]:
        types[signal_type].validate_signal_str(value)
    assert sorted(r[0] for r in rows[1:]) == ["pdq", "video_md5", "video_sha256"]


def test_plain_lines_are_bounded(tmp_path: Path) -> None:
    """A list that is one endless line is refused at the bound, not read whole."""
    data = f"{1:032x}\n".encode() + b"a" * (17 << 20)
    with pytest.raises(DataError, match="line 2 is longer than 16 MiB"):
        list(get_format("plain").read(io.BytesIO(data), ImportOptions(), "one-line.txt"))


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=20), head=st.binary(max_size=300))
def test_detect_format_never_fails(name: str, head: bytes) -> None:
    from hashwarden.exchange.detect import detect_format

    assert detect_format(name, head) in {None, "plain", "csv", "vics", "icse", "hma", "nsrl"}
