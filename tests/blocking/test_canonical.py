"""Safe Browsing canonicalisation: Google's published examples, tricky URLs, properties."""

from __future__ import annotations

import string
from urllib.parse import quote

import pytest
from hypothesis import assume, example, given, reject, settings
from hypothesis import strategies as st

from hashwarden.blocking.applied import Matcher
from hashwarden.blocking.canonical import (
    CanonicalUrl,
    _canonicalize_general,
    canonicalize,
    domain_expression,
    lookup_expressions,
    prefix_expression,
    url_expression,
)
from hashwarden.errors import UsageError

# Safe Browsing's own examples ("URLs and hashing", v4), input -> canonical URL.
SAFE_BROWSING = [
    ("http://host/%25%32%35", "http://host/%25"),
    ("http://host/%25%32%35%25%32%35", "http://host/%25%25"),
    ("http://host/%2525252525252525", "http://host/%25"),
    ("http://host/asdf%25%32%35asd", "http://host/asdf%25asd"),
    ("http://host/%%%25%32%35asd%%", "http://host/%25%25%25asd%25%25"),
    ("http://www.google.com/", "http://www.google.com/"),
    (
        "http://%31%36%38%2e%31%38%38%2e%39%39%2e%32%36/%2E%73%65%63%75%72%65/%77%77%77%2E%65%62%61%79%2E%63%6F%6D/",
        "http://168.188.99.26/.secure/www.ebay.com/",
    ),
    (
        "http://195.127.0.11/uploads/%20%20%20%20/.verify/.eBaysecure=updateuserdataxplimnbqmn-xplmvalidateinfoswqpcmlx=hgplmcx/",
        "http://195.127.0.11/uploads/%20%20%20%20/.verify/.eBaysecure=updateuserdataxplimnbqmn-xplmvalidateinfoswqpcmlx=hgplmcx/",
    ),
    (
        "http://host%23.com/%257Ea%2521b%2540c%2523d%2524e%25f%255E00%252611%252A22%252833%252944_55%252B",
        "http://host%23.com/~a!b@c%23d$e%25f^00&11*22(33)44_55+",
    ),
    ("http://3279880203/blah", "http://195.127.0.11/blah"),
    ("http://www.google.com/blah/..", "http://www.google.com/"),
    ("www.google.com/", "http://www.google.com/"),
    ("www.google.com", "http://www.google.com/"),
    ("http://www.evil.com/blah#frag", "http://www.evil.com/blah"),
    ("http://www.GOOgle.com/", "http://www.google.com/"),
    ("http://www.google.com.../", "http://www.google.com/"),
    ("http://www.google.com/foo\tbar\rbaz\n2", "http://www.google.com/foobarbaz2"),
    ("http://www.google.com/q?", "http://www.google.com/q?"),
    ("http://www.google.com/q?r?", "http://www.google.com/q?r?"),
    ("http://www.google.com/q?r?s", "http://www.google.com/q?r?s"),
    ("http://evil.com/foo#bar#baz", "http://evil.com/foo"),
    ("http://evil.com/foo;", "http://evil.com/foo;"),
    ("http://evil.com/foo?bar;", "http://evil.com/foo?bar;"),
    (b"http://\x01\x80.com/", "http://%01%80.com/"),
    ("http://notrailingslash.com", "http://notrailingslash.com/"),
    ("http://www.gotaport.com:1234/", "http://www.gotaport.com/"),
    ("  http://www.google.com/  ", "http://www.google.com/"),
    ("http:// leadingspace.com/", "http://%20leadingspace.com/"),
    ("http://%20leadingspace.com/", "http://%20leadingspace.com/"),
    ("%20leadingspace.com/", "http://%20leadingspace.com/"),
    ("https://www.securesite.com/", "https://www.securesite.com/"),
    ("http://host.com/ab%23cd", "http://host.com/ab%23cd"),
    ("http://host.com//twoslashes?more//slashes", "http://host.com/twoslashes?more//slashes"),
]


@pytest.mark.parametrize(("url", "expected"), SAFE_BROWSING)
def test_safe_browsing_examples(url: str | bytes, expected: str) -> None:
    assert str(canonicalize(url)) == expected


def test_safe_browsing_expressions_example() -> None:
    assert lookup_expressions("http://a.b.c/1/2.html?param=1") == [
        "a.b.c/1/2.html?param=1",
        "a.b.c/1/2.html",
        "a.b.c/",
        "a.b.c/1/",
        "b.c/1/2.html?param=1",
        "b.c/1/2.html",
        "b.c/",
        "b.c/1/",
    ]


def test_ip_hosts_get_no_parent_domains() -> None:
    assert lookup_expressions("http://1.2.3.4/1/") == ["1.2.3.4/1/", "1.2.3.4/"]


# A list with one entry of each kind (and an IP and an IDN domain), and URLs that must or must
# not be blocked by it. Each row: URL, the expression that must match (None: not blocked).
LIST = [
    ("domain", "blocked.example"),
    ("domain", "bücher.example"),
    ("domain", "198.51.100.7"),
    ("prefix", "files.example/dir/"),
    ("prefix", "files.example/one.html"),
    ("url", "http://pics.example/view?id=7"),
]
TRICKY = [
    # case, trailing dots, ports, userinfo, schemes, fragments
    ("http://BLOCKED.Example/", "blocked.example/"),
    ("https://blocked.example.:8443/x?y#z", "blocked.example/"),
    ("ftp://user:secret@blocked.example/", "blocked.example/"),
    ("blocked.example", "blocked.example/"),
    ("http://deep.sub.blocked.example/a/b", "blocked.example/"),
    ("http://notblocked.example/", None),
    ("http://blocked.example.evil.test/", None),
    ("http://evil.test/blocked.example/", None),
    ("http://blocked.example@evil.test/", None),
    ("http://evil.test@blocked.example/", "blocked.example/"),
    # percent-encoding of host and path, even double
    ("http://%62locked.example/", "blocked.example/"),
    ("http://%2562locked.example/", "blocked.example/"),
    ("http://files.example/%64ir/x.jpg", "files.example/dir/"),
    ("http://files.example/di%2572/x.jpg", "files.example/dir/"),
    # dot segments and repeated slashes
    ("http://files.example/other/../dir/x.jpg", "files.example/dir/"),
    ("http://files.example/./dir//x.jpg", "files.example/dir/"),
    ("http://files.example//dir/sub/x.jpg", "files.example/dir/"),
    ("http://files.example/dir/../other/x.jpg", None),
    ("http://files.example/dirx/", None),
    ("http://files.example/", None),
    # a prefix without slash is the exact path, any query
    ("http://files.example/one.html", "files.example/one.html"),
    ("http://files.example/one.html?a=1", "files.example/one.html"),
    ("http://files.example/one.html/x", None),
    # an exact URL with a query needs that query
    ("http://pics.example/view?id=7", "pics.example/view?id=7"),
    ("http://pics.example/view?id=7#frag", "pics.example/view?id=7"),
    ("http://pics.example/view?id=8", None),
    ("http://pics.example/view", None),
    # IDN: unicode, punycode, upper case, full-width dot
    ("http://bücher.example/", "xn--bcher-kva.example/"),
    ("http://BÜCHER.example/", "xn--bcher-kva.example/"),
    ("http://xn--bcher-kva.example/", "xn--bcher-kva.example/"),
    ("http://www.bücher。example/", "xn--bcher-kva.example/"),
    ("http://b%C3%BCcher.example/", "xn--bcher-kva.example/"),
    ("http://bucher.example/", None),
    # IP literal forms: dotted, decimal, octal, hex, short forms; parents not tried
    ("http://198.51.100.7/", "198.51.100.7/"),
    ("http://3325256711/", "198.51.100.7/"),
    ("http://0306.063.0144.07/", "198.51.100.7/"),
    ("http://0xc6.0x33.0x64.0x7/", "198.51.100.7/"),
    ("http://0xc6336407/", "198.51.100.7/"),
    ("http://198.51.25607/", "198.51.100.7/"),
    ("http://198.3367943/", "198.51.100.7/"),
    ("http://198.51.100.8/", None),
    ("http://[::1]/", None),
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    from hashwarden.blocking.store import expression_for

    return Matcher.from_expressions([expression_for(kind, value) for kind, value in LIST])


@pytest.mark.parametrize(("url", "expected"), TRICKY)
def test_tricky_urls(matcher: Matcher, url: str, expected: str | None) -> None:
    hit = matcher.check_url(url)
    assert (hit.expression if hit else None) == expected


def test_dns_names_match_domain_entries(matcher: Matcher) -> None:
    assert matcher.check_name("a.b.blocked.example.") is not None
    assert matcher.check_name("xn--bcher-kva.example") is not None
    assert matcher.check_name("blocked.example.evil.test") is None
    assert matcher.check_name("files.example") is None  # prefixes are not whole domains


@pytest.mark.parametrize(
    ("call", "value"),
    [
        (domain_expression, "com"),
        (domain_expression, "example.com/path"),
        (prefix_expression, "example.com/a?b=1"),
        (domain_expression, ".".join(["a"] * 11)),
        (prefix_expression, "example.com/" + "a/" * 9),
        (url_expression, "http:///nohost"),
    ],
)
def test_entries_that_could_never_match_are_refused(call: object, value: str) -> None:
    with pytest.raises(UsageError):
        call(value)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # one label that is no valid IDN does not stop the next from being mapped
        ("http://\x80.A\u00df/", "http://%C2%80.xn--a-qfa/"),
        ("http://\uff05\uff14\uff11.example/", "http://a.example/"),
        ("http://a%2Fb.example/", "http://a%2Fb.example/"),
        ("http://a%3A80/", "http://a%3A80/"),
        ("http://h.example/a%3Fb?c", "http://h.example/a%3Fb?c"),
        ("http://\uff3b::1\uff3d/", "http://[::1]/"),
    ],
)
def test_canonical_forms_read_the_same_again(url: str, expected: str) -> None:
    assert str(canonicalize(url)) == expected
    assert str(canonicalize(expected)) == expected


# --- properties -----------------------------------------------------------------------------

label = st.builds(
    str.__add__,
    st.sampled_from(string.ascii_lowercase),
    st.text(string.ascii_lowercase + string.digits, max_size=7),
)
segment = st.text(string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@ %é#?", max_size=8)
hosts = st.lists(label, min_size=2, max_size=5).map(".".join)
paths = st.lists(segment, max_size=5).map(lambda s: "/" + "/".join(s))


def _canonical_or_reject(url: str | bytes) -> CanonicalUrl:
    """The canonical form; an input refused as no URL is rejected, not counted as a pass."""
    try:
        return canonicalize(url)
    except UsageError:
        reject()


# Pieces that stress the order of percent-decoding, IDNA and parsing: escapes of the
# characters that delimit a URL's parts, full-width forms UTS #46 maps to ASCII ones, labels
# that are no valid IDN next to labels that are, mixed case before IDNA.
URL_PIECES = [
    *("http://", "HTTPS://", "user:pw@", "@", ":", ":80", "/", "//", "?", "#", ".", ".."),
    *("%", "%25", "%2F", "%3F", "%3A", "%40", "%5B", "%5D", "%2E", "%C3%9F", "%C2%80"),
    *("\x80", "\xad", "ß", "A", "a", "ü", "İ", "xn--", "example", "1", "0x", "::1"),
    *("\u3002", "\uff05", "\uff14\uff11", "\uff3b", "\uff3d", "\uff0f", "\uff1a", "\u2488"),
]
urlish = st.lists(st.sampled_from(URL_PIECES) | st.text(max_size=3), max_size=14).map("".join)


@given(urlish | st.text(max_size=60) | st.binary(max_size=60))
@settings(max_examples=1000)
@example("http://\x80.A\u00df/")  # found by hypothesis: %C2%80.a%C3%9F, then %C2%80.xn--a-qfa
@example("http://\uff05\uff14\uff11.example/")  # full-width "%41" maps to an escape
@example("http://a%2Fb.example/")  # an escaped slash in the host
@example("http://h.example/a%3Fb")  # an escaped "?" in the path
@example("http://%5Ba%5Db/")  # escaped brackets around a host that is no IPv6 address
@example("http://\uff3b::1\uff3d/")  # full-width brackets map to an IPv6 literal
@example("http://a%3A80/")  # an escaped port separator
@example("http://a%40b/")  # an escaped userinfo separator
@example("\udd00")  # a lone surrogate: refused, not a traceback
def test_canonical_is_idempotent_and_escaped(url: str | bytes) -> None:
    once = _canonical_or_reject(url)
    assert canonicalize(str(once)) == once
    text = once.expression
    assert text.isascii() and "#" not in text and " " not in text
    assert all(c > " " and c != "\x7f" for c in text)


@given(hosts, st.lists(label, max_size=4))
def test_percent_encoding_case_port_userinfo_fragment_do_not_matter(
    host: str, parts: list[str]
) -> None:
    path = "/" + "/".join(parts)
    plain = canonicalize(f"http://{host}{path}")
    encoded_path = "".join(f"%{ord(c):02x}" if c.isalnum() else c for c in path)
    variants = [
        f"HTTPS://user:pw@{host.upper()}.:8080{encoded_path}#frag",
        f"http://{quote(quote(host, safe=''), safe='')}{path}",
        f"{host}..{path.replace('/', '//')}",
        f"http://{host}/./x/..{path}",
    ]
    for variant in variants:
        assert canonicalize(variant).expression == plain.expression, variant


@given(hosts, paths, st.none() | st.text(string.ascii_letters + "=&", max_size=6))
def test_every_url_is_covered_by_its_domain_and_its_own_url(
    host: str, path: str, query: str | None
) -> None:
    url = f"http://sub.{host}{path}" + ("" if query is None else f"?{query}")
    expressions = set(lookup_expressions(url))
    assert domain_expression(host) in expressions
    assert url_expression(url) in expressions


@given(hosts, hosts)
def test_a_domain_never_covers_an_unrelated_host(blocked: str, other: str) -> None:
    assume(other != blocked and not other.endswith("." + blocked))
    matcher = Matcher.from_expressions([domain_expression(blocked)])
    assert matcher.check_url(f"http://{other}/{blocked}/") is None
    assert matcher.check_name(other) is None


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_ipv4_forms_agree(number: int) -> None:
    octets = [(number >> s) & 255 for s in (24, 16, 8, 0)]
    dotted = ".".join(map(str, octets))
    for form in (
        str(number),
        hex(number),
        ".".join(f"0{o:o}" for o in octets),
        ".".join(hex(o) for o in octets),
        f"{octets[0]}.{number & 0xFFFFFF}",
    ):
        assert canonicalize(f"http://{form}/").host == dotted, form


simple_urls = st.builds(
    "{}{}{}{}{}".format,
    st.sampled_from(["", "http://", "https://"]),
    st.lists(
        st.text(string.ascii_lowercase + string.digits + "_-", min_size=1, max_size=5),
        min_size=2,
        max_size=4,
    ).map(".".join),
    st.sampled_from(["", ":", ":80", ":8443"]),
    st.text(string.ascii_letters + string.digits + "/.-_~!$&'()*+,;=:@[]", max_size=20).map(
        lambda p: "/" + p
    )
    | st.just(""),
    st.none().map(lambda _: "")
    | st.text(string.ascii_letters + "=&?/.", max_size=8).map(lambda q: "?" + q),
)


@given(simple_urls)
@settings(max_examples=500)
def test_fast_path_agrees_with_the_general_rules(url: str) -> None:
    try:
        expected = _canonicalize_general(url)
    except UsageError:
        reject()
    assert canonicalize(url) == expected
