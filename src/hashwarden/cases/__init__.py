"""The case hash store: what every scan saw (hashes, paths, sizes, statuses; never content),
kept per case so that hashes banked later can be matched against old evidence (`retro`)."""

from hashwarden.cases._log import LogEvent, StoreLog
from hashwarden.cases.store import (
    ENV,
    ROW_GROUP,
    SCHEMA,
    CaseStore,
    CaseSummary,
    CaseWriter,
    Part,
    check_case_name,
    store_location,
)

__all__ = [
    "ENV",
    "ROW_GROUP",
    "SCHEMA",
    "CaseStore",
    "CaseSummary",
    "CaseWriter",
    "LogEvent",
    "Part",
    "StoreLog",
    "check_case_name",
    "store_location",
]
