"""The case hash store: what every scan saw (hashes, paths, sizes, statuses; never content),
kept per case so that hashes banked later can be matched against old evidence (`retro`)."""

from hashwarden.cases._log import LogEvent, StoreLog
from hashwarden.cases.report import write_retro_report
from hashwarden.cases.retro import (
    NewEntries,
    Part,
    RetroResult,
    match_part,
    new_entries,
    plan_parts,
    retro_hunt,
    run_locally,
)
from hashwarden.cases.store import (
    ENV,
    CaseStore,
    CaseSummary,
    CaseWriter,
    check_case_name,
    store_location,
)

__all__ = [
    "ENV",
    "CaseStore",
    "CaseSummary",
    "CaseWriter",
    "LogEvent",
    "NewEntries",
    "Part",
    "RetroResult",
    "StoreLog",
    "check_case_name",
    "match_part",
    "new_entries",
    "plan_parts",
    "retro_hunt",
    "run_locally",
    "store_location",
    "write_retro_report",
]
