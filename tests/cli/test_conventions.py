"""The CLI's conventions (docs/cli.md): the bank first everywhere (the old `--bank` still works,
with a notice), exports to `--out -` or standard output alike, formats in any case and
recognised from the file, one spelling of server addresses, readable help grouped as the docs
group it, missing paths and banks caught before any work, exit codes named once."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwarden.bank import NewEntry, create_bank, open_bank
from hashwarden.cli import COMMANDS, app, load
from hashwarden.reports.statistics import Event, record_events
from hashwarden.signals import Signal
from hashwarden.synthetic import jpeg_bytes, synthetic_photo

MD5 = "d35c785545392755e7e4164457657269"
SRC = Path(__file__).parents[2] / "src" / "hashwarden"
REPORT_DAYS = ["report", "--from", "2026-01-01", "--to", "2026-01-02"]


def _bank(tmp_path: Path, runner: CliRunner, *, with_entry: bool = True) -> Path:
    path = tmp_path / "b.db"
    assert runner.invoke(app, ["bank", "init", str(path)]).exit_code == 0
    if with_entry:
        r = runner.invoke(app, ["bank", "add", str(path), "--md5", MD5, "-c", "B"])
        assert r.exit_code == 0, r.output
    return path


def _case(tmp_path: Path) -> Path:
    case = tmp_path / "case"
    case.mkdir()
    (case / "a.jpg").write_bytes(jpeg_bytes(synthetic_photo(3)))
    return case


# --- the bank, always first -----------------------------------------------------------------


def test_the_bank_comes_first_everywhere(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank = str(_bank(tmp_path, cli_runner))
    case = _case(tmp_path)
    log = tmp_path / "seen.log"
    log.write_text("ed2k://|file|x.avi|10|" + "ab" * 16 + "|/\n")
    runs = [
        (["match", bank, "--md5", MD5], 1),
        (["scan", bank, str(case), "--out", str(tmp_path / "r")], 0),
        (["p2p", "match", bank, str(log)], 0),
        (["report", bank, "--from", "2026-01-01", "--to", "2026-12-31", "--out", "-"], 0),
        (["apikey", "create", bank, "--role", "matcher", "--name", "pipeline"], 0),
        (["apikey", "list", bank], 0),
        (["apikey", "revoke", bank, "--name", "pipeline"], 0),
        (["keys", "list", bank], 0),
        (["index", "build", bank], 0),
        (["bank", "stats", bank], 0),
    ]
    for args, code in runs:
        r = cli_runner.invoke(app, args)
        assert r.exit_code == code, (args, r.output)
        assert "notice" not in r.stderr, (args, r.stderr)


@pytest.mark.parametrize(
    ("old", "new_spelling"),
    [
        (["match", "--bank", "{bank}", "--md5", MD5], "hashwarden match BANK"),
        (["scan", "{case}", "--bank", "{bank}", "--out", "{out}"], "hashwarden scan BANK"),
        (["p2p", "match", "--bank", "{bank}", "{log}"], "hashwarden p2p match BANK"),
        (
            [*REPORT_DAYS, "--out", "{out}.html", "--bank", "{bank}"],
            "hashwarden report BANK",
        ),
        (["apikey", "list", "--bank", "{bank}"], "hashwarden apikey list BANK"),
        (
            ["apikey", "create", "--bank", "{bank}", "--role", "matcher", "--name", "p"],
            "hashwarden apikey create BANK",
        ),
        (
            ["blocklist", "record-stats", "{counts}", "--bank", "{bank}"],
            "hashwarden blocklist record-stats BANK",
        ),
    ],
)
def test_the_old_bank_option_still_works_with_a_notice(
    tmp_path: Path, cli_runner: CliRunner, old: list[str], new_spelling: str
) -> None:
    from hashwarden.blocking.counts import BlockCounts

    bank = _bank(tmp_path, cli_runner)
    log = tmp_path / "seen.log"
    log.write_text("ed2k://|file|x.avi|10|" + "ab" * 16 + "|/\n")
    counts = tmp_path / "counts.db"
    BlockCounts(counts).close()
    values = {
        "bank": str(bank),
        "case": str(_case(tmp_path)),
        "out": str(tmp_path / "out"),
        "log": str(log),
        "counts": str(counts),
    }
    r = cli_runner.invoke(app, [a.format(**values) for a in old])
    assert r.exit_code in (0, 1), r.output
    notices = [line for line in r.stderr.splitlines() if line.startswith("notice:")]
    assert len(notices) == 1 and new_spelling in notices[0], r.stderr


def test_a_missing_bank_is_a_usage_error_naming_the_spelling(cli_runner: CliRunner) -> None:
    r = cli_runner.invoke(app, ["match", "--md5", MD5])
    assert r.exit_code == 2 and "hashwarden match BANK" in r.output


def test_serve_takes_the_bank_first_and_listen(tmp_path: Path, cli_runner: CliRunner) -> None:
    """Checked up to the point a server would start: the bank is opened first, so a missing
    bank stops every spelling with exit 4 (no server is started by this test)."""
    missing = str(tmp_path / "none.db")
    r = cli_runner.invoke(app, ["serve", missing, "--listen", "127.0.0.1:8123"])
    assert r.exit_code == 4 and "notice" not in r.stderr, r.output
    r = cli_runner.invoke(app, ["serve", "--bank", missing, "--host", "127.0.0.1", "--port", "81"])
    assert r.exit_code == 4, r.output
    assert "hashwarden serve BANK" in r.stderr and "--listen IP:PORT" in r.stderr
    for listen, message in [
        ("localhost:8000", "not an IP address"),
        ("127.0.0.1:x", "not IP[:PORT]"),
        ("127.0.0.1:70000", "between 1 and 65535"),
    ]:
        r = cli_runner.invoke(app, ["serve", missing, "--listen", listen])
        assert r.exit_code == 2 and message in r.output, r.output


def test_server_commands_share_one_address_spelling(cli_runner: CliRunner) -> None:
    for path in (["serve"], ["blocklist", "resolver"], ["blocklist", "stoppage"]):
        r = cli_runner.invoke(app, [*path, "--help"])
        assert "--listen IP:PORT" in r.output, path
        assert "--host" not in r.output and "--port" not in r.output, path


def test_the_stop_page_moved_under_blocklist(cli_runner: CliRunner) -> None:
    r = cli_runner.invoke(app, ["stoppage", "--listen", "not-an-address"])
    assert r.exit_code == 2
    assert "`hashwarden stoppage` is now `hashwarden blocklist stoppage`" in r.stderr
    assert "stoppage" not in cli_runner.invoke(app, ["--help"]).output.split("blocklist")[0]
    r = cli_runner.invoke(app, ["blocklist", "stoppage", "--listen", "not-an-address"])
    assert r.exit_code == 2 and "notice" not in r.stderr


# --- exports -----------------------------------------------------------------------------------


def test_every_export_writes_to_out_dash_or_stdout_alike(
    tmp_path: Path, cli_runner: CliRunner
) -> None:
    bank = str(_bank(tmp_path, cli_runner))
    assert (
        cli_runner.invoke(app, ["keys", "generate", "k", "--folder", str(tmp_path)]).exit_code == 0
    )
    lst = str(tmp_path / "list.db")
    assert (
        cli_runner.invoke(app, ["blocklist", "add", lst, "--domain", "bad.example"]).exit_code == 0
    )
    exports = [
        ["bank", "export", bank, "--format", "csv"],
        ["bundle", "export", bank, "--sign", str(tmp_path / "k.key")],
        ["blocklist", "export", lst, "--format", "rpz", "--nxdomain"],
    ]
    for args in exports:
        plain = cli_runner.invoke(app, args)
        dash = cli_runner.invoke(app, [*args, "--out", "-"])
        assert plain.exit_code == 0 and dash.exit_code == 0, (args, plain.output, dash.output)
        assert plain.stdout and "wrote" not in plain.stdout, args
        if args[0] != "bundle":  # a bundle is signed anew each time (its timestamp)
            assert plain.stdout == dash.stdout, args
    r = cli_runner.invoke(app, ["blocklist", "export", lst, "--sign", str(tmp_path / "k.key")])
    assert r.exit_code == 0 and json.loads(r.stdout)["body"]["add"], r.output
    r = cli_runner.invoke(app, ["bundle", "export", bank, "--sign", str(tmp_path / "k.key")])
    assert json.loads(r.stdout)["body"]["upserts"]


def test_report_writes_the_format_its_file_is_named_for(
    tmp_path: Path, cli_runner: CliRunner
) -> None:
    bank = _bank(tmp_path, cli_runner)
    with open_bank(bank) as b:
        record_events(b, [Event("device", "known", "csam-b", at="2026-03-01T12:00:00Z")])
    days = ["--from", "2026-01-01", "--to", "2026-12-31"]
    pdf = tmp_path / "x.pdf"
    r = cli_runner.invoke(app, ["report", str(bank), *days, "--out", str(pdf)])
    assert r.exit_code == 0, r.output
    assert pdf.read_bytes().startswith(b"%PDF")
    r = cli_runner.invoke(app, ["report", str(bank), *days, "--out", str(pdf), "--format", "html"])
    assert r.exit_code == 2 and "x.html" in r.output and "--format pdf" in r.output
    html = tmp_path / "x.html"
    r = cli_runner.invoke(app, ["report", str(bank), *days, "--out", str(html), "--format", "PDF"])
    assert r.exit_code == 2 and "x.pdf" in r.output
    r = cli_runner.invoke(app, ["report", str(bank), *days, "--out", str(html), "--format", "HTML"])
    assert r.exit_code == 0 and html.read_text().startswith("<!doctype html>")


# --- formats -----------------------------------------------------------------------------------


def test_formats_are_case_insensitive(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank = str(_bank(tmp_path, cli_runner))
    out = tmp_path / "out.csv"
    r = cli_runner.invoke(app, ["bank", "export", bank, "--format", "CSV", "--out", str(out)])
    assert r.exit_code == 0, r.output
    (tmp_path / "other").mkdir()
    other = str(_bank(tmp_path / "other", cli_runner, with_entry=False))
    r = cli_runner.invoke(app, ["bank", "import", other, str(out), "--format", "Csv"])
    assert r.exit_code == 0 and "imported 1 new entry" in r.output, r.output
    r = cli_runner.invoke(app, ["bank", "export", bank, "--format", "yaml"])
    assert r.exit_code == 2 and "plain, csv" in r.output


def _imported_category(tmp_path: Path, runner: CliRunner, name: str, text: str) -> str:
    folder = tmp_path / name.replace(".", "_")
    folder.mkdir()
    bank = _bank(folder, runner, with_entry=False)
    listing = folder / name
    listing.write_text(text)
    r = runner.invoke(app, ["bank", "import", str(bank), str(listing)])
    assert r.exit_code == 0, (name, r.output)
    with open_bank(bank, readonly=True) as b:
        (entry,) = list(b.entries.all())
    return entry.category


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("list.csv", f"md5,category\n{MD5},A\n"),
        ("list.txt", f"md5,category\n{MD5},A\n"),  # the header tells, whatever the suffix
        ("list", f"md5,category,series\n{MD5},A,s1\n"),
        ("hma.csv", f"md5,{MD5},collab,A,\n"),
        ("icse.txt", f"MD5;SHA1;Series name\n{MD5.upper()};;s1\n"),
        (
            "vics.json",
            json.dumps(
                {
                    "odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Media",
                    "value": [{"MD5": MD5, "Category": 1}],
                }
            ),
        ),
    ],
)
def test_a_file_is_read_in_the_format_it_is_in(
    tmp_path: Path, cli_runner: CliRunner, name: str, text: str
) -> None:
    category = _imported_category(tmp_path, cli_runner, name, text)
    expected = {"icse": "uncategorised", "vics": "csam"}  # ICSE has no category; VIC 1 is csam
    assert category == expected.get(name.split(".")[0], "csam-a")


def test_a_plain_list_and_standard_input_are_recognised(
    tmp_path: Path, cli_runner: CliRunner
) -> None:
    bank = str(_bank(tmp_path, cli_runner, with_entry=False))
    listing = tmp_path / "hashes.csv"  # a plain list, whatever its name says
    listing.write_text(f"# a list\n{MD5}\n")
    r = cli_runner.invoke(app, ["bank", "import", bank, str(listing)])
    assert r.exit_code == 0 and "imported 1 new entry" in r.output, r.output
    text = "md5,category\n" + "".join(f"{i:032x},C\n" for i in range(1, 5000))
    r = cli_runner.invoke(app, ["bank", "import", bank, "-"], input=text)
    assert r.exit_code == 0 and "imported 4999 new entries" in r.output, r.output
    with open_bank(bank, readonly=True) as b:
        assert b.stats().entries_by_category["csam-c"] == 4999


# --- help --------------------------------------------------------------------------------------


def _all_command_paths(runner: CliRunner) -> list[list[str]]:
    paths: list[list[str]] = []
    for listed in COMMANDS:
        paths.append([listed.name])
        command = load(listed)
        for name in getattr(command, "commands", {}):
            paths.append([listed.name, name])
    return paths


def test_usage_lines_show_no_python_types(cli_runner: CliRunner) -> None:
    python_types = re.compile(r"<(str|int|float|path|list|bool|text)|\{[a-z_]+\}")
    paths = _all_command_paths(cli_runner)
    assert len(paths) > 40
    for path in paths:
        r = cli_runner.invoke(app, [*path, "--help"])
        assert r.exit_code == 0, (path, r.output)
        assert not python_types.search(r.output), (path, r.output)
        assert r.output.startswith(f"Usage: hashwarden {' '.join(path)} "), r.output
    usage = cli_runner.invoke(app, ["scan", "--help"]).output.splitlines()[0]
    assert usage == "Usage: hashwarden scan [OPTIONS] BANK PATH..."


def test_commands_are_listed_under_the_headings_of_the_docs(cli_runner: CliRunner) -> None:
    text = cli_runner.invoke(app, ["--help"]).output
    docs = (SRC.parents[1] / "docs" / "cli.md").read_text()
    headings = list(dict.fromkeys(c.panel for c in COMMANDS))
    positions = [text.index(f"\n{h}:\n") for h in headings]
    assert positions == sorted(positions)
    for heading in headings:
        assert f"### {heading}" in docs, heading
    for listed in COMMANDS:
        if listed.replaced_by is None:
            assert re.search(rf"^hashwarden {listed.name}\b", docs, re.M), listed.name
            summary = load(listed).get_short_help_str(limit=300)
            assert summary == listed.summary, (listed.name, summary)


def test_version(cli_runner: CliRunner) -> None:
    from hashwarden import __version__

    r = cli_runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout == f"hashwarden {__version__}\n"


# --- missing paths and banks ----------------------------------------------------------------


@pytest.fixture
def no_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any hashing fails the test: the checks must come first."""
    import hashwarden.signals.parallel

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("hashed before the paths and the bank were checked")

    monkeypatch.setattr(hashwarden.signals.parallel, "hash_in_parallel", refuse)


def test_missing_paths_and_banks_are_exit_4_before_any_work(
    tmp_path: Path, cli_runner: CliRunner, no_hashing: None
) -> None:
    bank = str(_bank(tmp_path, cli_runner))
    case = str(_case(tmp_path))
    gone = str(tmp_path / "gone")
    no_bank = str(tmp_path / "no.db")
    runs = [
        (["bank", "add-files", bank, case, gone], gone),
        (["bank", "add-files", no_bank, case], "no bank"),
        (["bank", "add-views", bank, case, gone], gone),
        (["bank", "add-views", no_bank, case], "no bank"),
        (["match", bank, "--file", gone], gone),
        (["hash", case, gone], gone),
        (["scan", bank, case, gone, "--out", str(tmp_path / "r")], gone),
        (["scan", no_bank, case, "--out", str(tmp_path / "r")], "no bank"),
        (["p2p", "match", bank, gone], gone),
        (["p2p", "match", no_bank, case], "no bank"),
        (["match", no_bank, "--md5", MD5], "no bank"),
    ]
    for args, message in runs:
        r = cli_runner.invoke(app, args)
        assert r.exit_code == 4, (args, r.output)
        assert message in r.output and "Traceback" not in r.output, (args, r.output)
    assert not (tmp_path / "no.db").exists()


def test_add_files_never_banks_its_own_bank(
    tmp_path: Path, cli_runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(jpeg_bytes(synthetic_photo(4)))
    bank = folder / "case.db"
    assert cli_runner.invoke(app, ["bank", "init", str(bank)]).exit_code == 0
    assert cli_runner.invoke(app, ["bank", "add", str(bank), "--md5", MD5]).exit_code == 0
    assert cli_runner.invoke(app, ["index", "build", str(bank)]).exit_code == 0
    for side in ("-wal", "-shm"):  # as a running writer leaves them
        (folder / f"case.db{side}").write_bytes(b"\x00" * 32)
    monkeypatch.chdir(folder)
    r = cli_runner.invoke(app, ["bank", "add-files", "case.db", "."])
    assert r.exit_code == 0, r.output
    assert "added 1 new entry" in r.output and "left out" in r.stderr
    with open_bank(bank, readonly=True) as b:
        names = sorted(e.extra.get("file_name") or "" for e in b.entries.all())
    assert names == ["", "photo.jpg"]


def test_hash_and_scan_walk_the_same_files(tmp_path: Path, cli_runner: CliRunner) -> None:
    from hashwarden.scan.reader import read_items

    case = tmp_path / "case"
    (case / "b" / "c").mkdir(parents=True)
    for name in ("z.bin", "a.bin", "b/c/m.bin", "b/y.bin"):
        (case / name).write_bytes(name.encode())
    (case / "b" / "link").symlink_to(case / "a.bin")
    (case / "linked-folder").symlink_to(case / "b")
    r = cli_runner.invoke(app, ["hash", "--json", "--workers", "1", str(case)])
    assert r.exit_code == 6, r.output  # the links are skipped, and said to be
    hashed = [json.loads(line) for line in r.stdout.splitlines()]
    scanned = list(read_items([case]))
    assert [h["path"] for h in hashed] == [i.path for i in scanned]
    assert [bool(h.get("error")) for h in hashed] == [bool(i.error) for i in scanned]


# --- one home for exit codes -------------------------------------------------------------------


def test_exit_codes_are_named_not_written_as_numbers() -> None:
    literal = re.compile(r"Exit\(\s*\d|exit_code\s*=\s*\d|sys\.exit\(\s*\d")
    offenders = [
        f"{path.relative_to(SRC)}:{n}"
        for path in [*sorted((SRC / "cli").glob("*.py")), SRC / "scan" / "pipeline.py"]
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if literal.search(line)
    ]
    assert not offenders, offenders


# --- bank show, bank list, blocklist list ------------------------------------------------------


def _provenanced_bank(tmp_path: Path) -> Path:
    path = tmp_path / "p.db"
    with create_bank(path) as b:
        b.entries.add_many(
            [
                NewEntry([Signal("md5", MD5)], "csam-a", "series-1", source="hotline-a"),
                NewEntry([Signal("md5", "1" * 32)], "csam-b", source="hotline-b"),
                NewEntry([Signal("sha1", "2" * 40)], "csam-b", "series-1", source="hotline-a"),
            ],
            detail={"file": "list-a.csv"},
        )
        b.provenance.vote(1, "hotline-b", "dispute", reason="not CSAM")
    return path


def test_bank_show_gives_an_entry_whole(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank = str(_provenanced_bank(tmp_path))
    by_id = cli_runner.invoke(app, ["bank", "show", bank, "1", "--json"])
    by_hash = cli_runner.invoke(app, ["bank", "show", bank, "--md5", MD5.upper(), "--json"])
    assert by_id.exit_code == 0 and by_hash.stdout == by_id.stdout, by_id.output
    shown = json.loads(by_id.stdout)
    assert shown["entry"]["signals"] == {"md5": MD5}
    assert shown["provenance"][0]["org"] == "hotline-a"
    assert shown["votes"] == [
        {"org": "hotline-b", "vote": "dispute", "reason": "not CSAM", "at": shown["votes"][0]["at"]}
    ]
    assert [h["action"] for h in shown["history"]] == ["entries.add", "entry.vote"]
    text = cli_runner.invoke(app, ["bank", "show", bank, "1"]).stdout
    assert "provenance:" in text and "hotline-b  dispute" in text and "entry.vote" in text
    for args, code in [
        (["9"], 4),
        (["--md5", "f" * 32], 4),
        ([], 2),
        (["1", "--md5", MD5], 2),
    ]:
        r = cli_runner.invoke(app, ["bank", "show", bank, *args])
        assert r.exit_code == code, (args, r.output)


def test_bank_list_searches(tmp_path: Path, cli_runner: CliRunner) -> None:
    bank = str(_provenanced_bank(tmp_path))

    def ids(*args: str) -> list[int]:
        r = cli_runner.invoke(app, ["bank", "list", bank, "--json", *args])
        assert r.exit_code == 0, r.output
        return [json.loads(line)["id"] for line in r.stdout.splitlines()]

    assert ids() == [1, 2, 3]
    assert ids("--kind", "sha1") == [3]
    assert ids("--series", "series-1") == [1, 3]
    assert ids("--category", "B") == [2, 3]
    assert ids("--source", "hotline-a", "--category", "csam-b") == [3]
    assert ids("--limit", "2") == [1, 2]
    r = cli_runner.invoke(app, ["bank", "list", bank, "--limit", "1"])
    assert r.stdout.startswith("entry 1  csam-a  series series-1") and "--limit 0" in r.stderr


def test_blocklist_list(tmp_path: Path, cli_runner: CliRunner) -> None:
    lst = str(tmp_path / "list.db")
    for args in (["--domain", "bad.example"], ["--url", "http://x.example/a"]):
        assert (
            cli_runner.invoke(app, ["blocklist", "add", lst, *args, "--source", "IWF"]).exit_code
            == 0
        )
    r = cli_runner.invoke(app, ["blocklist", "list", lst])
    assert r.exit_code == 0 and "bad.example" in r.stdout and "source IWF" in r.stdout
    r = cli_runner.invoke(app, ["blocklist", "list", lst, "--kind", "URL", "--json"])
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["kind"] for row in rows] == ["url"]
    assert (
        cli_runner.invoke(app, ["keys", "generate", "k", "--folder", str(tmp_path)]).exit_code == 0
    )
    hashed = tmp_path / "list.json"
    export = ["blocklist", "export", lst, "--sign", str(tmp_path / "k.key"), "--out", str(hashed)]
    assert cli_runner.invoke(app, export).exit_code == 0
    applied = tmp_path / "applied.json"
    apply = ["blocklist", "apply", str(applied), str(hashed), "--trust", str(tmp_path / "k.pub")]
    assert cli_runner.invoke(app, apply).exit_code == 0
    r = cli_runner.invoke(app, ["blocklist", "list", str(applied), "--json"])
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 2 and all("expression" not in row for row in rows)


# --- P2P identifiers through the bank's matcher -------------------------------------------------


def test_p2p_match_applies_known_good_sets_and_disputes(
    tmp_path: Path, cli_runner: CliRunner
) -> None:
    known, good, disputed = "a1" * 16, "b2" * 16, "c3" * 16
    bank = tmp_path / "p2p.db"
    with create_bank(bank) as b:
        b.entries.add_many(
            [
                NewEntry([Signal("ed2k", known)], "csam-b", source="hotline-a"),
                NewEntry([Signal("ed2k", disputed)], "csam-b", source="hotline-a"),
            ]
        )
        b.known_good.add("os-files", [Signal("ed2k", good)])
        b.provenance.vote(2, "hotline-b", "dispute", reason="a film trailer")
    log = tmp_path / "seen.log"
    log.write_text(
        "".join(f"ed2k://|file|f{i}.avi|100|{v}|/\n" for i, v in enumerate([known, good, disputed]))
    )

    def matched(*options: str) -> dict[str, dict[str, object]]:
        r = cli_runner.invoke(app, ["p2p", "match", str(bank), str(log), "--json", *options])
        assert r.exit_code == 1, r.output
        return {rec["source"]: rec for rec in map(json.loads, r.stdout.splitlines())}

    records = matched()
    assert [m["entry"] for m in records[f"{log}:1"]["matches"]] == [1]  # type: ignore[index]
    assert records[f"{log}:2"]["matches"] == [] and records[f"{log}:2"]["known_good"] == [
        "os-files"
    ]
    assert [m["entry"] for m in records[f"{log}:3"]["matches"]] == [2]  # type: ignore[index]
    records = matched("--exclude-disputed")
    assert records[f"{log}:3"]["matches"] == []
    assert [m["entry"] for m in records[f"{log}:1"]["matches"]] == [1]  # type: ignore[index]
    r = cli_runner.invoke(app, ["p2p", "match", str(bank), str(log)])
    assert f"{log}:2: known good: os-files" in r.stdout, r.output
