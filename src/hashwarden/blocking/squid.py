"""A Squid helper that checks full URLs against the hashed list.

For the two-stage set-up: DNS (or routing) sends only hosts that have prefix or URL entries to
the proxy, and the proxy asks this helper about each full URL. Two Squid helper protocols:

- `acl` (external_acl_type, `%URI`): answers `OK` for a blocked URL (the ACL matches, so
  `http_access deny` it and `deny_info` the stop page) and `ERR` otherwise;
- `rewrite` (url_rewrite_program): answers `OK status=302 url=<stop page>` for a blocked URL
  and `ERR` (leave it alone) otherwise.

With `concurrency=N` Squid prefixes each line with a channel ID and accepts answers in any
order; the helper echoes the ID. Anything after the URL on a line (Squid's extras, which by
default include the client's address) is ignored and never stored.

Squid waits for exactly one answer line per request line, so every line is answered, in the
order received: a line without a URL (blank, or a channel ID alone) and a line that cannot be
parsed get `BH` (broken helper) with a short quoted message, for that request only. Lines are
read as bytes: a URL need not be UTF-8 whatever the locale, and is canonicalised byte for
byte. A helper that dies makes Squid restart it, and Squid itself stops when helpers die too
fast, so no request line, however odd, ends the helper.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote

from hashwarden.blocking.applied import Matcher
from hashwarden.blocking.counts import BlockCounts
from hashwarden.errors import HashwardenError, UsageError

__all__ = ["MODES", "SquidHelper"]

MODES = ("acl", "rewrite")

# A channel ID: digits, then a space or the end of the line ("1 " is channel 1, no request).
_CHANNEL = re.compile(rb"([0-9]+)(?:[ \t]+|$)")


class SquidHelper:
    def __init__(
        self,
        matcher: Matcher,
        *,
        mode: str = "acl",
        stop_url: str | None = None,
        counts: BlockCounts | None = None,
    ) -> None:
        if mode not in MODES:
            raise UsageError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
        if mode == "rewrite" and not stop_url:
            raise UsageError("--mode rewrite needs --stop-url")
        self.matcher = matcher
        self.mode = mode
        self.stop_url = stop_url
        self.counts = counts

    def answer(self, line: bytes | str) -> str:
        """The reply line (ASCII, without newline) to one request line."""
        data = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line
        data = data.strip(b" \t\r\n")
        channel = ""
        match = _CHANNEL.match(data)
        if match is not None:
            channel, data = match.group(1).decode("ascii") + " ", data[match.end() :]
        tokens = data.split()
        if not tokens:
            return f'{channel}BH message="empty request"'
        # ASCII (the usual case) as text takes the canonicaliser's fast path.
        url: str | bytes = tokens[0].decode("ascii") if tokens[0].isascii() else tokens[0]
        try:
            hit = self.matcher.check_url(url)
        except HashwardenError:
            return f'{channel}BH message="unparsable URL"'
        except Exception:  # a defect must cost one request, not the helper (and Squid)
            return f'{channel}BH message="internal error"'
        if hit is None:
            return f"{channel}ERR"
        if self.counts is not None:
            self.counts.record(hit.digest)
        if self.mode == "acl":
            return f"{channel}OK"
        return f"{channel}OK status=302 url={quote(str(self.stop_url), safe=':/?=&%')}"

    def run(self, lines: Iterable[bytes | str]) -> Iterator[str]:
        """One answer per line, in order."""
        for line in lines:
            yield self.answer(line)
