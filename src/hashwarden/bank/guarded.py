"""The tables `bank verify` vouches for beyond entries: those that grant power or change matching.

Every write to one of them runs inside `bank.audit.tracked(table, where, params)`, which
digests the rows `where` selects before and after the statements; the next audit event records
the sums (mod 2**256) of the new and the old digests under `"rows"`. `verify` adds them up over
the whole log and compares, per table, with the sum of the digests of the rows actually there,
so a row inserted, changed or deleted behind the log's back names its table.

A row's digest covers its table's name and every column that is not NULL (or, for a table
guarded by `columns`, every one of those that is not NULL), so a nullable column added by a
later migration changes no existing digest (a column added with a non-NULL default would: give
such a column no default). Guarding a new table is one line below: the next open for writing
records its current rows as the baseline (a `bank.seal` event), once.

The two queues whose rows the service sends later (webhook deliveries, programme votes) are
guarded by the columns that decide what is sent and where: their workers update the other
columns (status, attempts, next attempt, last error, delivery time) without an audit event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["GUARDED", "Guarded", "row_digest"]


@dataclass(frozen=True, slots=True)
class Guarded:
    table: str
    #: Only rows meeting this SQL condition are vouched for (None: every row). Rows made on the
    #: hot match path outside it need no audit event.
    condition: str | None = None
    #: The columns a row's digest covers (None: every column); the others may change freely.
    columns: tuple[str, ...] | None = None


GUARDED: tuple[Guarded, ...] = (
    Guarded("api_keys"),  # who may call the service, with which role; revocations
    Guarded("trusted_keys"),  # whose signed bundles are applied
    Guarded("trusted_key_origins"),  # which origin each trusted key may sign for
    Guarded("bundle_state"),  # how far each origin's bundles were applied (replay guard)
    Guarded("named_banks"),  # thresholds, negative banks, disabled banks
    Guarded("named_bank_entries"),  # membership, disabled entries
    Guarded("votes"),  # disputes take entries out of matching and categories
    Guarded("action_rules"),  # where matches are sent (webhook URL and secret), on or off
    Guarded("action_reports", "status <> 'pending'"),  # decided reports; drafts are free
    Guarded("match_suspensions"),  # matcher keys suspended for probing near-match edges
    Guarded("alerts", "status <> 'open'"),  # endpoint alerts acknowledged or closed
    Guarded("entry_views"),  # the view hashes an entry matches cropped or captioned copies by
    Guarded("programme_exchanges"),  # where an exchange's credentials, entries, category go
    # queued webhooks: what is sent where (not the worker's status, attempts, errors)
    Guarded("action_deliveries", columns=("id", "rule_id", "event", "url", "body", "created")),
    # queued votes for programmes: which record, signal and verdict the bank's name goes on
    Guarded(
        "programme_votes",
        columns=("id", "report_id", "exchange", "record", "kind", "value", "vote", "created"),
    ),
)


def row_digest(table: str, columns: Sequence[str], row: Sequence[Any]) -> int:
    """SHA-256 of a row's canonical form (its table and non-NULL columns), as an integer."""
    content = {
        column: value for column, value in zip(columns, row, strict=True) if value is not None
    }
    text = json.dumps([table, content], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return int(hashlib.sha256(text.encode()).hexdigest(), 16)
