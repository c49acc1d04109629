"""Plain options coerced without pydantic (`hashwarden.cli._coercion`) come out as Typer's own
coercion makes them: the same value, or the same error message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer import _coercion as typer_coercion
from typer import core

import hashwarden.cli._app  # noqa: F401  (installs the coercion)
from hashwarden.cli._coercion import install

OPTIONS: list[tuple[Any, Any]] = [
    (str, typer.Option()),
    (bool, typer.Option()),
    (int, typer.Option()),
    (int, typer.Option(min=0, max=256)),
    (int, typer.Option(min=-5)),
    (Path, typer.Option()),
    (Path, typer.Option(exists=True, dir_okay=False)),
    (list[str], typer.Option()),
    (list[int], typer.Option(max=9)),
    (list[Path], typer.Argument()),
]

texts = st.one_of(
    st.text(max_size=8),
    st.from_regex(r"[-+ ]?[0-9_]{1,6}[ .]?[0-9]?", fullmatch=True),
    st.sampled_from(
        ["", "-", "0", "-0", "007", "256", "257", "-6", "1e3", "true", "no", ".", "a\x00b"]
    ),
)
values = st.one_of(texts, st.integers(-300, 300), st.booleans(), st.lists(texts, max_size=3))


def _outcome(runtime: Any, value: Any) -> tuple[str, Any]:
    try:
        return "value", runtime._coerce_value(value, param=None, ctx=None)
    except typer.BadParameter as exc:
        return "error", exc.message


def test_the_lean_coercion_is_installed() -> None:
    assert getattr(core.build_runtime_param, "lean", False)
    install()  # twice is once
    assert core.build_runtime_param is not typer_coercion.build_runtime_param


@pytest.mark.parametrize(("annotation", "info"), OPTIONS, ids=lambda o: str(o)[:40])
@settings(max_examples=150, deadline=None)
@given(value=values)
def test_plain_options_coerce_as_typer_does(annotation: Any, info: Any, value: Any) -> None:
    descriptor = typer_coercion.resolve_type_descriptor(annotation, info)
    lean = core.build_runtime_param(descriptor)
    assert type(lean).__name__ == "LeanRuntimeParam"
    assert _outcome(lean, value) == _outcome(typer_coercion.build_runtime_param(descriptor), value)


def test_other_annotations_keep_typers_coercion() -> None:
    for annotation in (float, tuple[int, str]):
        descriptor = typer_coercion.resolve_type_descriptor(annotation, typer.Option())
        assert type(core.build_runtime_param(descriptor)).__name__ == "AdapterRuntimeParam"
