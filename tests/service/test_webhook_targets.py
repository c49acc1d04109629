"""Where webhooks may go: the address check and URL redaction, as units.

No test here opens a connection or asks a real resolver: names are resolved by an injected
table, and refusals are checked on the function that decides them.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashwarden.errors import UsageError
from hashwarden.service.actions.targets import (
    REFUSED,
    TargetPolicy,
    TargetRefused,
    literal_address,
    redact_url,
    refusal_reason,
)

#: Host as written -> the address a resolver reads it as.
NUMERIC_FORMS = {
    "127.0.0.1": "127.0.0.1",
    "2130706433": "127.0.0.1",  # decimal
    "0x7f000001": "127.0.0.1",  # hex
    "0X7F.0.0.1": "127.0.0.1",
    "0177.0.0.1": "127.0.0.1",  # octal
    "017700000001": "127.0.0.1",
    "127.1": "127.0.0.1",  # short dotted
    "0x7f.1": "127.0.0.1",
    "127.0.1": "127.0.0.1",
    "127.0.0.1.": "127.0.0.1",  # trailing root dot
    "0": "0.0.0.0",
    "3232235777": "192.168.1.1",
    "0xa9.0xfe.0xa9.0xfe": "169.254.169.254",
    "[::1]": "::1",
    "::ffff:127.0.0.1": "::ffff:127.0.0.1",
    "[::ffff:7f00:1]": "::ffff:127.0.0.1",
    "8.8.8.8": "8.8.8.8",
}

REFUSED_ADDRESSES = {
    "127.0.0.1": "loopback",
    "127.255.255.254": "loopback",
    "::1": "loopback",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "10.0.0.1": "private",
    "172.16.5.4": "private",
    "192.168.0.10": "private",
    "169.254.1.1": "link-local",
    "fe80::1": "link-local",
    "fc00::1": "unique-local",
    "fd12:3456::1": "unique-local",
    "100.64.0.1": "CGNAT",
    "100.127.255.254": "CGNAT",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "ff02::1": "multicast",
    "240.0.0.1": "",  # reserved
    "255.255.255.255": "",
    "192.0.2.10": "",  # documentation
    "198.18.0.1": "",  # benchmarking
    "169.254.169.254": "metadata",
    "169.254.170.2": "metadata",
    "fd00:ec2::254": "metadata",
    "100.100.100.200": "metadata",
    "168.63.129.16": "metadata",  # a public address, refused by name
    "::ffff:127.0.0.1": "IPv4-mapped",
    "::ffff:8.8.8.8": "IPv4-mapped",
    "2002:7f00:1::1": "embedding 127.0.0.1",  # 6to4
    "2002:a9fe:a9fe::1": "embedding 169.254.169.254",
    "64:ff9b::a00:1": "",  # NAT64 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": "Teredo",
    "fec0::1": "site-local",
}

PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2001:4860:4860::8888", "2606:4700::1111"]

#: The injected resolver's table: no real look-up happens in these tests.
DNS = {
    "hooks.example": ["93.184.215.14"],
    "localhost": ["127.0.0.1", "::1"],
    "intranet.example": ["10.1.2.3"],
    "rebind.example": ["192.168.1.1", "93.184.215.14"],
    "aws-metadata.example": ["169.254.169.254"],
    "metadata.google.internal": ["169.254.169.254"],
    "mapped.example": ["::ffff:10.0.0.1"],
    "webhooks.internal": ["10.9.8.7"],
}


class Resolver:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return DNS[host]


@pytest.mark.parametrize(("host", "address"), NUMERIC_FORMS.items())
def test_numeric_hosts_are_read_as_a_resolver_reads_them(host: str, address: str) -> None:
    assert literal_address(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "deadbeef", "1.2.3.4.5", "08.1", "127.0.0.1x"])
def test_names_are_not_addresses(host: str) -> None:
    assert literal_address(host) is None


@pytest.mark.parametrize(("address", "why"), REFUSED_ADDRESSES.items())
def test_internal_and_special_addresses_are_refused(address: str, why: str) -> None:
    reason = refusal_reason(ipaddress.ip_address(address))
    assert reason is not None, address
    assert why in reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "https://[::1]/x",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://100.64.0.1/",
        "http://10.0.0.1/",
        "http://0.0.0.0:22/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.GOOGLE.INTERNAL./",
        "http://metadata/",
        "http://user:pw@127.0.0.1/",
    ],
)
def test_a_rule_to_an_internal_literal_or_metadata_name_is_refused(url: str) -> None:
    with pytest.raises(TargetRefused, match=REFUSED) as caught:
        TargetPolicy().check_url(url)
    assert "HASHWARDEN_WEBHOOK_ALLOW" in str(caught.value)
    assert "pw@" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example/x", "http://8.8.8.8:8080/", "https://intranet.example/"],
)
def test_names_and_public_literals_pass_the_rule_check(url: str) -> None:
    TargetPolicy().check_url(url)  # names are checked on their address at send time


@pytest.mark.parametrize("url", ["ftp://example.com/", "not a url", "http:///path", "http://h:x/"])
def test_a_rule_url_must_be_http(url: str) -> None:
    with pytest.raises(UsageError):
        TargetPolicy().check_url(url)


def test_names_are_checked_on_the_address_they_resolve_to() -> None:
    policy, resolver = TargetPolicy(), Resolver()
    assert policy.resolve("hooks.example", 443, resolver) == "93.184.215.14"
    for host in ("localhost", "intranet.example", "aws-metadata.example", "mapped.example"):
        with pytest.raises(TargetRefused, match=REFUSED):
            policy.resolve(host, 443, resolver)
    # of several addresses, the first allowed one is the one connected to
    assert policy.resolve("rebind.example", 443, resolver) == "93.184.215.14"
    resolver.asked.clear()
    with pytest.raises(TargetRefused, match="metadata"):
        policy.resolve("metadata.google.internal", 80, resolver)
    with pytest.raises(TargetRefused, match="loopback"):
        policy.resolve("2130706433", 80, resolver)  # read as a number, as getaddrinfo would
    assert resolver.asked == []  # refused by name, and numbers need no look-up


def test_the_allow_list_admits_networks_and_names() -> None:
    policy = TargetPolicy.parse(" 10.0.0.0/8, 127.0.0.1 ,WebHooks.Internal,fd00::/8,")
    assert policy.names == frozenset({"webhooks.internal"})
    resolver = Resolver()
    assert policy.resolve("intranet.example", 80, resolver) == "10.1.2.3"
    assert policy.resolve("webhooks.internal", 80, resolver) == "10.9.8.7"
    assert policy.resolve("localhost", 80, resolver) == "127.0.0.1"
    policy.check_url("http://127.0.0.1:9/")
    policy.check_url("http://10.200.0.1/")
    with pytest.raises(TargetRefused):
        policy.check_url("http://127.0.0.2/")  # only the one address was allowed
    with pytest.raises(TargetRefused):
        policy.resolve("aws-metadata.example", 80, resolver)
    with pytest.raises(UsageError, match="neither"):
        TargetPolicy.parse("10.0.0.0/8,not a host!")
    assert TargetPolicy.parse("") == TargetPolicy()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example/x", "https://hooks.example/x"),
        ("https://user:pa55w0rd@hooks.example/x", "https://***@hooks.example/x"),
        ("https://tok@hooks.example:8443/x", "https://***@hooks.example:8443/x"),
        (
            "https://hooks.example/x?token=s3cr3t&page=2&api_key=k&Signature=zz",
            "https://hooks.example/x?token=***&page=2&api_key=***&Signature=***",
        ),
        (
            "https://hooks.example/services/T0001/B0002/Xq9v2kPz7RtY4mWn8sLc3JhD",
            "https://hooks.example/services/T0001/B0002/***",
        ),
        ("https://hooks.example/x?v=Xq9v2kPz7RtY4mWn8sLc3JhD", "https://hooks.example/x?v=***"),
        ("https://hooks.example/x#access_token=abc", "https://hooks.example/x#***"),
        ("http://h:99999999/x", "***"),
    ],
)
def test_redacted_urls(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@given(
    user=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12),
    password=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~", min_size=4),
    token=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=4),
)
def test_credentials_never_survive_redaction(user: str, password: str, token: str) -> None:
    url = f"https://{user}:{password}@hooks.example/p?access_token={token}&x=1"
    shown = redact_url(url)
    assert f":{password}@" not in shown and f"={token}" not in shown
    assert shown.startswith("https://***@hooks.example/p?")
