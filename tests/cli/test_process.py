"""The CLI as a process: what starting it loads (import hygiene: no timings asserted), and a
quiet end when the reader of its output goes away."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hashwarden.bank import NewEntry, create_bank
from hashwarden.signals import Signal

SRC = Path(__file__).parents[2] / "src"
HEAVY = ["matplotlib", "fastapi", "uvicorn", "starlette", "pydantic", "PIL", "numpy", "pdqhash"]
HEAVY += ["av", "httpx", "dns", "cryptography", "rich", "hashwarden.bank", "hashwarden.signals"]

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


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


def _probe(*args: str) -> dict[str, object]:
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(HEAVY), *args],
        capture_output=True,
        text=True,
        env=_env(),
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
    if len(args) > 1:  # Typer (0.29 and later) checks the options of a command with pydantic
        loaded = [m for m in loaded if m != "pydantic"]
    assert loaded == [], f"`hashwarden {' '.join(args)}` loaded {loaded}"


def test_a_small_command_loads_only_what_it_uses(tmp_path: Path) -> None:
    """Nothing of the service, the reports or the exchange, and no Rich for plain text."""
    with create_bank(tmp_path / "b.db") as b:
        b.entries.add_many([NewEntry([Signal("md5", "a" * 32)])])
    result = _probe("keys", "list", str(tmp_path / "b.db"))
    assert result["code"] == 0 and "no trusted keys" in str(result["stdout"])
    loaded = set(result["loaded"])  # type: ignore[arg-type]
    assert not loaded & {"matplotlib", "fastapi", "uvicorn", "starlette", "av", "httpx", "rich"}


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    bank = tmp_path / "b.db"
    with create_bank(bank) as b:  # well over a pipe's 64 KiB buffer
        b.entries.add_many(NewEntry([Signal("md5", f"{i:032x}")]) for i in range(1, 20_001))
    export = subprocess.Popen(
        [sys.executable, "-m", "hashwarden", "bank", "export", str(bank)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    assert export.stdout is not None and export.stderr is not None
    first = export.stdout.readline()
    export.stdout.close()  # what `| head -1` does
    code = export.wait(timeout=120)
    stderr = export.stderr.read().decode()
    assert first.strip() == f"{1:032x}".encode()
    assert code == 141 and stderr == "", (code, stderr)
