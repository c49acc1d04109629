"""The applied block list in its binary, memory-mapped form: the same answers as the sets of
digests it replaced, expiry, the JSON form of 0.1 converted, and look-ups without numpy."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashwarden._arrayfile import MAGIC
from hashwarden.blocking.applied import AppliedList, Hit, Matcher, Record
from hashwarden.blocking.canonical import (
    HOST_KEY_BYTES,
    MAX_HOST_LABELS,
    canonicalize,
    digest,
    domain_expression,
    host_key,
    host_suffixes,
    path_prefixes,
    prefix_expression,
    url_expression,
)
from hashwarden.errors import DataError

TODAY = datetime.now(UTC).date()
PAST = (TODAY - timedelta(days=1)).isoformat()
FUTURE = (TODAY + timedelta(days=30)).isoformat()


class SetMatcher:
    """The look-up of hashwarden 0.1 (sets of digests and host keys), as the reference."""

    def __init__(self, expressions: list[str]) -> None:
        self.digests = {digest(e) for e in expressions}
        self.hosts = {host_key(e) for e in expressions}

    def check_url(self, url: str) -> Hit | None:
        canonical = canonicalize(url)
        for host in host_suffixes(canonical):
            if hashlib.sha256(host.encode()).digest()[:HOST_KEY_BYTES] not in self.hosts:
                continue
            for path in path_prefixes(canonical):
                d = digest(host + path)
                if d in self.digests:
                    return Hit(host + path, d)
        return None

    def check_name(self, name: str) -> Hit | None:
        labels = name.lower().rstrip(".").split(".")
        for n in range(len(labels), 1, -1):
            if n > MAX_HOST_LABELS and n != len(labels):
                continue
            host = ".".join(labels[-n:])
            d = digest(host + "/")
            if host_key(host) in self.hosts and d in self.digests:
                return Hit(host + "/", d)
        return None


def _records(entries: list[tuple[str, str | None]]) -> dict[bytes, Record]:
    """Records of (expression, expires) pairs, of the kind the expression's shape says."""
    records = {}
    for expression, expires in entries:
        kind = (
            "url"
            if "?" in expression
            else "domain"
            if expression.endswith(".example/")
            else "prefix"
        )
        records[digest(expression)] = Record(kind, "R1", expires, host_key(expression))
    return records


hosts = st.sampled_from(["a.example", "b.example", "www.a.example", "c.d.example", "10.0.0.1"])
paths = st.sampled_from(["", "x/", "x/y/", "x/y/z.html", "p.php?id=1"])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    listed=st.lists(
        st.tuples(hosts, paths, st.sampled_from([None, PAST, FUTURE])), min_size=0, max_size=12
    ),
    queried=st.lists(st.tuples(hosts, paths, st.sampled_from(["", "a/", "x/y/w"])), max_size=12),
)
def test_answers_are_those_of_the_sets(
    tmp_path: Path,
    listed: list[tuple[str, str, str | None]],
    queried: list[tuple[str, str, str]],
) -> None:
    # One record a digest: the last listed wins, as in the records' dict.
    entries = list({f"{host}/{path}": expires for host, path, expires in listed}.items())
    path = tmp_path / "applied"
    AppliedList("list", "key", 3, _records(entries)).save(path)
    loaded = AppliedList.load(path)
    live = [e for e, expires in entries if expires is None or expires > TODAY.isoformat()]
    reference = SetMatcher(live)
    for matcher in (loaded.matcher(), Matcher.from_expressions(live)):
        assert len(matcher) == len(set(live))
        for host, path_part, tail in queried:
            url = f"http://sub.{host}/{path_part}{tail}"
            assert matcher.check_url(url) == reference.check_url(url), url
            assert matcher.check_name(f"sub.{host}") == reference.check_name(f"sub.{host}")
            assert matcher.check_name(host) == reference.check_name(host)


digests = st.binary(min_size=32, max_size=32) | st.sampled_from([bytes(32), b"\1" * 8 + bytes(24)])
records = st.builds(
    Record,
    st.sampled_from(["domain", "prefix", "url"]),
    st.none() | st.sampled_from(["A1", "B2", "ünïcode"]),
    st.none() | st.sampled_from([PAST, FUTURE]),
    st.binary(min_size=8, max_size=8),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=st.dictionaries(digests, records, max_size=20),
    changes=st.lists(
        st.tuples(st.lists(digests, max_size=5), st.dictionaries(digests, records, max_size=5)),
        max_size=4,
    ),
)
def test_changes_merged_into_a_mapped_list_are_those_of_a_dict(
    tmp_path: Path,
    first: dict[bytes, Record],
    changes: list[tuple[list[bytes], dict[bytes, Record]]],
) -> None:
    path = tmp_path / "applied"
    AppliedList("l", "k", 0, first).save(path)
    model = dict(first)
    for serial, (remove, add) in enumerate(changes, 1):
        for gone in remove:
            model.pop(gone, None)
        model.update(add)
        loaded = AppliedList.load(path)
        AppliedList("l", "k", serial, loaded.records).save(path, remove=remove, add=add)
        again = AppliedList.load(path)
        assert again.serial == serial and dict(again.records.items()) == model
        live = {d for d, r in model.items() if r.expires is None or r.expires > TODAY.isoformat()}
        assert len(again.matcher()) == len(live)
        assert all(again.matcher().position(d) >= 0 for d in model)


def test_records_and_expiry_read_in_place(tmp_path: Path) -> None:
    records = _records(
        [("a.example/", None), ("b.example/dir/", PAST), ("c.example/p.php?id=1", FUTURE)]
    )
    AppliedList("list", "key", 7, records).save(tmp_path / "applied")
    assert (tmp_path / "applied").read_bytes()[:8] == MAGIC
    loaded = AppliedList.load(tmp_path / "applied")
    assert (loaded.list_id, loaded.key, loaded.serial) == ("list", "key", 7)
    assert dict(loaded.records.items()) == records
    assert sorted(r.kind for r in loaded.records.values()) == ["domain", "prefix", "url"]
    assert loaded.records[digest("c.example/p.php?id=1")].expires == FUTURE
    assert digest("z.example/") not in loaded.records and len(loaded.records) == 3
    matcher = loaded.matcher()
    assert len(matcher) == 2  # the expired entry cannot match
    assert matcher.check_url("http://b.example/dir/x") is None
    assert matcher.check_url("http://www.a.example/q") == Hit("a.example/", digest("a.example/"))
    assert matcher.check_url("http://c.example/p.php?id=1")
    empty = tmp_path / "empty"
    AppliedList(None, "key", 0, {}).save(empty)
    assert len(AppliedList.load(empty).matcher()) == 0
    assert AppliedList.load(empty).matcher().check_url("http://a.example/") is None


def test_a_json_list_of_0_1_is_read_once_and_converted(tmp_path: Path) -> None:
    path = tmp_path / "applied.json"
    records = _records(
        [(domain_expression("a.example"), None), (prefix_expression("b.example/d/"), FUTURE)]
    )
    rows = [[d.hex(), r.kind, r.reason, r.expires, r.host.hex()] for d, r in records.items()]
    old = {
        "format": "hashwarden-blocklist-applied",
        "list": "L",
        "key": "K",
        "serial": 4,
        "records": rows,
    }
    path.write_text(json.dumps(old))
    first = AppliedList.load(path)
    assert path.read_bytes()[:8] == MAGIC  # rewritten in the binary form
    again = AppliedList.load(path)
    for loaded in (first, again):
        assert (loaded.list_id, loaded.serial, dict(loaded.records.items())) == ("L", 4, records)
        assert loaded.matcher().check_url(url_expression("http://b.example/d/e"))


def test_damaged_files_are_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "applied"
    AppliedList("l", "k", 1, _records([("a.example/", None)])).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(DataError, match="runs past the end"):
        AppliedList.load(path)
    path.write_text('{"format": "something else"}')
    with pytest.raises(DataError, match="not an applied hashwarden block list"):
        AppliedList.load(path)


def test_the_look_ups_need_neither_numpy_nor_the_signing_code(tmp_path: Path) -> None:
    AppliedList("l", "k", 1, _records([("a.example/", None)])).save(tmp_path / "applied")
    code = f"""
import sys
import hashwarden.blocking.resolver, hashwarden.blocking.squid, hashwarden.blocking.stoppage
from hashwarden.blocking.applied import AppliedList
assert AppliedList.load(__import__("pathlib").Path({str(tmp_path / "applied")!r})).matcher().check_name("a.example")
heavy = [m for m in ("numpy", "cryptography", "hashwarden.bank", "hashwarden.blocking.hashed") if m in sys.modules]
print(heavy)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
