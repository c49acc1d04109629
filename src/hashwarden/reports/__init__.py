"""Reports: the case report of a scan (and, later, statistics)."""

from hashwarden.reports.case import write_case_report

__all__ = ["write_case_report"]
