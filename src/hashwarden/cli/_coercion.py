"""Typer without pydantic for plain options: a start-up cost cut, same answers.

Typer (0.29 and later) turns every command-line value into its Python type through a pydantic
`TypeAdapter`, and importing pydantic costs a command a good part of its start-up (a third of a
`match` on a small bank: docs/bench/startup.md). Most values need nothing of it: a string
stays a string, a flag is already a bool, a decimal number within its range is `int(text)`, a
path is `Path(text)`. For those annotations (`str`, `bool`, `int` without clamping, a `Path`,
and lists of them) `install()` gives Typer a coercion that converts such values itself and
hands any other value (text that is not a plain decimal, a number out of range...) to Typer's
own pydantic coercion, built on first use, so every error message stays Typer's. Other
annotations keep Typer's coercion untouched. When Typer's internals are not the ones this was
written for, nothing is installed. tests/cli/test_coercion.py compares the two.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

__all__ = ["install"]

#: What a leaf coercion returns when it cannot decide: Typer's own coercion then does.
_UNSURE: Any = object()
#: Decimal integers any int parser reads alike (no sign on zero, no leading zeros, no "_").
_DECIMAL = re.compile(r"-?[1-9][0-9]{0,17}|0")

Leaf = Callable[[Any, Any, Any], Any]


def _leaf(annotation: Any, info: Any) -> Leaf | None:
    """A coercion of one value without pydantic (value, param, ctx -> result or `_UNSURE`),
    or None when the annotation is not a plain one."""
    if info.parser is not None:
        return None
    if annotation is str:
        return lambda value, param, ctx: value if type(value) is str else _UNSURE
    if annotation is bool:
        return lambda value, param, ctx: value if type(value) is bool else _UNSURE
    if annotation is int and not info.clamp:
        low, high = info.min, info.max

        def integer(value: Any, param: Any, ctx: Any) -> Any:
            if type(value) is str and _DECIMAL.fullmatch(value):
                value = int(value)
            if type(value) is not int:
                return _UNSURE
            if (low is not None and value < low) or (high is not None and value > high):
                return _UNSURE
            return value

        return integer
    if (
        isinstance(annotation, type)
        and issubclass(annotation, Path)
        and info.path_type in (None, annotation)
        and not info.allow_dash
    ):
        from typer._param_types import coerce_cli_path

        def path(value: Any, param: Any, ctx: Any) -> Any:
            if type(value) is not str or not value:
                return _UNSURE
            # Typer's checks on the text, then the text as the path type, as Typer does. A
            # ValueError (a NUL in the text) is one pydantic would turn into Typer's message.
            try:
                checked: Any = coerce_cli_path(value, info, path_type=None, param=param, ctx=ctx)
            except ValueError:
                return _UNSURE
            return annotation(checked)

        return path
    return None


def install() -> None:
    """Make Typer coerce plain options without importing pydantic (see the module's doc)."""
    try:
        from typer import _coercion, core

        original = core.build_runtime_param
        runtime_param = _coercion.RuntimeParam
        runtime_param._coerce_value  # noqa: B018  (the method this overrides must be there)
    except (ImportError, AttributeError):
        return
    if getattr(original, "lean", False):
        return

    @dataclass(frozen=True)
    class LeanRuntimeParam(runtime_param):  # type: ignore[misc, valid-type]
        """Converts plain values itself; anything else goes to Typer's coercion."""

        leaf: Leaf
        many: bool
        descriptor: Any
        _typer: list[Any] = field(default_factory=list, compare=False)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.many:
                items = value if isinstance(value, (list, tuple)) else [value]
                done = [self.leaf(item, param, ctx) for item in items]
                result: Any = _UNSURE if any(d is _UNSURE for d in done) else done
            else:
                result = self.leaf(value, param, ctx)
            if result is not _UNSURE:
                return result
            if not self._typer:
                self._typer.append(original(self.descriptor))
            return self._typer[0]._coerce_value(value, param=param, ctx=ctx)

    def build_runtime_param(descriptor: Any) -> Any:
        annotation, info = descriptor.annotation, descriptor.parameter_info
        many = get_origin(annotation) is list and len(get_args(annotation)) == 1
        leaf = None
        if descriptor.file_annotation is None:
            leaf = _leaf(get_args(annotation)[0] if many else annotation, info)
        if leaf is None:
            return original(descriptor)
        return LeanRuntimeParam(
            parameter_info=info, annotation=annotation, leaf=leaf, many=many, descriptor=descriptor
        )

    build_runtime_param.lean = True  # type: ignore[attr-defined]
    core.build_runtime_param = build_runtime_param
