"""URL canonicalisation and host-suffix / path-prefix expressions, after Google Safe Browsing.

A block list is only as good as its look-ups: `http://EXAMPLE.com:80/a/./b/../c#x`,
`http://example.com./a//c` and `http://%65xample.com/a/c` are one page and must give one
answer. Both sides therefore reduce a URL to the same canonical form before anything is
stored or looked up, following the rules of Safe Browsing's "URLs and hashing":

- tab, CR and LF removed anywhere, surrounding spaces trimmed, the fragment dropped;
- a missing scheme means http; scheme, userinfo (`user:pw@`) and port are not part of the
  expression (they do not change which site is shown);
- host, path and query are percent-unescaped repeatedly until nothing is left to unescape;
- host: leading/trailing dots removed, runs of dots collapsed, lowercased; an IPv4 address in
  any form `inet_aton` accepts (decimal `3232235777`, octal `0300.0250.1.1`, hex `0xc0a80101`,
  fewer than four parts) becomes dotted decimal; an IPv6 literal its compressed form in
  brackets; an internationalised name its punycode (IDNA, UTS #46 mapping), label by label,
  so that a label which is no valid IDN is kept as it is without stopping the others;
- path: runs of slashes collapsed, `.` and `..` segments resolved, `/` when empty; the query
  is kept as written (only unescaped and escaped again), including a bare `?`;
- finally bytes <= 0x20, >= 0x7f, `#` and `%` are percent-escaped with upper-case hex.

Beyond Safe Browsing, canonicalising a canonical URL changes nothing (a listed URL and the
same URL seen again give one expression): characters that would be read as a delimiter the
next time are escaped too (`?` in the path; `/ ? @ : [ ]` in a host that is no IPv6
literal), and the host is unescaped and mapped until it settles, because UTS #46 maps
full-width forms such as `％４１` to ASCII that is itself an escape.

An *expression* is `host/path` or `host/path?query` with no scheme. A URL is looked up as
the set of expressions Safe Browsing derives from it: its exact host and its parent domains
(down to two labels; none for an IP address) combined with the exact path with and without
the query and the folder prefixes `/`, `/a/`, `/a/b/` .... Safe Browsing stops at 5 host
labels and 4 path prefixes; we go to `MAX_HOST_LABELS` and `MAX_PATH_DEPTH` so that every
entry the list accepts can match, and entries deeper than that are refused when added.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass

import idna

from hashwarden.errors import UsageError

__all__ = [
    "HOST_KEY_BYTES",
    "MAX_HOST_LABELS",
    "MAX_PATH_DEPTH",
    "CanonicalUrl",
    "canonicalize",
    "digest",
    "domain_expression",
    "host_key",
    "host_suffixes",
    "lookup_expressions",
    "path_prefixes",
    "prefix_expression",
    "url_expression",
]

#: Parent domains are tried down from this many labels (Safe Browsing: 5).
MAX_HOST_LABELS = 10
#: Folder prefixes are tried this many folders deep (Safe Browsing: 3 below the root).
MAX_PATH_DEPTH = 8

_SCHEME = re.compile(rb"^([a-zA-Z][a-zA-Z0-9+.\-]*)://")
_ESCAPE = re.compile(rb"%([0-9a-fA-F]{2})")
_MAX_UNESCAPE_ROUNDS = 64


@dataclass(slots=True)  # not frozen: that makes construction measurably slower per look-up
class CanonicalUrl:
    """A URL reduced to Safe Browsing's canonical parts (already escaped); treat as read-only."""

    scheme: str
    host: str
    path: str
    query: str | None  # None: no "?" at all; "" : a bare "?"
    is_ip: bool = False  # an IPv4 or IPv6 address: no parent domains

    @property
    def expression(self) -> str:
        """The full expression: host, path and (when present) query."""
        return self.host + self.path + ("" if self.query is None else "?" + self.query)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.expression}"


_HEX = re.compile(r"0[xX][0-9a-fA-F]*")
_OCT = re.compile(r"0[0-7]+")
_DEC = re.compile(r"[0-9]+")


def _unescape_fully(data: bytes) -> bytes:
    for _ in range(_MAX_UNESCAPE_ROUNDS):
        unescaped = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), data)
        if unescaped == data:
            return data
        data = unescaped
    return data


def _escape(data: bytes, also: bytes = b"") -> str:
    """Safe Browsing's escaping, plus the bytes in `also` (delimiters for the part)."""
    out = []
    for byte in data:
        if byte <= 0x20 or byte >= 0x7F or byte in (0x23, 0x25) or byte in also:
            out.append(f"%{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


def _ipv4(host: str) -> str | None:
    """Dotted decimal for any inet_aton form of an IPv4 address, else None."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        if _HEX.fullmatch(part):
            values.append(int(part[2:] or "0", 16))
        elif _OCT.fullmatch(part):
            values.append(int(part, 8))
        elif _DEC.fullmatch(part):
            values.append(int(part, 10))
        else:
            return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = 0
    for v in head:
        number = number << 8 | v
    number = number << (8 * (5 - len(values))) | last
    return str(ipaddress.IPv4Address(number))


# The label separators of IDNA (UTS #46 maps the last three to ".").
_IDNA_DOTS = re.compile("[.\u3002\uff0e\uff61]")
_IDNA_ERRORS = (idna.IDNAError, UnicodeError, ValueError)
# Host bytes that would be read as a delimiter when the canonical URL is read again.
_HOST_DELIMITERS = b"/?@:[]"
_HOST_SETTLE_ROUNDS = 8


def _idna_label(label: str) -> bytes:
    """One label, already mapped: punycode, or (not a valid IDN) its UTF-8 as it is."""
    if label.isascii():
        return label.encode()
    try:
        return idna.alabel(label)
    except _IDNA_ERRORS:
        return label.encode("utf-8")


def _idna_host(host: bytes) -> bytes:
    """Each label mapped (UTS #46: lower case, full-width forms) and made punycode, one label
    at a time: a label that is not UTF-8 or no valid IDN stays as it is (ASCII lower-cased)
    and leaves the others alone, so the result does not depend on its neighbours."""
    out: list[bytes] = []
    for label in host.split(b"."):
        if label.isascii():
            out.append(label.lower())
            continue
        try:
            text = label.decode("utf-8")
        except UnicodeDecodeError:
            out.append(label.lower())
            continue
        for part in _IDNA_DOTS.split(text):
            try:
                mapped = idna.uts46_remap(part, std3_rules=False, transitional=False)
            except _IDNA_ERRORS:
                out.append(part.encode("utf-8").lower())
                continue
            out.extend(_idna_label(piece) for piece in mapped.split("."))
    return b".".join(out)


def _canonical_host(raw: bytes) -> tuple[str, bool]:
    """The canonical host, and whether it is an IP address."""
    host = _unescape_fully(raw)
    # Unescape and map until nothing changes: a mapping can make an escape (％４１ -> %41)
    # and an escape can make something to map.
    for _ in range(_HOST_SETTLE_ROUNDS):
        settled = _unescape_fully(_idna_host(host))
        if settled == host:
            break
        host = settled
    else:
        raise UsageError(f"host {raw[:80]!r} does not settle under unescaping and IDNA")
    if host.startswith(b"[") and host.endswith(b"]"):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1].decode('ascii')).compressed}]", True
        except (ValueError, UnicodeDecodeError):
            pass
    host = re.sub(rb"\.{2,}", b".", host.strip(b"."))
    ip = _ipv4(host.decode("latin-1"))
    return (ip, True) if ip is not None else (_escape(host, _HOST_DELIMITERS), False)


def _canonical_path(raw: bytes) -> str:
    path = re.sub(rb"/{2,}", b"/", _unescape_fully(raw) or b"/")
    if not path.startswith(b"/"):
        path = b"/" + path
    segments = path.split(b"/")[1:]
    out: list[bytes] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == b".":
            if last:
                out.append(b"")
        elif segment == b"..":
            if out:
                out.pop()
            if last:
                out.append(b"")
        else:
            out.append(segment)
    return _escape(b"/" + b"/".join(out), b"?")


# URLs already in canonical shape (the usual case for a proxy) skip the general path: plain
# ASCII, a lower-case DNS host that is not a number, no escapes, dot segments or double slashes.
_SIMPLE = re.compile(
    r"(?:(https?)://)?([a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.([a-z0-9_-]+))(?::[0-9]*)?"
    r"(/[!$&-;=@-~]*)?(?:\?([!$&-;=?-~]*))?"
)
_DIGITS = frozenset("0123456789")


def canonicalize(url: str | bytes) -> CanonicalUrl:
    """The canonical form of `url` (bytes are taken as they are; text as UTF-8).

    Raises UsageError when nothing that could be a host is left."""
    if isinstance(url, str):
        simple = _SIMPLE.fullmatch(url)
        if simple is not None:
            scheme, host, top, path, query = simple.groups()
            # A top label starting with a digit may make the host a number (an IP address);
            # "//" and "/." may need collapsing or resolving: leave those to the general rules.
            if top[0] not in _DIGITS and (path is None or ("//" not in path and "/." not in path)):
                return CanonicalUrl(scheme or "http", host, path or "/", query)
    return _canonicalize_general(url)


def _canonicalize_general(url: str | bytes) -> CanonicalUrl:
    try:
        data = url.encode("utf-8", "surrogateescape") if isinstance(url, str) else bytes(url)
    except UnicodeEncodeError as exc:  # a lone surrogate that stands for no byte
        raise UsageError(f"URL {url!r} is not text that can be encoded") from exc
    data = re.sub(rb"[\t\r\n]", b"", data).strip(b" ")
    data = data.split(b"#", 1)[0]
    match = _SCHEME.match(data)
    scheme = "http"
    if match:
        scheme = match.group(1).decode("ascii").lower()
        data = data[match.end() :]
    cut = min((i for i in (data.find(b"/"), data.find(b"?")) if i >= 0), default=len(data))
    authority, rest = data[:cut], data[cut:]
    authority = authority.rpartition(b"@")[2]
    if authority.startswith(b"["):
        end = authority.find(b"]")
        authority = authority[: end + 1] if end >= 0 else authority
    else:
        authority = re.sub(rb":[0-9]*$", b"", authority)
    raw_path, question, raw_query = rest.partition(b"?")
    host, is_ip = _canonical_host(authority)
    if not host:
        raise UsageError(f"no host in URL {url!r}")
    query = _escape(_unescape_fully(raw_query)) if question else None
    return CanonicalUrl(scheme, host, _canonical_path(raw_path), query, is_ip)


def host_suffixes(canonical: CanonicalUrl) -> list[str]:
    """The exact host, then its parent domains down to two labels (only the host for an IP)."""
    if canonical.is_ip:
        return [canonical.host]
    labels = canonical.host.split(".")
    hosts = [canonical.host]
    for n in range(min(len(labels) - 1, MAX_HOST_LABELS), 1, -1):
        suffix = ".".join(labels[-n:])
        if suffix != canonical.host:
            hosts.append(suffix)
    return hosts


def path_prefixes(canonical: CanonicalUrl) -> list[str]:
    """The exact path with and without the query, then the folders from `/` down."""
    paths = []
    if canonical.query is not None:
        paths.append(f"{canonical.path}?{canonical.query}")
    paths.append(canonical.path)
    folders = canonical.path.split("/")[1:-1]
    prefix = "/"
    for depth in range(min(len(folders), MAX_PATH_DEPTH) + 1):
        if depth:
            prefix += folders[depth - 1] + "/"
        if prefix != canonical.path:
            paths.append(prefix)
    return paths


def lookup_expressions(url: str | bytes | CanonicalUrl) -> list[str]:
    """Every expression a list entry could have that covers `url`, most specific first."""
    canonical = url if isinstance(url, CanonicalUrl) else canonicalize(url)
    paths = path_prefixes(canonical)
    return [host + path for host in host_suffixes(canonical) for path in paths]


def domain_expression(domain: str) -> str:
    """The expression of a whole-domain entry (`example.com/`): the domain and its subdomains."""
    canonical = canonicalize(domain.strip())
    if canonical.path != "/" or canonical.query is not None:
        raise UsageError(f"{domain!r} is not a bare domain; use --prefix or --url")
    if not canonical.is_ip:
        labels = canonical.host.split(".")
        if len(labels) < 2:
            raise UsageError(f"{domain!r}: a domain entry needs at least two labels")
        if len(labels) > MAX_HOST_LABELS:
            raise UsageError(f"{domain!r}: more than {MAX_HOST_LABELS} labels")
    return canonical.host + "/"


def prefix_expression(prefix: str) -> str:
    """A host plus path prefix: ending in `/` it covers the folder, else that path (any query)."""
    canonical = canonicalize(prefix.strip())
    if canonical.query is not None:
        raise UsageError(f"{prefix!r}: a prefix has no query; use --url for an exact URL")
    if canonical.path.endswith("/") and canonical.path.count("/") - 1 > MAX_PATH_DEPTH:
        raise UsageError(f"{prefix!r}: more than {MAX_PATH_DEPTH} folders deep")
    domain_expression(canonical.host)  # the host must be usable on its own
    return canonical.host + canonical.path


def url_expression(url: str) -> str:
    """An exact URL: host, path and query (without a query it covers any query)."""
    canonical = canonicalize(url.strip())
    domain_expression(canonical.host)
    return canonical.expression


def digest(expression: str) -> bytes:
    """SHA-256 of the expression's UTF-8 bytes: the only form that leaves the curator's store."""
    return hashlib.sha256(expression.encode("utf-8")).digest()


#: Bytes of SHA-256(host) kept as a host key: enough to skip hosts with no entry at all.
HOST_KEY_BYTES = 8


def host_key(expression_or_host: str) -> bytes:
    """The short host key of an expression's host (or of a bare host): lets a look-up hash
    only the host names of a URL that has no entry, instead of every host/path pair."""
    host = expression_or_host.split("/", 1)[0]
    return hashlib.sha256(host.encode("utf-8")).digest()[:HOST_KEY_BYTES]
