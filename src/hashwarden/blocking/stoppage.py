"""The stop page a blocked visitor sees, served by the standard library's HTTP server.

One self-contained HTML page (inline style, no scripts, images, fonts or links to anywhere):
what happened, why, the law, and where people worried about their own sexual thoughts about
children can get confidential help. The language is chosen from the browser's
Accept-Language among the templates present (built in: en, sv, de); a templates folder
(`stoppage.<lang>.html`, `string.Template` with $operator, $law, $help_line) overrides or adds
languages. Every path answers the page with status 451 (Unavailable For Legal Reasons).

Requests are not logged. When given the hashed list and a counts file, the page counts a visit
under the list entry that covers the Host it was asked for (the name a DNS redirect sent here);
the host itself is not kept.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from string import Template

from hashwarden.blocking._serving import BoundedQuietServer
from hashwarden.blocking.applied import Matcher
from hashwarden.blocking.counts import BlockCounts
from hashwarden.errors import DataError

__all__ = ["DEFAULT_TEXTS", "StopPage", "choose_language", "serve_stop_page"]

#: Per language: (law, help line). Operators should set their country's help line.
DEFAULT_TEXTS = {
    "en": (
        "Making, sharing, possessing or viewing sexual images of children is a crime.",
        "If you are worried about your own sexual thoughts or feelings about children, you are "
        "not alone and you can get confidential, anonymous help from a prevention programme "
        "(for example Stop It Now in the UK, PrevenTell in Sweden or Kein Täter werden in "
        "Germany).",
    ),
    "sv": (
        "Att framställa, sprida, inneha eller titta på sexuella bilder av barn är ett brott "
        "(barnpornografibrott, brottsbalken 16 kap. 10 a §).",
        "Om du oroar dig för dina egna sexuella tankar eller känslor kring barn är du inte ensam. "
        "Du kan få hjälp anonymt och konfidentiellt, till exempel hos PrevenTell.",
    ),
    "de": (
        "Herstellung, Verbreitung, Besitz und Abruf von Missbrauchsdarstellungen von Kindern "
        "sind strafbar (§ 184b StGB).",
        "Wenn Sie sich wegen Ihrer eigenen sexuellen Gedanken oder Gefühle gegenüber Kindern "
        "sorgen, sind Sie nicht allein: Das Präventionsnetzwerk „Kein Täter werden“ hilft "
        "kostenlos, vertraulich und unter Schweigepflicht.",
    ),
}
_TAG = re.compile(r"^[a-z]{2,3}$")


def choose_language(accept_language: str | None, available: list[str], default: str) -> str:
    """The best available primary language tag for an Accept-Language header."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        if match:
            try:
                q = float(match.group(1))
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if q > 0 and primary in available:
            ranked.append((-q, position, primary))
    return min(ranked)[2] if ranked else default


@dataclass
class StopPage:
    """The rendered page per language, and what to count."""

    operator: str = "Your internet provider"
    help_line: str | None = None  # overrides every language's default help text
    law: str | None = None
    templates: Path | None = None
    default_language: str = "en"
    matcher: Matcher | None = None
    counts: BlockCounts | None = None
    pages: dict[str, bytes] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        sources: dict[str, str] = {}
        for item in resources.files("hashwarden.blocking").joinpath("templates").iterdir():
            lang = item.name.removeprefix("stoppage.").removesuffix(".html")
            if _TAG.match(lang):
                sources[lang] = item.read_text(encoding="utf-8")
        if self.templates is not None:
            found = sorted(self.templates.glob("stoppage.*.html"))
            if not found:
                raise DataError(f"no stoppage.<lang>.html templates in {self.templates}")
            for path in found:
                lang = path.name.removeprefix("stoppage.").removesuffix(".html")
                if _TAG.match(lang):
                    sources[lang] = path.read_text(encoding="utf-8")
        for lang, text in sources.items():
            law, help_line = DEFAULT_TEXTS.get(lang, DEFAULT_TEXTS["en"])
            try:
                page = Template(text).substitute(
                    operator=html.escape(self.operator),
                    law=html.escape(self.law or law),
                    help_line=html.escape(self.help_line or help_line),
                )
            except (KeyError, ValueError) as exc:
                raise DataError(f"template stoppage.{lang}.html: bad placeholder {exc}") from exc
            self.pages[lang] = page.encode("utf-8")
        if self.default_language not in self.pages:
            raise DataError(f"no template for the default language {self.default_language!r}")

    def page(self, accept_language: str | None) -> tuple[str, bytes]:
        lang = choose_language(accept_language, sorted(self.pages), self.default_language)
        return lang, self.pages[lang]

    def count(self, host_header: str | None) -> None:
        if self.matcher is None or self.counts is None or not host_header:
            return
        host = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
        hit = self.matcher.check_name(host)
        if hit is not None:
            self.counts.record(hit.digest)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "hashwarden-stoppage"
    sys_version = ""

    def _answer(self, body: bool) -> None:
        stop = self.server.stop_page
        stop.count(self.headers.get("Host"))
        lang, page = stop.page(self.headers.get("Accept-Language"))
        self.send_response(451)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Language", lang)
        self.send_header("Content-Length", str(len(page)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Vary", "Accept-Language")
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.end_headers()
        if body:
            self.wfile.write(page)
        self.server.count_request()

    def do_GET(self) -> None:
        self._answer(True)

    def do_POST(self) -> None:
        self._answer(True)

    def do_HEAD(self) -> None:
        self._answer(False)

    def log_message(self, format: str, *args: object) -> None:
        """Nothing: the default writes the client's address and the requested path."""


class _Server(BoundedQuietServer, ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], stop_page: StopPage, max_requests: int | None):
        self.stop_page = stop_page
        self.bound(max_requests)
        super().__init__(address, _Handler)


def serve_stop_page(
    stop_page: StopPage, host: str, port: int, *, max_requests: int | None = None
) -> _Server:
    """A bound server: `serve_forever()` (returns after `max_requests` when given), then
    `server_close()`."""
    return _Server((host, port), stop_page, max_requests)
