"""The CLI as a process: what starting it loads (import hygiene: no timings asserted), and a
quiet end when the reader of its output goes away."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hashwarden.bank import NewEntry, create_bank
from hashwarden.signals import Signal
from hashwarden.synthetic import jpeg_bytes, synthetic_photo

from .._process import env_with_sources

HEAVY = ["matplotlib", "fastapi", "uvicorn", "starlette", "pydantic", "PIL", "numpy", "pdqhash"]
HEAVY += ["av", "httpx", "dns", "cryptography", "rich", "hashwarden.bank", "hashwarden.signals"]
#: Looked for too, where a command should not need them.
LATER = ["importlib.metadata", "hashwarden.p2p.identifiers", "multiprocessing", "pillow_heif"]

#: Runs the CLI in this interpreter as `hashwarden ARGS...` would, then prints which of the
#: heavy modules it had loaded (as JSON on the last line of stderr).
_PROBE = """
import json, sys
heavy = json.loads(sys.argv[1])
sys.argv = ["hashwarden", *sys.argv[2:]]
if sys.argv[1:] == ["--import-only"]:
    import hashwarden.cli
    code = 0
else:
    from hashwarden.cli import main
    try:
        main()
    except SystemExit as exc:
        code = exc.code
loaded = [m for m in heavy if m in sys.modules]
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def _probe(*args: str, heavy: list[str] = HEAVY) -> dict[str, object]:
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(heavy), *args],
        capture_output=True,
        text=True,
        env=env_with_sources(),
        timeout=120,
    )
    result: dict[str, object] = json.loads(run.stderr.strip().splitlines()[-1])
    result["stdout"] = run.stdout
    return result


@pytest.mark.parametrize(
    "args",
    [
        ["--import-only"],
        ["--help"],
        ["--version"],
        ["bank", "--help"],
        ["keys", "--help"],
        ["blocklist", "--help"],
        ["match", "--help"],
    ],
)
def test_starting_loads_nothing_heavy(args: list[str]) -> None:
    result = _probe(*args)
    assert result["code"] == 0, result
    loaded = list(result["loaded"])  # type: ignore[call-overload]
    assert loaded == [], f"`hashwarden {' '.join(args)}` loaded {loaded}"


def test_a_small_command_loads_only_what_it_uses(tmp_path: Path) -> None:
    """Nothing of the service, the reports or the exchange, and no Rich for plain text."""
    with create_bank(tmp_path / "b.db") as b:
        b.entries.add_many([NewEntry([Signal("md5", "a" * 32)])])
    result = _probe("keys", "list", str(tmp_path / "b.db"))
    assert result["code"] == 0 and "no trusted keys" in str(result["stdout"])
    loaded = set(result["loaded"])  # type: ignore[arg-type]
    assert not loaded & {"matplotlib", "fastapi", "uvicorn", "starlette", "av", "httpx", "rich"}


@pytest.mark.parametrize("flag", ["--pdq", "--md5"])
def test_match_on_a_small_bank_loads_no_image_or_array_library(tmp_path: Path, flag: str) -> None:
    """A small bank is scanned in plain Python: no numpy, Pillow or pdqhash, no Rich; its
    options are coerced without pydantic, its hashes checked without loading plugins."""
    pdq, md5 = "f" * 64, "a" * 32
    with create_bank(tmp_path / "b.db") as b:
        b.entries.add_many([NewEntry([Signal("md5", md5), Signal("pdq", pdq)], "csam-b")])
    value = pdq if flag == "--pdq" else md5
    result = _probe("match", str(tmp_path / "b.db"), flag, value, heavy=[*HEAVY, *LATER])
    assert result["code"] == 1, result  # matched
    assert f"entry 1  {flag[2:]} distance 0  csam-b" in str(result["stdout"])
    loaded = set(result["loaded"])  # type: ignore[arg-type]
    assert not loaded & {"numpy", "PIL", "pdqhash", "pydantic", "rich", "matplotlib", "av"}, loaded
    # The built-in kinds are checked without the plugins (an entry-point scan).
    assert not loaded & {"importlib.metadata", "hashwarden.p2p.identifiers"}, loaded


def test_hash_of_one_photo_loads_only_the_image_libraries(tmp_path: Path) -> None:
    """One generated JPEG hashed in process: numpy, Pillow and pdqhash, but no pool, no
    progress bar (Rich), no pydantic, no HEIF plugin, nothing of the scan pipeline or P2P, no
    plugin manager (pluggy), no digest threads (concurrent.futures), no Pillow plugin but
    the JPEG one."""
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes(synthetic_photo(3, 640, 480)))
    heavy = [*HEAVY, *LATER, "hashwarden.scan.pipeline", "pluggy", "concurrent.futures"]
    heavy += [
        "PIL.BmpImagePlugin",
        "PIL.GifImagePlugin",
        "PIL.PpmImagePlugin",
        "PIL.PngImagePlugin",
    ]
    result = _probe("hash", "--json", str(photo), heavy=heavy)
    assert result["code"] == 0, result
    assert json.loads(str(result["stdout"]))["pdq"]
    assert set(result["loaded"]) == {"numpy", "PIL", "pdqhash", "hashwarden.signals"}


def test_hash_of_a_file_that_is_no_image_loads_no_image_library(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    result = _probe("hash", "--json", str(text), heavy=[*HEAVY, *LATER])
    assert result["code"] == 0, result
    assert json.loads(str(result["stdout"]))["md5"] == "b1946ac92492d2347c6235b4d2611184"
    assert set(result["loaded"]) == {"hashwarden.signals"}


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    bank = tmp_path / "b.db"
    with create_bank(bank) as b:  # well over a pipe's 64 KiB buffer
        b.entries.add_many(NewEntry([Signal("md5", f"{i:032x}")]) for i in range(1, 20_001))
    export = subprocess.Popen(
        [sys.executable, "-m", "hashwarden", "bank", "export", str(bank)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env_with_sources(),
    )
    assert export.stdout is not None and export.stderr is not None
    first = export.stdout.readline()
    export.stdout.close()  # what `| head -1` does
    code = export.wait(timeout=120)
    stderr = export.stderr.read().decode()
    assert first.strip() == f"{1:032x}".encode()
    assert code == 141 and stderr == "", (code, stderr)
