"""The Typer app's building blocks: error handling, readable help, and the consoles every
command prints through.

Nothing here imports Rich, the bank or any other heavy module at import time: `hashwarden
--help` and small commands start in a fraction of the time they would otherwise
(docs/bench/startup.md).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from hashwarden.cli import _coercion
from hashwarden.errors import EXIT_CLOSED_PIPE, EXIT_FAILURE, EXIT_NOT_FOUND, HashwardenError

__all__ = ["console", "err_console", "new_typer", "notice", "quiet_closed_stdout"]

# Plain options are coerced without pydantic (a third of a small command's start-up).
_coercion.install()


#: Control characters Rich strips from printed text (bell, backspace, vertical tab, form feed,
#: carriage return), stripped alike when plain text is printed without it.
_STRIPPED = dict.fromkeys((7, 8, 11, 12, 13))
#: What Rich would read in text printed without `markup=False`: markup, or an emoji code.
_RICH_CODES = re.compile(r"\[|:[\w+-]+:")


class _Console:
    """A Rich console made on first use (importing Rich is a good part of a start-up): plain
    text is printed without it, as Rich would print it; markup, tables, JSON and progress
    bars go through Rich."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    def rich(self) -> Any:
        """The Rich console itself (for progress bars and tables)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def print(self, *objects: Any, markup: bool | None = None, **options: Any) -> None:
        plain = (
            self._console is None
            and not options
            and all(isinstance(o, str) for o in objects)
            and (markup is False or not any(_RICH_CODES.search(o) for o in objects))
        )
        if not plain:
            if markup is not None:
                options["markup"] = markup
            self.rich().print(*objects, **options)
            return
        stream = sys.stderr if self._options.get("stderr") else sys.stdout
        print(" ".join(objects).translate(_STRIPPED), file=stream)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rich(), name)


console = _Console(highlight=False, soft_wrap=True)
err_console = _Console(stderr=True, highlight=False, soft_wrap=True)


def notice(text: str) -> None:
    """One line on standard error, e.g. that an old spelling still works and what replaces it."""
    print(f"notice: {text}", file=sys.stderr, flush=True)


def quiet_closed_stdout() -> None:
    """Point standard output at /dev/null once its reader has gone (`... | head`), so nothing
    more fails writing to it, not even the interpreter's last flush."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):  # a test's capture, or a stream a writer closed on the error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stands in until the process ends
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _handled(run: Callable[[], Any]) -> Any:
    """Run a command, turning a deliberate error into a one-line message and its exit code."""
    try:
        return run()
    except HashwardenError as exc:
        _error(str(exc))
        raise typer.Exit(exc.exit_code) from None
    except BrokenPipeError:
        quiet_closed_stdout()
        raise typer.Exit(EXIT_CLOSED_PIPE) from None
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        _error(f"{exc.strerror or exc}{where}")
        code = EXIT_NOT_FOUND if isinstance(exc, FileNotFoundError) else EXIT_FAILURE
        raise typer.Exit(code) from None


def _error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {_escape(message)}", markup=True)


def _escape(text: str) -> str:
    """Text shown as it is, never read as Rich markup (paths and values may hold brackets)."""
    return text.replace("[", r"\[")


def _argument_metavar(param: Any) -> str:
    return param.name.upper() + ("..." if param.nargs != 1 else "")


def readable_metavars(params: list[Any]) -> None:
    """Give every argument and valued option a plain metavar (`BANK`, `PATH...`, `--out OUT`)
    where none was set, so usage lines never show Python types such as `<list[Path]>`."""
    for param in params:
        if param.metavar is not None:
            continue
        if param.param_type_name == "argument":
            param.metavar = _argument_metavar(param)
            param.hw_optional = not param.required  # shown in brackets in the usage line
        elif param.param_type_name == "option" and not param.is_flag:
            param.metavar = param.name.upper()


def _usage_pieces(command: Any, ctx: Any) -> list[str]:
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if param.param_type_name == "argument" and not getattr(param, "hidden", False):
            optional = getattr(param, "hw_optional", False)
            pieces.append(f"[{param.metavar}]" if optional else param.metavar)
    return pieces


class _Command(TyperCommand):
    """A command whose help reads as plain text: metavars instead of types, and options grouped
    under their panels (`rich_help_panel`), plain formatting included."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        readable_metavars(self.params)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _usage_pieces(self, ctx)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments = [
            (p.metavar, getattr(p, "help", None) or "")
            for p in self.get_params(ctx)
            if p.param_type_name == "argument" and not getattr(p, "hidden", False)
        ]
        panels: dict[str, list[tuple[str, str]]] = {"Options": []}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx) if param.param_type_name == "option" else None
            if record is not None:
                panel = getattr(param, "rich_help_panel", None) or "Options"
                panels.setdefault(panel, []).append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        for title, records in panels.items():
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)


class Group(TyperGroup):
    """A command group that reports errors as one line and an exit code, and lists its commands
    under the panels they were registered with (`rich_help_panel`), in registration order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        readable_metavars(self.params)

    def invoke(self, ctx: Any) -> Any:
        return _handled(lambda: super(Group, self).invoke(ctx))

    def command_rows(self, ctx: Any, limit: int) -> list[tuple[str | None, str, str]]:
        """(panel, name, short help) of every visible command, in listing order."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                panel = getattr(command, "rich_help_panel", None)
                rows.append((panel, name, command.get_short_help_str(limit=limit)))
        return rows

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max((len(n) for n in names), default=0)
        sections: dict[str, list[tuple[str, str]]] = {}
        for panel, name, short_help in self.command_rows(ctx, limit):
            sections.setdefault(panel or "Commands", []).append((name, short_help))
        for title, rows in sections.items():
            with formatter.section(title):
                formatter.write_dl(rows)


class _Typer(typer.Typer):
    """A Typer whose commands use `_Command` (readable help) unless told otherwise."""

    def command(self, name: str | None = None, *, cls: Any = None, **kwargs: Any) -> Any:
        return super().command(name, cls=cls or _Command, **kwargs)


def new_typer(
    help_text: str | None, *, cls: type[Group] = Group, name: str | None = None
) -> typer.Typer:
    return _Typer(
        name=name,
        cls=cls,
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
