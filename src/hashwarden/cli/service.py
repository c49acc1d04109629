"""`hashwarden serve`: run the match service over HTTP."""

from __future__ import annotations

from typing import Annotated

import typer

from hashwarden.bank import open_bank
from hashwarden.cli._app import err_console


def serve_command(
    bank: Annotated[str, typer.Option("--bank", help="The bank file or postgresql:// DSN.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Serve hashing and matching against BANK (one worker process)."""
    import uvicorn

    from hashwarden.service import ServiceSettings, create_app

    store = open_bank(bank)
    err_console.print(f"serving {store.location} on http://{host}:{port}")
    uvicorn.run(create_app(ServiceSettings.from_env(), store), host=host, port=port)
