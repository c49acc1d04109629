"""A Squid helper that checks full URLs against the hashed list.

For the two-stage set-up: DNS (or routing) sends only hosts that have prefix or URL entries to
the proxy, and the proxy asks this helper about each full URL. Two Squid helper protocols:

- `acl` (external_acl_type, `%URI`): answers `OK` for a blocked URL (the ACL matches, so
  `http_access deny` it and `deny_info` the stop page) and `ERR` otherwise;
- `rewrite` (url_rewrite_program): answers `OK status=302 url=<stop page>` for a blocked URL
  and `ERR` (leave it alone) otherwise.

With `concurrency=N` Squid prefixes each line with a channel ID and accepts answers in any
order; the helper echoes the ID. Anything after the URL on a line (Squid's extras, which by
default include the client's address) is ignored and never stored. A line that cannot be
parsed is answered `BH` (broken helper) for that request only, with a short message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from urllib.parse import quote

from hashwarden.blocking.counts import BlockCounts
from hashwarden.blocking.hashed import Matcher
from hashwarden.errors import HashwardenError, UsageError

__all__ = ["MODES", "SquidHelper"]

MODES = ("acl", "rewrite")


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

    def answer(self, line: str) -> str:
        """The reply line (without newline) to one request line."""
        tokens = line.split()
        channel = ""
        if len(tokens) >= 2 and tokens[0].isdigit():
            channel, tokens = tokens[0] + " ", tokens[1:]
        if not tokens:
            return f"{channel}BH message=empty request"
        try:
            hit = self.matcher.check_url(tokens[0])
        except HashwardenError:
            return f"{channel}BH message=unparsable URL"
        if hit is None:
            return f"{channel}ERR"
        if self.counts is not None:
            self.counts.record(hit.digest)
        if self.mode == "acl":
            return f"{channel}OK"
        return f"{channel}OK status=302 url={quote(str(self.stop_url), safe=':/?=&%')}"

    def run(self, lines: Iterable[str]) -> Iterator[str]:
        for line in lines:
            if line.strip():
                yield self.answer(line)
