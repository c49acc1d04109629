"""Hash-sharing programmes (NCMEC, StopNCII, ThreatExchange, Tech Against Terrorism, a local
file) through python-threatexchange's `SignalExchangeAPI` implementations, as HMA uses them.

Each exchange is configured once in the bank (`programme_exchanges`): its API, the collaboration
config python-threatexchange expects, where its credentials are (an environment variable or a
file, never the secret itself), the category its entries take and the named bank they go in.
A fetch resumes from the stored checkpoint; each delta is applied in one transaction together
with the checkpoint it leads to, so an interrupted fetch resumes where it stopped and repeats
nothing. Every record becomes an entry whose source is `exchange:NAME` and whose extra keeps the
programme's record id and tags (`exchange:NAME`); the records are also listed in
`programme_records`, so a record the programme deletes or withdraws (StopNCII's withdrawn
cases, NCMEC's deleted entries) removes the entries it alone brought.

python-threatexchange is imported only here and only when an exchange is used.
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import json
import logging
import os
import typing
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from hashwarden._time import utc_now
from hashwarden.bank import NewEntry, parse_category
from hashwarden.bank.protocols import BankStore
from hashwarden.errors import (
    ConflictError,
    DataError,
    ExchangeUnavailableError,
    HashwardenError,
    NotFoundError,
    UsageError,
)
from hashwarden.exchange.base import signal_or_error
from hashwarden.signals.base import Signal

__all__ = [
    "APIS",
    "PYTX_KINDS",
    "FetchResult",
    "ProgrammeExchange",
    "ProgrammeExchanges",
]

#: Our names for python-threatexchange's exchange APIs → (module, class).
APIS = {
    "file": ("threatexchange.exchanges.impl.file_api", "LocalFileSignalExchangeAPI"),
    "ncmec": ("threatexchange.exchanges.impl.ncmec_api", "NCMECSignalExchangeAPI"),
    "stopncii": ("threatexchange.exchanges.impl.stop_ncii_api", "StopNCIISignalExchangeAPI"),
    "threatexchange": (
        "threatexchange.exchanges.impl.fb_threatexchange_api",
        "FBThreatExchangeSignalExchangeAPI",
    ),
    "tat": ("threatexchange.exchanges.impl.techagainstterrorism_api", "TATSignalExchangeAPI"),
}
#: python-threatexchange's signal types → our kinds (a video's MD5 or SHA-256 is a file digest).
PYTX_KINDS = {"pdq": "pdq", "video_md5": "md5", "video_sha256": "sha256"}
_SIGNAL_TYPES = (
    ("threatexchange.signal_type.pdq.signal", "PdqSignal"),
    ("threatexchange.signal_type.md5", "VideoMD5Signal"),
    ("threatexchange.signal_type.sha256", "VideoSHA256Signal"),
)
_SELECT = (
    "SELECT name, api, named_bank, config, credentials, category, checkpoint, fetched, created"
    " FROM programme_exchanges"
)


def _load(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise UsageError(
            "exchanges need python-threatexchange: pip install threatexchange"
        ) from exc


def _signal_types() -> list[Any]:
    return [_load(module, name) for module, name in _SIGNAL_TYPES]


def _api_class(api: str) -> Any:
    if api not in APIS:
        raise UsageError(f"unknown exchange API {api!r} (known: {', '.join(APIS)})")
    return _load(*APIS[api])


def _config_value(wanted: Any, value: Any) -> Any:
    """A config value as the collaboration config takes it: an enum (NCMEC's environment) by
    its name or its value, a set from a list; others as given."""
    if isinstance(wanted, type) and issubclass(wanted, enum.Enum) and not isinstance(value, wanted):
        by_name = wanted.__members__.get(str(value))
        return by_name if by_name is not None else wanted(value)
    if typing.get_origin(wanted) is set and isinstance(value, list):
        return set(value)
    return value


def _tags(metadata: Any) -> list[str]:
    """The tags of a record's opinions (NCMEC's classification, StopNCII's feedback tags)."""
    try:
        return [str(t) for t in metadata.get_as_aggregate_opinion().tags]
    except Exception:  # an API whose metadata carries no opinions
        return []


def _record_id(key: object) -> str:
    """The programme's id of a record: its key (`pdq <hash>` for one-signal records)."""
    return " ".join(str(k) for k in key) if isinstance(key, tuple) else str(key)


def _stopncii_deltas(api: Any, checkpoint: Any) -> Iterator[Any]:
    """StopNCII's deltas with its withdrawals: python-threatexchange 1.2 compares a record's
    hash value, not its status, with Withdrawn and Deleted, so it never passes a withdrawal
    on. Here a record whose status is Withdrawn or Deleted is a deletion."""
    impl = importlib.import_module("threatexchange.exchanges.impl.stop_ncii_api")
    client = importlib.import_module("threatexchange.exchanges.clients.stopncii.api")
    fetch_state = importlib.import_module("threatexchange.exchanges.fetch_state")
    gone = {client.StopNCIICaseStatus.Withdrawn, client.StopNCIICaseStatus.Deleted}
    start = client.StopNCIIAPI.DEFAULT_START_TIME if checkpoint is None else checkpoint.update_time
    for result in api.api.fetch_hashes_iter(start_timestamp=start):
        updates: dict[Any, Any] = {}
        for record in result.hashRecords:
            key, metadata = impl._get_delta_mapping(record)
            if key[0]:
                updates[key] = None if record.hashStatus in gone else metadata
        yield fetch_state.FetchDelta(updates, impl.StopNCIICheckpoint.from_stopncii_fetch(result))


def _threatexchange_deltas(api: Any, checkpoint: Any) -> Iterator[Any]:
    """ThreatExchange's deltas as python-threatexchange 1.2 makes them, but an empty page
    (Graph's `{"data": []}` for a privacy group with nothing new) is no delta: pytx asserts
    every page has updates, so a fetch with nothing to bring failed."""
    impl = importlib.import_module("threatexchange.exchanges.impl.fb_threatexchange_api")
    updates = importlib.import_module(
        "threatexchange.exchanges.clients.fb_threatexchange.threat_updates"
    )
    fetch_state = importlib.import_module("threatexchange.exchanges.fetch_state")
    start = None if checkpoint is None else checkpoint.update_time
    cursor = api.client.get_threat_updates(
        api.collab.privacy_group,
        start_time=start,
        page_size=100,
        fields=updates.ThreatUpdateJSON.te_threat_updates_fields(),
        decode_fn=updates.ThreatUpdateJSON,
    )
    highest = start or 0
    for batch in cursor:
        if not batch:
            continue
        highest = max(highest, *(update.time for update in batch))
        records = {
            (update.threat_type, update.indicator): (
                impl.FBThreatExchangeIndicatorRecord.from_threatexchange_json(
                    api.client.app_id, update
                )
            )
            for update in batch
        }
        yield fetch_state.FetchDelta(records, impl.FBThreatExchangeCheckpoint(highest))


#: Fields of python-threatexchange's credentials that are no secret (and name what a message
#: should keep: who, and where).
_NOT_SECRET = {"user", "username", "base_url_override"}


def _secrets(credentials: Any) -> list[str]:
    """The texts of these credentials as they may travel: ThreatExchange's app token goes in
    the query of every URL (so into the client's HTTP errors and urllib3's debug log), quoted."""
    if credentials is None or not is_dataclass(credentials):
        return []
    found: set[str] = set()
    for f in fields(credentials):
        value = getattr(credentials, f.name)
        if f.name not in _NOT_SECRET and isinstance(value, str) and len(value) >= 4:
            found.update(
                {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
            )
    return sorted(found, key=len, reverse=True)


def _client_error(exc: Exception, secrets: list[str]) -> str:
    """A client's error as a message shows it: its type and text, without the credentials."""
    return _redacted(f"{type(exc).__name__}: {exc}", secrets)


def _redacted(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "[credentials]")
    return text


class _Redacting(logging.Filter):
    """Takes the credentials out of a record's message before any handler sees it."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        shown = _redacted(message, self.secrets)
        if shown != message:
            record.msg, record.args = shown, None
        return True


#: The loggers python-threatexchange's clients and the HTTP stack under them log URLs to.
_CLIENT_LOGGERS = ("", "urllib3.connectionpool", "urllib3.util.retry", "requests")


@contextlib.contextmanager
def _credentials_kept_out_of_logs(secrets: list[str]) -> Iterator[None]:
    if not secrets:
        yield
        return
    redacting = _Redacting(secrets)
    loggers = [logging.getLogger(name) for name in _CLIENT_LOGGERS]
    for logger in loggers:
        logger.addFilter(redacting)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(redacting)


@dataclass
class ProgrammeExchange:
    name: str
    api: str
    named_bank: str
    #: python-threatexchange's collaboration config fields (no secrets).
    config: dict[str, Any]
    #: Where the credentials are: {"env": VARIABLE} or {"file": PATH}; None: the API's own
    #: default places (python-threatexchange's environment variable or dotfile).
    credentials: dict[str, str] | None
    category: str
    checkpoint: dict[str, Any] | None = None
    fetched: str | None = None
    created: str = ""

    def to_json(self) -> dict[str, Any]:
        shown = asdict(self)
        shown["checkpoint"] = self.checkpoint is not None
        return shown


@dataclass
class FetchResult:
    """What a fetch did."""

    records: int = 0
    #: Entries new to the bank, and existing entries the programme's records fell into.
    added: int = 0
    matched: int = 0
    #: Entries removed because the programme deleted or withdrew their records.
    removed: int = 0
    #: Records of signal types hashwarden does not keep, by type.
    skipped: Counter[str] = field(default_factory=Counter)

    def message(self, name: str) -> str:
        text = (
            f"exchange {name}: {self.records} records; {self.added} new entries,"
            f" {self.matched} already banked, {self.removed} removed (deleted or withdrawn)"
        )
        if self.skipped:
            kinds = ", ".join(f"{n} {t}" for t, n in sorted(self.skipped.items()))
            text += f"; skipped {kinds} (no kind of ours)"
        return text


class ProgrammeExchanges:
    """The exchanges configured in one bank."""

    def __init__(self, bank: BankStore) -> None:
        self.bank = bank
        self.db = bank.db

    # -- configuration ----------------------------------------------------------------------
    def add(
        self,
        name: str,
        api: str,
        *,
        config: Mapping[str, Any],
        named_bank: str | None = None,
        credentials: dict[str, str] | None = None,
        category: str = "csam",
    ) -> ProgrammeExchange:
        """Configure an exchange; its config is checked against the API's collaboration
        config before it is stored. ConflictError when the name is taken."""
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise UsageError(f"exchange name {name!r}: use letters, digits, - and _")
        exchange = ProgrammeExchange(
            name,
            api,
            named_bank or name,
            dict(config),
            credentials,
            parse_category(category),
        )
        self._collab(exchange)  # refuses a config the API does not take
        if credentials is not None and set(credentials) - {"env", "file"}:
            raise UsageError("credentials come from {'env': VARIABLE} or {'file': PATH}")
        with self.db.transaction():
            if self.db.execute(
                "SELECT 1 FROM programme_exchanges WHERE name = ?", (name,)
            ).fetchone():
                raise ConflictError(f"an exchange named {name!r} exists already")
            exchange.created = utc_now()
            with self._tracked(name):
                self.db.execute(
                    "INSERT INTO programme_exchanges(name, api, named_bank, config, credentials,"
                    " category, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        api,
                        exchange.named_bank,
                        json.dumps(exchange.config, sort_keys=True),
                        json.dumps(credentials) if credentials else None,
                        exchange.category,
                        exchange.created,
                    ),
                )
            self.bank.audit.record(
                "cli", "exchange.add", {"name": name, "api": api, "bank": exchange.named_bank}
            )
        return exchange

    def all(self) -> list[ProgrammeExchange]:
        if not self.db.has_table("programme_exchanges"):  # an older bank opened read-only
            return []
        return [self._row(r) for r in self.db.query(f"{_SELECT} ORDER BY name")]

    def get(self, name: str) -> ProgrammeExchange:
        has_table = self.db.has_table("programme_exchanges")
        rows = self.db.query(f"{_SELECT} WHERE name = ?", (name,)) if has_table else []
        if not rows:
            raise NotFoundError(f"no exchange named {name!r} (see exchange list)")
        return self._row(rows[0])

    def remove(self, name: str, *, entries: bool = False) -> int:
        """Forget an exchange (and its checkpoint); with `entries`, also remove the entries
        its records alone brought. Returns how many entries were removed."""
        self.get(name)
        removed = 0
        with self.db.transaction():
            if entries:
                records = [
                    r[0]
                    for r in self.db.query(
                        "SELECT DISTINCT record FROM programme_records WHERE exchange = ?", (name,)
                    )
                ]
                removed = self._withdraw(name, records)
            self.db.execute("DELETE FROM programme_records WHERE exchange = ?", (name,))
            with self._tracked(name):
                self.db.execute("DELETE FROM programme_exchanges WHERE name = ?", (name,))
            self.bank.audit.record(
                "cli", "exchange.remove", {"name": name, "entries_removed": removed}
            )
        return removed

    def _tracked(self, name: str) -> contextlib.AbstractContextManager[Any]:
        """Vouch for a change to one exchange's row (a guarded table: `bank verify` names a
        change made behind the audit log's back)."""
        return self.bank.audit.tracked("programme_exchanges", "name = ?", (name,))

    @staticmethod
    def _row(row: tuple[Any, ...]) -> ProgrammeExchange:
        name, api, named_bank, config, credentials, category, checkpoint, fetched, created = row
        return ProgrammeExchange(
            name,
            api,
            named_bank,
            json.loads(config),
            json.loads(credentials) if credentials else None,
            category,
            json.loads(checkpoint) if checkpoint else None,
            fetched,
            created,
        )

    # -- python-threatexchange --------------------------------------------------------------
    def _collab(self, exchange: ProgrammeExchange) -> Any:
        api_cls = _api_class(exchange.api)
        config_cls = api_cls.get_config_cls()
        known = {f.name for f in fields(config_cls)} - {"name", "api", "enabled"}
        unknown = set(exchange.config) - known
        if unknown:
            raise UsageError(
                f"exchange {exchange.name}: the {exchange.api} API takes no "
                f"{', '.join(sorted(unknown))} (it takes: {', '.join(sorted(known)) or 'nothing'})"
            )
        given: dict[str, Any] = {"name": exchange.name, "api": api_cls.get_name(), "enabled": True}
        given.update(exchange.config)
        try:
            types = typing.get_type_hints(config_cls)
            return config_cls(
                **{
                    f.name: _config_value(types.get(f.name), given[f.name])
                    for f in fields(config_cls)
                    if f.init and f.name in given
                }
            )
        except (TypeError, ValueError, KeyError) as exc:
            raise UsageError(f"exchange {exchange.name}: {exc}") from exc

    def _credentials(self, exchange: ProgrammeExchange, api_cls: Any) -> Any:
        """The credentials, read from where the configuration says; the secret is never
        stored, logged nor put in a message."""
        where = exchange.credentials
        if not where or not hasattr(api_cls, "get_credential_cls"):
            return None
        if "env" in where:
            text = os.environ.get(where["env"])
            source = f"environment variable {where['env']}"
        else:
            source = f"file {where['file']}"
            try:
                text = Path(where["file"]).read_text().strip()
            except OSError as exc:
                raise NotFoundError(f"exchange {exchange.name}: cannot read {source}") from exc
        if not text:
            raise UsageError(f"exchange {exchange.name}: no credentials in {source}")
        credentials = api_cls.get_credential_cls()._from_str(text)
        if credentials is None or not credentials._are_valid():
            raise UsageError(f"exchange {exchange.name}: the credentials in {source} are not valid")
        return credentials

    def _api(self, exchange: ProgrammeExchange) -> tuple[Any, Any, Any, list[str]]:
        """The API's class, the collaboration config, the API, and the texts of its
        credentials (to keep out of messages and logs)."""
        api_cls = _api_class(exchange.api)
        collab = self._collab(exchange)
        credentials = self._credentials(exchange, api_cls)
        secrets = _secrets(credentials)
        try:
            api = (
                api_cls.for_collab(collab, credentials)
                if credentials is not None
                else api_cls.for_collab(collab)
            )
        except HashwardenError:
            raise
        except Exception as exc:  # python-threatexchange's auth and client errors
            raise ExchangeUnavailableError(
                f"exchange {exchange.name}: {_client_error(exc, secrets)}"
            ) from (None if secrets else exc)  # the client's error may hold the secret
        return api_cls, collab, api, secrets

    # -- fetching ---------------------------------------------------------------------------
    def fetch(
        self,
        name: str,
        *,
        on_delta: Callable[[FetchResult], None] | None = None,
        into_named_bank: Callable[[str, list[int]], None] | None = None,
    ) -> FetchResult:
        """Fetch from the stored checkpoint to the programme's present state.
        `into_named_bank(bank, entry_ids)` runs inside each delta's transaction, so the named
        bank's members and the checkpoint move together."""
        exchange = self.get(name)
        api_cls, collab, api, secrets = self._api(exchange)
        with _credentials_kept_out_of_logs(secrets):
            return self._fetch(exchange, api_cls, collab, api, secrets, on_delta, into_named_bank)

    def _fetch(
        self,
        exchange: ProgrammeExchange,
        api_cls: Any,
        collab: Any,
        api: Any,
        secrets: list[str],
        on_delta: Callable[[FetchResult], None] | None,
        into_named_bank: Callable[[str, list[int]], None] | None,
    ) -> FetchResult:
        name = exchange.name
        checkpoint = None
        if exchange.checkpoint is not None:
            try:
                checkpoint = api_cls.get_checkpoint_cls()(**exchange.checkpoint)
            except TypeError as exc:
                raise DataError(f"exchange {name}: stored checkpoint unreadable ({exc})") from exc
            if checkpoint.is_stale():
                checkpoint = None
        # A fetch from nothing, or from an API with nothing to resume from (the file API),
        # returns the programme's whole list: records it no longer holds were withdrawn.
        snapshot = checkpoint is None or not fields(api_cls.get_checkpoint_cls())
        seen: set[str] = set()
        result = FetchResult()
        signal_types = _signal_types()
        #: The checkpoint as stored: a delta that brings none (TAT's first page of an empty
        #: list) keeps it rather than storing one the next fetch cannot read.
        stored = (
            json.dumps(exchange.checkpoint, sort_keys=True)
            if exchange.checkpoint is not None
            else None
        )
        for delta in self._deltas(exchange, api, signal_types, checkpoint, secrets):
            with self.db.transaction():
                ids = self._apply(exchange, api_cls, collab, signal_types, delta.updates, result)
                seen.update(_record_id(key) for key in delta.updates)
                if into_named_bank is not None and ids:
                    into_named_bank(exchange.named_bank, ids)
                reached = delta.checkpoint
                if reached is not None:
                    state = (
                        asdict(reached)
                        if is_dataclass(reached) and not isinstance(reached, type)
                        else {}
                    )
                    stored = json.dumps(state, sort_keys=True, default=str)
                with self._tracked(name):
                    self.db.execute(
                        "UPDATE programme_exchanges SET checkpoint = ?, fetched = ? WHERE name = ?",
                        (stored, utc_now(), name),
                    )
                self.bank.audit.record(
                    f"exchange:{name}",
                    "exchange.checkpoint",
                    {"name": name, "records": len(delta.updates)},
                )
            if on_delta is not None:
                on_delta(result)
        if snapshot:
            with self.db.transaction():
                held = self.db.query(
                    "SELECT DISTINCT record FROM programme_records WHERE exchange = ?", (name,)
                )
                result.removed += self._withdraw(name, [r[0] for r in held if r[0] not in seen])
        with self.db.transaction():
            self.bank.audit.record(
                f"exchange:{name}",
                "exchange.fetched",
                {"name": name, "records": result.records, "removed": result.removed},
            )
        return result

    @staticmethod
    def _deltas(
        exchange: ProgrammeExchange,
        api: Any,
        signal_types: list[Any],
        checkpoint: Any,
        secrets: list[str],
    ) -> Iterator[Any]:
        """The API's deltas; its own failures become ExchangeUnavailableError (exit 8), their
        text without the credentials (ThreatExchange's HTTP errors name the URL, token and all)."""
        name = exchange.name
        if exchange.api == "stopncii":
            iterator = _stopncii_deltas(api, checkpoint)
        elif exchange.api == "threatexchange":
            iterator = _threatexchange_deltas(api, checkpoint)
        else:
            iterator = api.fetch_iter(signal_types, checkpoint)
        while True:
            try:
                delta = next(iterator)
            except StopIteration:
                return
            except HashwardenError:
                raise
            except UnicodeDecodeError as exc:  # a list that is not text
                raise DataError(f"exchange {name}: the list is not UTF-8 text ({exc})") from exc
            except Exception as exc:  # a client's HTTP, parse or assertion error
                why = _client_error(exc, secrets)
                raise ExchangeUnavailableError(f"exchange {name}: fetch failed ({why})") from (
                    None if secrets else exc
                )
            yield delta

    def _apply(
        self,
        exchange: ProgrammeExchange,
        api_cls: Any,
        collab: Any,
        signal_types: list[Any],
        updates: Mapping[Any, Any],
        result: FetchResult,
    ) -> list[int]:
        """Apply one delta; returns the ids of the entries its records added or fell into."""
        records: list[tuple[str, NewEntry]] = []
        gone: list[str] = []
        for key, value in updates.items():
            result.records += 1
            record = _record_id(key)
            if value is None or getattr(value, "deleted", False) is True:  # NCMEC's tombstones
                gone.append(record)
                continue
            entry = self._entry(exchange, api_cls, collab, signal_types, key, value, result)
            if entry is not None:
                records.append((record, entry))
        result.removed += self._withdraw(exchange.name, gone)
        if not records:
            return []
        added = self.bank.entries.add_many(
            [entry for _, entry in records],
            actor=f"exchange:{exchange.name}",
            action="exchange.fetch",
            detail={"exchange": exchange.name},
        )
        result.added += len(added.added)
        result.matched += added.duplicates
        by_kind: dict[str, set[str]] = {}
        for _, entry in records:
            by_kind.setdefault(entry.signals[0].kind, set()).add(entry.signals[0].value)
        banked = {
            (kind, value): entry_id
            for kind, values in by_kind.items()
            for value, entry_id in self.bank.entries.lookup(kind, values).items()
        }
        ids: list[int] = []
        for record, entry in records:
            entry_id = banked[entry.signals[0].kind, entry.signals[0].value]
            ids.append(entry_id)
            self.db.execute(
                "INSERT INTO programme_records(exchange, record, entry_id) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (exchange.name, record, entry_id),
            )
        return ids

    @staticmethod
    def _entry(
        exchange: ProgrammeExchange,
        api_cls: Any,
        collab: Any,
        signal_types: list[Any],
        key: Any,
        value: Any,
        result: FetchResult,
    ) -> NewEntry | None:
        converted = api_cls.naive_convert_to_signal_type(signal_types, collab, {key: value})
        where = f"exchange {exchange.name} record {_record_id(key)}"
        signals: list[Signal] = []
        tags: set[str] = set()
        for signal_type, by_value in converted.items():
            kind = PYTX_KINDS[signal_type.get_name()]
            signals += [signal_or_error(kind, text, where) for text in by_value]
            for metadata in by_value.values():
                tags.update(_tags(metadata))
        if not signals:
            shown = key[0] if isinstance(key, tuple) else "record"
            result.skipped[str(shown)] += 1
            return None
        return NewEntry(
            signals,
            exchange.category,
            source=f"exchange:{exchange.name}",
            extra={f"exchange:{exchange.name}": {"id": _record_id(key), "tags": sorted(tags)}},
        )

    def _withdraw(self, name: str, records: list[str]) -> int:
        """Forget these records of the exchange; remove the entries no other record of any
        exchange holds and that came from this exchange alone (their source). Returns how many
        entries were removed."""
        removed = 0
        for record in records:
            ids = [
                int(r[0])
                for r in self.db.query(
                    "SELECT entry_id FROM programme_records WHERE exchange = ? AND record = ?",
                    (name, record),
                )
            ]
            self.db.execute(
                "DELETE FROM programme_records WHERE exchange = ? AND record = ?", (name, record)
            )
            for entry_id in ids:
                left = self.db.query(
                    "SELECT 1 FROM programme_records WHERE entry_id = ?", (entry_id,)
                )
                entry = self.bank.entries.by_id([entry_id]).get(entry_id)
                if left or entry is None or entry.source != f"exchange:{name}":
                    continue
                self.bank.entries.remove(
                    entry_id, actor=f"exchange:{name}", reason=f"withdrawn by exchange {name}"
                )
                removed += 1
        return removed

    # -- provenance -------------------------------------------------------------------------
    def provenance(self, entry_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """The programme records behind these entries, for match answers: {entry: [{"name":
        exchange, "id": the programme's record id, "tags": its tags}, ...]}."""
        if not entry_ids or not self.db.has_table("programme_records"):
            return {}
        marks = ",".join("?" * len(entry_ids))
        rows = self.db.query(
            "SELECT entry_id, exchange, record FROM programme_records"
            f" WHERE entry_id IN ({marks}) ORDER BY entry_id, exchange, record",
            list(entry_ids),
        )
        if not rows:
            return {}
        entries = self.bank.entries.by_id(sorted({int(r[0]) for r in rows}))
        found: dict[int, list[dict[str, Any]]] = {}
        for entry_id, exchange, record in rows:
            entry = entries.get(int(entry_id))
            kept = entry.extra.get(f"exchange:{exchange}") if entry is not None else None
            tags = kept.get("tags", []) if isinstance(kept, dict) else []
            found.setdefault(int(entry_id), []).append(
                {"name": str(exchange), "id": str(record), "tags": list(tags)}
            )
        return found

    # -- feedback ---------------------------------------------------------------------------
    def sources_of(self, entry_ids: list[int]) -> list[tuple[str, Signal]]:
        """(exchange, signal) of each programme record that brought these entries: where a
        verdict on them (a confirmed or rejected report draft) is to be sent."""
        if not entry_ids or not self.db.has_table("programme_records"):
            return []
        marks = ",".join("?" * len(entry_ids))
        rows = self.db.query(
            "SELECT exchange, record FROM programme_records"
            f" WHERE entry_id IN ({marks}) ORDER BY exchange, record",
            list(entry_ids),
        )
        found: list[tuple[str, Signal]] = []
        for exchange, record in rows:
            signal_type, _, value = str(record).partition(" ")
            kind = PYTX_KINDS.get(signal_type)
            if kind is not None and value:
                found.append((str(exchange), Signal(kind, value)))
        return found

    def send_verdicts(self, entry_ids: list[int], *, confirm: bool) -> dict[str, list[str]]:
        """Send a verdict on these entries to every programme that brought them (a confirmed
        report draft's up-vote, a rejected one's down-vote). A programme that is unreachable or
        takes no such feedback does not stop the others: returns {"sent": [...], "failed":
        ["exchange kind value: why", ...]}."""
        outcome: dict[str, list[str]] = {"sent": [], "failed": []}
        for exchange, signal in self.sources_of(entry_ids):
            label = f"{exchange} {signal.kind} {signal.value}"
            try:
                self.send_opinion(exchange, signal, confirm=confirm)
            except HashwardenError as exc:
                outcome["failed"].append(f"{label}: {exc}")
            else:
                outcome["sent"].append(label)
        return outcome

    def send_opinion(self, name: str, signal: Signal, *, confirm: bool) -> None:
        """Tell the programme this bank's verdict on one of its signals: a confirmation is a
        positive opinion (an up-vote), a dispute a false positive (a down-vote).
        UsageError when the programme takes no feedback of that kind."""
        exchange = self.get(name)
        record = next(
            (f"{t} {signal.value}" for t, kind in PYTX_KINDS.items() if kind == signal.kind), ""
        )
        self.cast_vote(exchange, record, signal, confirm=confirm)
        with self.db.transaction():
            self.bank.audit.record(
                "cli",
                "exchange.opinion",
                {"name": name, "kind": signal.kind, "value": signal.value, "confirm": confirm},
            )

    def cast_vote(
        self, exchange: ProgrammeExchange, record: str, signal: Signal, *, confirm: bool
    ) -> None:
        """Send the programme a vote on its record `record` (whose signal is `signal`): up
        for a confirmation, down for a false positive; touches no table (the caller records
        it). NCMEC's votes go to its feedback endpoint for the entry's fingerprint; other
        APIs take python-threatexchange's `report_opinion`. UsageError when the programme
        takes no such vote; ExchangeUnavailableError when it could not be sent."""
        name = exchange.name
        pytx_type = next(
            (t for t in _signal_types() if PYTX_KINDS[t.get_name()] == signal.kind), None
        )
        if pytx_type is None and exchange.api != "ncmec":
            raise UsageError(f"exchange {name} has no signal type for {signal.kind}")
        _, collab, api, secrets = self._api(exchange)
        try:
            with _credentials_kept_out_of_logs(secrets):
                self._vote(exchange, api, collab, pytx_type, record, signal, confirm=confirm)
        except NotImplementedError:
            verdict = "confirmations" if confirm else "disputes"
            raise UsageError(f"exchange {name} ({exchange.api}) takes no {verdict}") from None
        except HashwardenError:
            raise
        except Exception as exc:  # the client's HTTP errors
            why = _client_error(exc, secrets)
            raise ExchangeUnavailableError(f"exchange {name}: feedback not sent ({why})") from (
                None if secrets else exc
            )

    @staticmethod
    def _vote(
        exchange: ProgrammeExchange,
        api: Any,
        collab: Any,
        pytx_type: Any,
        record: str,
        signal: Signal,
        *,
        confirm: bool,
    ) -> None:
        """Send one vote through the programme's client."""
        if exchange.api == "ncmec":
            _ncmec_vote(api, collab, record, signal, confirm=confirm)
            return
        state = importlib.import_module("threatexchange.exchanges.fetch_state")
        category = (
            state.SignalOpinionCategory.POSITIVE_CLASS
            if confirm
            else state.SignalOpinionCategory.NEGATIVE_CLASS
        )
        api.report_opinion(pytx_type, signal.value, state.SignalOpinion(True, category, set()))


#: Our kinds → NCMEC's fingerprint types (the path of its feedback endpoint).
_NCMEC_FINGERPRINTS = {"md5": "md5", "sha1": "sha1", "pdq": "pdq"}


def _ncmec_vote(api: Any, collab: Any, record: str, signal: Signal, *, confirm: bool) -> None:
    """NCMEC's up- or down-vote on one fingerprint of an entry (`record` is `ESP-ENTRY`, as
    python-threatexchange keys NCMEC's entries); a down-vote takes NCMEC's reason when it
    offers one only."""
    hash_api = importlib.import_module("threatexchange.exchanges.clients.ncmec.hash_api")
    esp, _, entry = record.partition("-")
    fingerprint = _NCMEC_FINGERPRINTS.get(signal.kind)
    if not esp.isdigit() or not entry or fingerprint is None:
        raise UsageError(f"NCMEC takes no vote on record {record!r} ({signal.kind})")
    client = api.get_client(collab.environment)
    client.submit_feedback(
        int(esp),
        entry,
        hash_api.FingerprintType[fingerprint],
        hash_api.FeedbackType.upvote if confirm else hash_api.FeedbackType.downvote,
    )


def votable(record: str, signal: Signal) -> bool:
    """Whether a vote on this programme record concerns this signal of its entry: a record
    named by its signal (`pdq <hash>`) only that signal; a record named otherwise (NCMEC's
    `ESP-ENTRY`) each signal of a kind the programmes share."""
    signal_type, _, value = record.partition(" ")
    if signal_type in PYTX_KINDS and value:
        return (PYTX_KINDS[signal_type], value) == (signal.kind, signal.value)
    return signal.kind in set(PYTX_KINDS.values()) | set(_NCMEC_FINGERPRINTS)
