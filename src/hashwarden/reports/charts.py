"""The statistics report: self-contained HTML (charts as inline SVG) or PDF, from a Summary."""

from __future__ import annotations

import io
import re
from collections import Counter
from html import escape
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from hashwarden.reports.statistics import Summary

__all__ = ["statistics_charts", "write_statistics_report"]

_COLOURS = ["#1f4e79", "#c0504d", "#9bbb59", "#8064a2", "#4bacc6", "#f79646", "#7f7f7f"]


def _bar(title: str, counts: Counter[str], xlabel: str) -> Figure:
    figure, axes = plt.subplots(figsize=(6.4, 3.2), layout="constrained")
    labels = [k for k, _ in counts.most_common()]
    values = [counts[k] for k in labels]
    axes.barh(labels[::-1], values[::-1], color=_COLOURS[0])
    for y, value in enumerate(values[::-1]):
        axes.text(value, y, f" {value}", va="center", fontsize=9)
    axes.set_title(title, fontsize=11, loc="left")
    axes.set_xlabel(xlabel)
    axes.spines[["top", "right"]].set_visible(False)
    if not labels:
        axes.text(0.5, 0.5, "no events in this period", transform=axes.transAxes, ha="center")
    return figure


def _monthly(title: str, months: dict[str, Counter[str]], keys: list[str]) -> Figure:
    figure, axes = plt.subplots(figsize=(6.4, 3.2), layout="constrained")
    order = sorted(months)
    bottom = [0] * len(order)
    for index, key in enumerate(keys):
        values = [months[m][key] for m in order]
        axes.bar(order, values, bottom=bottom, label=key, color=_COLOURS[index % len(_COLOURS)])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.set_title(title, fontsize=11, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(axis="x", labelrotation=45, labelsize=8)
    if order:
        axes.legend(frameon=False, fontsize=9)
    else:
        axes.text(0.5, 0.5, "no events in this period", transform=axes.transAxes, ha="center")
    return figure


def _figures(s: Summary) -> list[tuple[str, Figure, list[tuple[str, int]]]]:
    blocked = {m: Counter({"blocked": n}) for m, n in s.blocked_by_month.items()}
    return [
        (
            "Detections by channel",
            _bar("Detections by channel", s.by_channel, "files"),
            s.by_channel.most_common(),
        ),
        (
            "Known material by category",
            _bar("Known material by category", s.by_category, "files"),
            s.by_category.most_common(),
        ),
        (
            "Detections over time (known and new)",
            _monthly("Detections per month", s.by_month, ["known", "new"]),
            [(f"{m} {k}", n) for m in sorted(s.by_month) for k, n in sorted(s.by_month[m].items())],
        ),
        (
            "Blocked attempts per month",
            _monthly("Blocked attempts per month", blocked, ["blocked"]),
            sorted(s.blocked_by_month.items()),
        ),
        (
            "Detections by region",
            _bar("Detections by region", s.by_region, "files"),
            s.by_region.most_common(),
        ),
    ]


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


_STYLE = re.compile(r' style="([^"]*)"')


def _presentation(match: re.Match[str]) -> str:
    """`style="fill: #fff; stroke: none"` as attributes (`fill="#fff" stroke="none"`)."""
    pairs = (part.split(":", 1) for part in match.group(1).split(";") if ":" in part)
    return "".join(f' {name.strip()}="{value.strip()}"' for name, value in pairs)


def statistics_charts(summary: Summary) -> list[tuple[str, str, list[tuple[str, int]]]]:
    """(title, inline SVG, its numbers) of each chart, for a page whose Content-Security-Policy
    forbids inline styles: no `<style>` element, no `style` attribute (presentation attributes
    instead), glyphs drawn as paths, no image or script of any kind."""
    charts = []
    for title, figure, rows in _figures(summary):
        svg = _svg(figure)
        svg = re.sub(r"<(style|metadata)[^>]*>.*?</\1>", "", svg, flags=re.DOTALL)
        svg = _STYLE.sub(_presentation, svg)
        svg = svg.replace(
            "<svg ", f'<svg role="img" aria-label="{escape(title)}" stroke-linejoin="round" ', 1
        )
        charts.append((title, svg, rows))
    return charts


def _table(rows: list[tuple[str, int]]) -> str:
    if not rows:
        return "<p class=note>No events.</p>"
    body = "".join(f"<tr><td>{escape(str(k))}</td><td class=n>{n}</td></tr>" for k, n in rows)
    return f"<table><tbody>{body}</tbody></table>"


_CSS = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#1b1f23}
h1{font-size:1.6rem}h2{font-size:1.15rem;border-bottom:1px solid #ccc;margin-top:2rem}
.row{display:flex;gap:2rem;align-items:flex-start;flex-wrap:wrap}.row svg{max-width:640px;height:auto}
table{border-collapse:collapse;font-size:.9rem}td{border:1px solid #d0d7de;padding:.25rem .6rem}
td.n{text-align:right}.cards{display:flex;gap:1rem}.card{border:1px solid #d0d7de;border-radius:6px;
padding:.7rem 1.1rem}.card b{display:block;font-size:1.5rem}.note{color:#57606a}
@media print{.row{break-inside:avoid}}"""


def write_statistics_report(summary: Summary, out: Path, *, fmt: str = "html") -> Path:
    """Write the report as one self-contained HTML file (no outside resources) or a PDF."""
    figures = _figures(summary)
    if fmt == "pdf":
        with PdfPages(out) as pdf:
            for _, figure, _ in figures:
                pdf.savefig(figure)
                plt.close(figure)
        return out
    s = summary
    cards = "".join(
        f"<div class=card><b>{n}</b>{label}</div>"
        for label, n in [
            ("detections", s.detections),
            ("known material", s.by_outcome["known"]),
            ("new material", s.by_outcome["new"]),
            ("series seen", len(s.series)),
            ("victims identified", s.victims_identified),
            ("blocked attempts", s.by_outcome["blocked"]),
        ]
    )
    sections = "".join(
        f"<h2>{escape(title)}</h2><div class=row>{_svg(figure)}{_table(rows)}</div>"
        for title, figure, rows in figures
    )
    series = _table(s.series.most_common())
    out.write_text(
        f"""<!doctype html><html lang=en><head><meta charset=utf-8>
<title>hashwarden statistics {s.start} to {s.end}</title><style>{_CSS}</style></head><body>
<h1>hashwarden statistics, {s.start} to {s.end}</h1>
<p class=note>Counts of recorded events only: no content, paths, hashes or personal data.</p>
<div class=cards>{cards}</div>{sections}<h2>Series seen</h2>{series}</body></html>
""",
        encoding="utf-8",
    )
    return out
