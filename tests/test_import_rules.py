"""The import graph runs one way: each package imports only the packages below it.

The allowed dependencies (docs/architecture.md draws them), bottom to top:

    hashwarden, errors, _time, _types, signing, synthetic   import nothing above them
    _sql                    the one database layer (SQLite, PostgreSQL), over _time and errors
    _arrayfile              the saved, memory-mapped arrays of the index, the block list, the case columns
    hookspecs, plugins      the plugin machinery (hookspecs names signal types for typing only)
    signals                 kinds, registry, hashing; hashers come in through the plugin hook
    p2p                     P2P kinds and their hasher, a plugin of signals
    bank                    stores of entries and signals
    index                   matching against a bank
    scan                    read -> hash -> match -> classify
    cases                   the case hash store and retro-hunting: bank and index, never scan
    cluster                 hashing and retro-hunting on a Dask cluster (optional dependency)
    exchange                list formats and signed bundles
    blocking                the URL block list: signing only, never bank or exchange
    reports                 scan results (from _types) and bank statistics, never the pipeline
    service                 the HTTP service (blocking and reports: the console's pages only,
                            lazily; see test_only_console_pages_load_blocking_and_reports)
    demo                    the demo case
    agent                   the endpoint agent: scan's reading, the index, sync into its bank
    cli, __main__           on top: may import anything

An import under `if TYPE_CHECKING:` loads nothing at run time and is not counted. Imports inside
functions are: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "hashwarden"

_BOTTOM = {"hashwarden", "errors", "_time", "_types", "signing", "synthetic", "_sql", "_arrayfile"}
ALLOWED: dict[str, set[str]] = {
    "hashwarden": {"errors"},
    "errors": set(),
    "_time": {"errors"},
    "_types": {"errors"},
    "signing": {"errors"},
    "synthetic": set(),
    "_sql": {"errors", "_time"},
    "_arrayfile": {"errors"},
    "hookspecs": set(),
    "plugins": {"hookspecs"},
    "signals": {"errors", "hookspecs", "plugins"},
    "p2p": {"errors", "hookspecs", "signals"},
    "bank": {"errors", "_time", "_sql", "signals"},
    "index": {"errors", "_time", "_types", "_arrayfile", "signals", "bank"},
    "scan": {"hashwarden", "errors", "_time", "_types", "signals", "bank", "index"},
    "cases": {"errors", "_time", "_sql", "_arrayfile", "bank", "index"},
    "cluster": {"errors", "signals", "cases"},
    "exchange": {"errors", "_time", "signing", "signals", "bank"},
    "blocking": {"errors", "_time", "_sql", "_arrayfile", "signing"},
    "reports": {"errors", "_time", "_types", "bank"},
    "service": {"hashwarden", "errors", "_time", "_types", "signing", "signals", "bank"}
    | {"index", "exchange", "blocking", "reports"},
    "demo": {"errors", "synthetic", "signals", "bank", "index", "scan", "reports"},
    "agent": {"hashwarden", "errors", "_time", "signals", "bank", "index", "scan", "exchange"},
}
#: Everything may import these; the top (cli, __main__) may import anything.
TOP = {"cli", "__main__"}


def _unit(module: str) -> str:
    """The package (or top-level module) of hashwarden a dotted module name belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "hashwarden"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes inside `if TYPE_CHECKING:` blocks."""
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                hidden.update(id(n) for n in ast.walk(inner))
    return hidden


def _imports(path: Path) -> list[tuple[str, int]]:
    """(imported hashwarden module, line) for every run-time import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hidden = _type_checking_only(tree)
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base == "hashwarden":  # `from hashwarden import errors` names a submodule
                for alias in node.names:
                    is_module = (SRC / alias.name).is_dir() or (SRC / f"{alias.name}.py").exists()
                    found.append((f"hashwarden.{alias.name}" if is_module else base, node.lineno))
            else:
                found.append((base, node.lineno))
    return [(m, line) for m, line in found if m == "hashwarden" or m.startswith("hashwarden.")]


def _edges() -> dict[tuple[str, str], list[str]]:
    """(importing unit, imported unit) -> where, for every import across units."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        source = _unit(_module_name(path))
        for module, line in _imports(path):
            target = _unit(module)
            if target != source:
                edges.setdefault((source, target), []).append(
                    f"{path.relative_to(SRC.parent)}:{line}"
                )
    return edges


def test_every_package_has_a_place_in_the_graph() -> None:
    units = {_unit(_module_name(p)) for p in SRC.rglob("*.py")}
    assert units - set(ALLOWED) - TOP == set()


def test_packages_import_only_what_the_graph_allows() -> None:
    wrong = {
        f"{source} -> {target}": where
        for (source, target), where in _edges().items()
        if source not in TOP and target not in ALLOWED.get(source, set())
    }
    assert not wrong, f"imports outside the allowed graph: {wrong}"


def test_the_allowed_graph_has_no_cycles() -> None:
    """The allowed graph (so also the real one, within it) is acyclic."""
    state: dict[str, str] = {}

    def visit(unit: str, trail: list[str]) -> None:
        if state.get(unit) == "done":
            return
        assert state.get(unit) != "open", f"cycle: {' -> '.join([*trail, unit])}"
        state[unit] = "open"
        for target in sorted(ALLOWED.get(unit, set())):
            visit(target, [*trail, unit])
        state[unit] = "done"

    for unit in sorted(ALLOWED):
        visit(unit, [])
    assert all(ALLOWED[b] <= _BOTTOM for b in _BOTTOM)


def _loaded_after(statement: str) -> set[str]:
    """Modules loaded by a fresh interpreter running `statement` (the project's source first)."""
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    env_path = str(SRC.parent)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    return set(out.stdout.split())


HEAVY = {"numpy", "PIL", "pdqhash"}


@pytest.mark.parametrize(
    "statement",
    ["import hashwarden.blocking.squid", "import hashwarden.blocking", "import hashwarden.signing"],
)
def test_the_squid_helper_loads_no_image_libraries(statement: str) -> None:
    loaded = _loaded_after(statement)
    assert not HEAVY & loaded, sorted(HEAVY & loaded)
    assert not {"hashwarden.exchange", "hashwarden.bank", "hashwarden.signals"} & loaded


def test_signal_kinds_load_neither_hashing_nor_p2p() -> None:
    loaded = _loaded_after("import hashwarden.signals.kinds, hashwarden.signals.base")
    assert not HEAVY & loaded, sorted(HEAVY & loaded)
    assert "hashwarden.signals.hashing" not in loaded
    assert not any(m.startswith("hashwarden.p2p") for m in loaded)


def test_hashing_loads_the_image_libraries_only_to_decode_an_image() -> None:
    loaded = _loaded_after("import hashwarden.signals.hashing, hashwarden.signals.video")
    assert not HEAVY & loaded, sorted(HEAVY & loaded)


def test_the_small_bank_matcher_loads_no_numpy() -> None:
    loaded = _loaded_after("import hashwarden.index.small, hashwarden.index")
    assert not HEAVY & loaded, sorted(HEAVY & loaded)
    assert "hashwarden.index.matcher" not in loaded


def test_the_file_walk_loads_neither_the_pipeline_nor_the_matcher() -> None:
    loaded = _loaded_after("import hashwarden.scan.walk")
    assert not {"hashwarden.scan.pipeline", "hashwarden.index", "hashwarden.bank"} & loaded
    assert not HEAVY & loaded, sorted(HEAVY & loaded)


def test_reports_use_scan_results_without_the_pipeline() -> None:
    loaded = _loaded_after("import hashwarden.reports.case")
    assert "hashwarden.scan.pipeline" not in loaded and "hashwarden.index" not in loaded
    assert not HEAVY & loaded, sorted(HEAVY & loaded)


def _literal_exit_codes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = ast.unparse(node.func)
        code = node.args[0]
        if name.split(".")[-1] in {"Exit", "exit", "SystemExit", "_exit"} and (
            isinstance(code, ast.Constant) and isinstance(code.value, int) and code.value != 0
        ):
            found.append(f"{path.relative_to(SRC.parent)}:{node.lineno}")
    return found


def test_exit_codes_are_named_in_errors_only() -> None:
    """Outside the CLI (whose conventions work names its own), no exit code is a literal:
    the EXIT_* constants and the error classes of errors.py name them all."""
    literal = [
        where
        for path in sorted(SRC.rglob("*.py"))
        if path.relative_to(SRC).parts[0] != "cli"
        for where in _literal_exit_codes(path)
    ]
    assert not literal


#: The service's own layers, bottom to top (docs/service.md, "How the service is built"): a
#: module imports only its own layer and those below, so the state never reaches for a route
#: and no route for the app. The first layer knows nothing of HTTP routing.
SERVICE_LAYERS = [
    {"actions", "alerts", "banks", "keys", "metrics", "privacy", "ratelimit", "offload"}
    | {"settings"}
    | {"observe", "http_errors", "recent", "decisions", "tally"},
    {"state"},
    {"auth", "inputs"},
    {"routes"},
    {"fastlane"},
    {"app"},
    {"asgi"},
    {"server", ""},
]


def _service_layer(module: str) -> int:
    """The layer of a module of hashwarden.service (`""`: the package itself)."""
    parts = module.split(".")[2:3]
    name = parts[0] if parts else ""
    (layer,) = [i for i, names in enumerate(SERVICE_LAYERS) if name in names]
    return layer


def test_service_modules_import_only_their_layer_and_below() -> None:
    """A new module of the service gets a layer here (an unplaced one fails the lookup)."""
    service = SRC / "service"
    upward = [
        f"{_module_name(path)} -> {module} (line {line})"
        for path in sorted(service.rglob("*.py"))
        for module, line in _imports(path)
        if module.startswith("hashwarden.service")
        and _service_layer(module) > _service_layer(_module_name(path))
    ]
    assert not upward, upward


#: The packages the service may import only from the console's pages, inside the functions
#: that need them: a service nobody opens those pages on loads neither (nor matplotlib).
CONSOLE_ONLY = ("hashwarden.blocking", "hashwarden.reports")


def _module_level(path: Path) -> set[int]:
    """Lines of the imports that run when the module is imported (outside any function)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hidden = _type_checking_only(tree)
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            inside.update(id(n) for n in ast.walk(node))
    return {
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        and id(node) not in hidden
        and id(node) not in inside
    }


def test_only_console_pages_load_blocking_and_reports() -> None:
    service = SRC / "service"
    pages = service / "routes" / "console" / "pages"
    wrong = []
    for path in sorted(service.rglob("*.py")):
        eager = _module_level(path)
        for module, line in _imports(path):
            if not module.startswith(CONSOLE_ONLY):
                continue
            if not path.is_relative_to(pages) or line in eager:
                wrong.append(f"{path.relative_to(SRC.parent)}:{line} imports {module}")
    assert not wrong, wrong


def test_the_service_app_loads_neither_matplotlib_nor_the_block_list() -> None:
    loaded = _loaded_after(
        "from hashwarden.service import create_app, ServiceSettings\n"
        "from hashwarden.bank import create_bank\n"
        "import tempfile, pathlib\n"
        "with tempfile.TemporaryDirectory() as folder:\n"
        "    bank = create_bank(pathlib.Path(folder) / 'b.db')\n"
        "    create_app(ServiceSettings(), bank)\n"
        "    bank.close()"
    )
    assert "hashwarden.service.routes.console.pages.blocklist" in loaded  # the app was made
    assert not {m for m in loaded if m.startswith((*CONSOLE_ONLY, "matplotlib"))}
