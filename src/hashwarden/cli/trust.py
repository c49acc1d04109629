"""`hashwarden keys ...` and `hashwarden bundle ...`: signing keys and signed delta bundles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hashwarden.bank import SqliteBank, open_bank, parse_category
from hashwarden.cli._app import console, err_console, new_typer
from hashwarden.cli._progress import progress_bar
from hashwarden.errors import UsageError
from hashwarden.exchange.bundle import (
    add_trusted_key,
    build_bundle,
    generate_keys,
    import_bundle,
    key_origins,
    revoke_trusted_key,
)
from hashwarden.exchange.sync import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_BUNDLE_BYTES,
    DEFAULT_MAX_INDEX_BYTES,
    publish,
    pull,
)

keys_app = new_typer("Signing keys: make a key pair; trust, list and revoke public keys.")
bundle_app = new_typer("Signed delta bundles between banks.")
BankArg = Annotated[str, typer.Argument(help="The bank: a SQLite file or a postgresql:// DSN.")]
FileNamesOpt = Annotated[
    bool,
    typer.Option(
        "--include-file-names",
        help="Also send original file names, paths, EXIF, comments and case details.",
    ),
]


@keys_app.command("generate")
def keys_generate(
    name: Annotated[str, typer.Argument(help="Key name: writes NAME.key and NAME.pub.")],
    folder: Annotated[Path, typer.Option(help="Where to write them.")] = Path("."),
) -> None:
    """Make an Ed25519 key pair: NAME.key (private, mode 600) and NAME.pub (to share)."""
    private, public = generate_keys(name, folder)
    console.print(f"private key: {private} (keep it secret)\npublic key:  {public} (share it)")


@keys_app.command("add")
def keys_add(
    bank: BankArg,
    public_key: Annotated[Path, typer.Argument(help="A NAME.pub file.")],
    origin: Annotated[
        list[str] | None,
        typer.Option(
            "--origin",
            help="The bank id this key signs for (repeatable); without it, the first bundle "
            "the key signs binds it to that bundle's origin.",
        ),
    ] = None,
) -> None:
    """Trust bundles signed by this key, for the origins it is bound to."""
    with open_bank(bank) as b:
        name = add_trusted_key(b, public_key, origins=origin or [])
    bound = f" for origin {', '.join(origin)}" if origin else " (bound on first use)"
    console.print(f"trusting key {name}{bound}")


@keys_app.command("list")
def keys_list(bank: BankArg) -> None:
    """The keys this bank trusts and the origins each may sign for."""
    with open_bank(bank, readonly=True) as b:
        rows = b.trusted_keys()
        origins = key_origins(b)
    for name, key, added, revoked in rows:
        state = f"revoked {revoked}" if revoked else "trusted"
        bound = ", ".join(origins.get(name, [])) or "none yet (bound on first use)"
        console.print(f"{name}  {key}  added {added}  {state}  origins: {bound}")
    if not rows:
        console.print("no trusted keys")


@keys_app.command("revoke")
def keys_revoke(
    bank: BankArg, name: Annotated[str, typer.Argument(help="The key's name.")]
) -> None:
    """Stop trusting a key: its bundles are refused from now on."""
    with open_bank(bank) as b:
        revoke_trusted_key(b, name)
    console.print(f"revoked key {name}")


@bundle_app.command("export")
def bundle_export(
    bank: BankArg,
    sign: Annotated[Path, typer.Option("--sign", help="The private key file (NAME.key).")],
    out: Annotated[Path, typer.Option("--out", help="The bundle file to write.")],
    since: Annotated[int, typer.Option(min=0, help="Audit sequence the receiver has.")] = 0,
    category: Annotated[
        list[str] | None, typer.Option(help="Share only these categories (repeatable).")
    ] = None,
    source: Annotated[
        list[str] | None, typer.Option(help="Share only entries of these sources (repeatable).")
    ] = None,
    include_file_names: FileNamesOpt = False,
) -> None:
    """Write the bank's changes after --since as a signed bundle (without file names and
    other personal fields unless --include-file-names)."""
    with open_bank(bank, readonly=True) as b:
        bundle = build_bundle(
            b,
            since=since,
            key_path=sign,
            categories={parse_category(c) for c in category} if category else None,
            sources=set(source) if source else None,
            include_file_names=include_file_names,
        )
    out.write_text(json.dumps(bundle, ensure_ascii=False))
    body = bundle["body"]
    err_console.print(
        f"wrote {out}: {len(body['upserts'])} entries, {len(body['removals'])} "
        f"removals, changes {body['since']} to {body['sequence']}"
    )


@bundle_app.command("import")
def bundle_import(bank: BankArg, file: Annotated[Path, typer.Argument(help="A bundle.")]) -> None:
    """Verify a bundle against the trusted keys and apply it, all or nothing.

    Exit 3 when malformed; 5 when unsigned, untrusted, tampered or signed by a key not
    bound to its origin; 9 when replayed or out of order."""
    with open_bank(bank) as b:
        counts = import_bundle(b, file)
        _keep_index_current(b)
    console.print(f"applied {file}: {_counts(counts)}")


def _counts(counts: dict[str, int]) -> str:
    return (
        f"{counts['added']} added, {counts['updated']} updated, {counts['removed']} removed, "
        f"{counts['claimed']} claimed on entries held by others, "
        f"{counts['withdrawn']} claims withdrawn"
    )


sync_app = new_typer("Node-to-node sync: publish signed bundles, pull a peer's.")


@sync_app.command("publish")
def sync_publish(
    bank: BankArg,
    sign: Annotated[Path, typer.Option("--sign", help="The private key file (NAME.key).")],
    folder: Annotated[Path, typer.Option("--dir", help="Folder a web server serves.")],
    include_file_names: FileNamesOpt = False,
) -> None:
    """Add a bundle of the changes since the last publish to the folder (without file names
    and other personal fields unless --include-file-names)."""
    with open_bank(bank, readonly=True) as b:
        written = publish(b, sign, folder, include_file_names=include_file_names)
    console.print(f"published {written}" if written else "nothing new to publish")


@sync_app.command("pull")
def sync_pull(
    bank: BankArg,
    url: Annotated[str, typer.Option("--from", help="The peer's published folder (http/https).")],
    key: Annotated[
        Path,
        typer.Option(
            "--key", help="The peer's public key (NAME.pub): every bundle must be signed by it."
        ),
    ],
    max_bundle_bytes: Annotated[
        int, typer.Option(min=1, help="Refuse a bundle larger than this many bytes.")
    ] = DEFAULT_MAX_BUNDLE_BYTES,
    max_index_bytes: Annotated[
        int, typer.Option(min=1, help="Refuse an index larger than this many bytes.")
    ] = DEFAULT_MAX_INDEX_BYTES,
    deadline: Annotated[
        float, typer.Option(min=0.001, help="Seconds one download may take in all.")
    ] = DEFAULT_DEADLINE,
) -> None:
    """Apply the peer's bundles not applied yet, in order; resumes after a cut.

    The key becomes trusted only once one of its bundles has verified and applied. Exit 5
    when a bundle is signed by another key; 11 over a size limit or the deadline."""
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--from {url!r} must be an http:// or https:// address")
    with open_bank(bank) as b, progress_bar() as bar:
        task = bar.add_task("pulling", total=None)

        def advance(name: str, counts: dict[str, int]) -> None:
            bar.advance(task)
            err_console.print(f"applied {name}: {_counts(counts)}")

        applied = pull(
            b,
            url,
            key,
            on_bundle=advance,
            max_bundle_bytes=max_bundle_bytes,
            max_index_bytes=max_index_bytes,
            deadline=deadline,
        )
        _keep_index_current(b)
    console.print(f"{applied} bundle(s) applied" if applied else "already up to date")


def _keep_index_current(bank: SqliteBank) -> None:
    """Leave the bank ready to match at once: its saved index brought up to date."""
    from hashwarden.index.saved import keep_index_current

    keep_index_current(bank)
