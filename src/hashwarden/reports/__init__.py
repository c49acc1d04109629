"""Reports: the case report of a scan, and statistics of a bank with charts (`reports.statistics`)."""

from hashwarden.reports.case import write_case_report

__all__ = ["write_case_report"]
