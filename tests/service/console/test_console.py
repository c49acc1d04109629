"""The console through FastAPI's TestClient: sign-in, roles, CSRF, sessions, headers, 4xx."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from hashwarden.bank import Bank
from hashwarden.bank.base import NewEntry
from hashwarden.blocking.store import BlockList
from hashwarden.reports.statistics import Event, record_events
from hashwarden.service import ServiceSettings, create_app
from hashwarden.service.keys import ROLES, create_key
from hashwarden.service.routes.console.web import CSP
from hashwarden.signals.builtin import default_registry

from ..conftest import png
from ..test_alerts import alert

PDQ = "f" * 64
#: The reviewer's pages.
WATCH = {"Reports", "Alerts", "Agents"}
SHA1 = "a" * 40


def csrf_of(page: Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, page.text[:2000]
    return found.group(1)


class Browser:
    """A TestClient that signs in like a person (cookies, forms, CSRF tokens)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def sign_in(self, key: str) -> Response:
        page = self.client.get("/ui/sign-in")
        answer = self.client.post(
            "/ui/sign-in", data={"csrf": csrf_of(page), "key": key, "next": "/ui/"}
        )
        if answer.status_code == 200 and "Sign out" in answer.text:
            self.csrf = csrf_of(answer)
        return answer

    def get(self, path: str, **kw: Any) -> Response:
        answer = self.client.get(path, **kw)
        if 'name="csrf"' in answer.text:
            self.csrf = csrf_of(answer)
        return answer

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Response:
        fields = {"csrf": self.csrf, **(data or {})}
        return self.client.post(path, data=fields, **kw)


@pytest.fixture
def keys(any_bank: Bank) -> dict[str, str]:
    return {role: create_key(any_bank, f"{role}-key", role) for role in ROLES}


@pytest.fixture
def client(any_bank: Bank, keys: dict[str, str]) -> TestClient:
    return TestClient(create_app(ServiceSettings(), any_bank), base_url="http://127.0.0.1")


def signed_in(client: TestClient, key: str) -> Browser:
    browser = Browser(client)
    answer = browser.sign_in(key)
    assert answer.status_code == 200 and "Sign out" in answer.text, answer.text[:1000]
    return browser


def test_a_page_asks_to_sign_in_first(client: TestClient) -> None:
    answer = client.get("/ui/entries", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/sign-in?next=/ui/entries"
    page = client.get("/ui/sign-in")
    assert 'for="api-key">API key' in page.text and ">Sign in</button>" in page.text


@pytest.mark.parametrize("role", ["matcher"])
def test_a_machine_key_cannot_sign_in(client: TestClient, keys: dict[str, str], role: str) -> None:
    answer = Browser(client).sign_in(keys[role])
    assert answer.status_code == 403
    assert "cannot sign in to the console" in answer.text
    assert "hashwarden_session" not in answer.cookies


def test_an_unknown_key_is_refused(client: TestClient) -> None:
    answer = Browser(client).sign_in("hw_not-a-key")
    assert answer.status_code == 401 and "Unknown or revoked API key" in answer.text


def test_sign_in_without_its_csrf_token_is_refused(
    client: TestClient, keys: dict[str, str]
) -> None:
    client.get("/ui/sign-in")
    answer = client.post("/ui/sign-in", data={"key": keys["admin"]})
    assert answer.status_code == 403
    assert "hashwarden_session" not in client.cookies


def test_the_session_cookie_is_strict(client: TestClient, keys: dict[str, str]) -> None:
    page = client.get("/ui/sign-in")
    answer = client.post(
        "/ui/sign-in",
        data={"csrf": csrf_of(page), "key": keys["curator"]},
        follow_redirects=False,
    )
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "hashwarden_session" in c)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui/" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback here; Secure over TLS


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        (
            "reviewer",
            {"Dashboard", *WATCH, "Statistics"},
            {"Banks", "Entries", "Rules", "Keys", "Block list"},
        ),
        (
            "curator",
            {"Dashboard", "Banks", "Entries", "Block list", "Statistics"},
            {*WATCH, "Rules", "Keys"},
        ),
        (
            "peer",
            {"Dashboard", "Banks", "Entries"},
            {*WATCH, "Rules", "Keys", "Block list", "Statistics"},
        ),
        (
            "admin",
            {"Dashboard", "Banks", "Entries", *WATCH, "Rules", "Keys", "Block list", "Statistics"},
            set(),
        ),
    ],
)
def test_each_role_sees_only_its_pages(
    client: TestClient, keys: dict[str, str], role: str, shown: set[str], hidden: set[str]
) -> None:
    browser = signed_in(client, keys[role])
    nav = browser.get("/ui/").text.split('aria-label="Console"')[1].split("</nav>")[0]
    links = set(re.findall(r">([A-Za-z ]+)</a>", nav))
    assert shown <= links and not hidden & links
    paths = {"Banks": "/ui/banks", "Entries": "/ui/entries", "Reports": "/ui/reports"}
    paths |= {"Keys": "/ui/keys", "Rules": "/ui/rules"}
    paths |= {"Alerts": "/ui/alerts", "Agents": "/ui/agents", "Block list": "/ui/blocklist"}
    paths |= {"Statistics": "/ui/statistics"}
    for label in hidden:
        answer = browser.get(paths[label])
        assert answer.status_code == 403, label
        assert f"The {role} role may not see this page." in answer.text


def test_a_form_without_its_csrf_token_changes_nothing(
    client: TestClient, keys: dict[str, str], any_bank: Bank
) -> None:
    browser = signed_in(client, keys["curator"])
    browser.get("/ui/banks")
    answer = client.post("/ui/banks", data={"name": "forged"})
    assert answer.status_code == 403 and "security token" in answer.text
    answer = client.post("/ui/banks", data={"name": "forged", "csrf": "0" * 64})
    assert answer.status_code == 403
    assert "forged" not in browser.get("/ui/banks").text
    # Another session's token is not this one's.
    other = signed_in(TestClient(client.app, base_url="http://127.0.0.1"), keys["admin"])
    assert other.csrf != browser.csrf
    page = browser.post("/ui/banks", {"name": "mine"})
    assert page.status_code == 200 and "Bank mine created." in page.text


def test_every_answer_carries_a_strict_content_security_policy(
    client: TestClient, keys: dict[str, str]
) -> None:
    browser = signed_in(client, keys["admin"])
    for path in (
        "/ui/",
        "/ui/entries",
        "/ui/banks",
        "/ui/reports",
        "/ui/rules",
        "/ui/keys",
        "/ui/alerts",
        "/ui/agents",
        "/ui/blocklist",
        "/ui/statistics",
        "/ui/sign-in",
    ):
        answer = browser.get(path)
        assert answer.headers["content-security-policy"] == CSP, path
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
        assert "<img" not in answer.text and "<script>" not in answer.text
        assert " style=" not in answer.text and "<style" not in answer.text
    assert "'unsafe-inline'" not in CSP and "img-src 'none'" in CSP


def test_curator_adds_finds_edits_suspends_votes_and_removes_an_entry(
    client: TestClient, keys: dict[str, str]
) -> None:
    browser = signed_in(client, keys["curator"])
    browser.get("/ui/banks")
    assert browser.post("/ui/banks", {"name": "hotline"}).status_code == 200
    browser.get("/ui/entries")
    page = browser.post(
        "/ui/entries",
        {"bank": "hotline", "kind": "pdq", "value": PDQ.upper(), "category": "csam-a"},
    )
    assert "added." in page.text
    entry = re.search(r"<h1>Entry (\d+)</h1>", page.text)
    assert entry, page.text[:2000]
    entry_id = entry.group(1)
    for term in (PDQ, PDQ.upper(), "csam-a", "curator-key"):
        found = browser.get("/ui/entries", params={"q": term}).text
        assert f'href="/ui/entries/{entry_id}"' in found, term
    assert "No entry matches" in browser.get("/ui/entries", params={"q": SHA1}).text

    browser.get(f"/ui/entries/{entry_id}")
    page = browser.post(
        f"/ui/entries/{entry_id}", {"category": "csam-b", "series": "s-1", "note": ""}
    )
    assert "changed." in page.text and "<dd>csam-b</dd>" in page.text and "s-1" in page.text
    page = browser.post(
        f"/ui/entries/{entry_id}/disable", {"bank": "hotline", "until": "2999-01-01"}
    )
    assert "does not match in bank hotline until 2999-01-01" in page.text
    page = browser.post(f"/ui/entries/{entry_id}/vote", {"vote": "dispute", "reason": "why"})
    assert "dispute vote" in page.text and "<td>curator-key</td><td>dispute</td>" in page.text
    assert "entry.update" in page.text  # the history names the change
    page = browser.post(f"/ui/entries/{entry_id}/remove", {"bank": "hotline"})
    assert f"Entry {entry_id} removed from the bank." in page.text
    assert browser.get(f"/ui/entries/{entry_id}").status_code == 404


def test_an_entry_added_by_file_keeps_only_its_hashes(
    client: TestClient, keys: dict[str, str], any_bank: Bank
) -> None:
    browser = signed_in(client, keys["curator"])
    browser.get("/ui/banks")
    browser.post("/ui/banks", {"name": "files"})
    browser.get("/ui/entries")
    image = png(7)
    page = client.post(
        "/ui/entries/upload",
        data={"csrf": browser.csrf, "bank": "files", "category": "cgi"},
        files={"file": ("x.png", image, "image/png")},
    )
    assert page.status_code == 200 and "added." in page.text, page.text[:2000]
    kinds = set(re.findall(r"<tr><td>(\w+)</td><td class=\"hash\">", page.text))
    assert {"md5", "sha1", "sha256", "pdq"} <= kinds
    assert "<img" not in page.text


def test_a_wrong_hash_is_a_message_not_an_error(client: TestClient, keys: dict[str, str]) -> None:
    browser = signed_in(client, keys["curator"])
    browser.get("/ui/banks")
    browser.post("/ui/banks", {"name": "b"})
    browser.get("/ui/entries")
    page = browser.post("/ui/entries", {"bank": "b", "kind": "pdq", "value": "zz"})
    assert page.status_code == 200 and 'class="flash flash-error"' in page.text
    assert browser.get("/ui/entries/99999").status_code == 404
    assert browser.get("/ui/entries/nope").status_code == 404
    assert browser.get("/ui/reports/1").status_code == 403  # a curator has no review


def test_admin_creates_and_revokes_a_key_and_its_sessions_end(
    client: TestClient, keys: dict[str, str]
) -> None:
    admin = signed_in(client, keys["admin"])
    admin.get("/ui/keys")
    page = admin.post("/ui/keys", {"name": "new-reviewer", "role": "reviewer"})
    assert page.status_code == 201
    token = re.search(r'<code id="new-key" class="hash">(hw_[^<]+)</code>', page.text)
    assert token, page.text[:2000]
    assert token.group(1) not in admin.get("/ui/keys").text  # shown once
    other = signed_in(TestClient(client.app, base_url="http://127.0.0.1"), token.group(1))
    assert other.get("/ui/reports").status_code == 200
    admin.get("/ui/keys")
    page = admin.post("/ui/keys/new-reviewer/revoke")
    assert "Key new-reviewer revoked." in page.text
    ended = other.client.get("/ui/reports", follow_redirects=False)
    assert ended.status_code == 303 and "ended=1" in ended.headers["location"]


def test_a_session_ends_after_its_idle_time(
    any_bank: Bank, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHWARDEN_CONSOLE_IDLE_S", "60")
    client = TestClient(create_app(ServiceSettings(), any_bank), base_url="http://127.0.0.1")
    browser = signed_in(client, keys["curator"])
    with any_bank.db.transaction() as db:
        db.execute("UPDATE console_sessions SET seen = ?", ("2000-01-01T00:00:00.000000Z",))
    answer = browser.client.get("/ui/entries", follow_redirects=False)
    assert answer.status_code == 303 and "ended=1" in answer.headers["location"]
    page = browser.client.get(answer.headers["location"])
    assert "Your session has ended" in page.text


def test_sign_out_ends_the_session(client: TestClient, keys: dict[str, str]) -> None:
    browser = signed_in(client, keys["peer"])
    page = browser.post("/ui/sign-out")
    assert "You have signed out." in page.text
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_next_never_leaves_the_console(client: TestClient, keys: dict[str, str]) -> None:
    page = client.get("/ui/sign-in", params={"next": "https://elsewhere.example/"})
    answer = client.post(
        "/ui/sign-in",
        data={"csrf": csrf_of(page), "key": keys["peer"], "next": "//elsewhere.example/x"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/ui/"


def test_admin_turns_a_rule_off_and_on(client: TestClient, keys: dict[str, str]) -> None:
    made = client.post(
        "/v1/actions/rules",
        json={"name": "to review", "report": True},
        headers={"Authorization": f"Bearer {keys['admin']}"},
    )
    assert made.status_code == 201, made.text
    rule_id = made.json()["rule"]["id"]
    admin = signed_in(client, keys["admin"])
    page = admin.get("/ui/rules")
    assert "to review" in page.text and "On: turn off" in page.text
    page = admin.post(f"/ui/rules/{rule_id}", {"enabled": "0"})
    assert "Rule to review is off." in page.text and "Off: turn on" in page.text
    assert admin.get("/ui/rules", params={"status": "lost"}).status_code == 422
    page = admin.post("/ui/rules/deliveries/999/retry")
    assert 'class="flash flash-error"' in page.text  # no such delivery: a message


def test_reviewer_acknowledges_and_closes_an_alert(
    client: TestClient, keys: dict[str, str]
) -> None:
    agent = {"Authorization": f"Bearer {keys['agent']}"}
    assert client.post("/v1/alerts", json=alert(), headers=agent).status_code == 201
    beat = {"agent": "laptop-17", "host": "laptop-17.example.org", "interval_s": 60}
    assert client.post("/v1/agents/heartbeat", json=beat, headers=agent).status_code == 204
    assert Browser(client).sign_in(keys["agent"]).status_code == 403  # a machine's key
    reviewer = signed_in(client, keys["reviewer"])
    listed = reviewer.get("/ui/alerts").text
    found = re.search(r'href="/ui/alerts/(\d+)"', listed)
    assert found, listed[:2000]
    alert_id = found.group(1)
    assert "laptop-17" in reviewer.get("/ui/agents").text
    dashboard = reviewer.get("/ui/").text
    assert '<li><b>1</b><a href="/ui/alerts">open alerts</a></li>' in dashboard
    assert '<li><b>0</b><a href="/ui/agents">silent agents</a></li>' in dashboard
    page = reviewer.get(f"/ui/alerts/{alert_id}")
    assert ">Acknowledge</button>" in page.text and "<img" not in page.text
    page = reviewer.post(f"/ui/alerts/{alert_id}/acknowledge", {"note": "on it"})
    assert f"Alert {alert_id} acknowledged." in page.text and "<dd>acknowledged</dd>" in page.text
    page = reviewer.post(f"/ui/alerts/{alert_id}/close", {"note": "wiped, user told"})
    assert "<dd>closed</dd>" in page.text and "wiped, user told" in page.text
    page = reviewer.post(f"/ui/alerts/{alert_id}/close", {"note": "again"})
    assert "already closed" in page.text  # 409 as a message


def test_search_pages_through_many_entries(
    client: TestClient, keys: dict[str, str], any_bank: Bank
) -> None:
    registry = default_registry()
    series = "a b&c"
    new = [NewEntry([registry.signal("md5", f"{i:032x}")], series=series) for i in range(1, 53)]
    any_bank.entries.add_many(new, actor="test")
    browser = signed_in(client, keys["peer"])
    first = browser.get("/ui/entries", params={"q": series}).text
    assert len(re.findall(r'<td><a href="/ui/entries/\d+">', first)) == 50
    found = re.search(r'href="(/ui/entries\?[^"]+)">Next page', first)
    assert found, first[-2000:]
    second = browser.get(found.group(1).replace("&amp;", "&")).text
    assert len(re.findall(r'<td><a href="/ui/entries/\d+">', second)) == 2


@pytest.fixture
def listed(
    any_bank: Bank, keys: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[TestClient, Path]:
    """A client of a service whose console keeps the block list in `tmp_path/list.db`."""
    path = tmp_path / "list.db"
    monkeypatch.setenv("HASHWARDEN_BLOCKLIST", str(path))
    app = create_app(ServiceSettings(), any_bank)
    return TestClient(app, base_url="http://127.0.0.1"), path


def test_the_block_list_page_says_when_it_is_not_configured(
    client: TestClient, keys: dict[str, str]
) -> None:
    answer = signed_in(client, keys["curator"]).get("/ui/blocklist")
    assert answer.status_code == 404
    assert "The block list is not configured" in answer.text


@pytest.mark.parametrize("role", ["reviewer", "peer"])
def test_only_curators_and_admins_see_the_block_list(
    listed: tuple[TestClient, Path], keys: dict[str, str], role: str
) -> None:
    client, path = listed
    with BlockList.open(path, create=True) as store:
        store.add("domain", "listed.example")
    browser = signed_in(client, keys[role])
    answer = browser.get("/ui/blocklist")
    assert answer.status_code == 403 and "listed.example" not in answer.text
    browser.get("/ui/")
    assert (
        browser.post("/ui/blocklist", {"kind": "domain", "value": "x.example"}).status_code == 403
    )
    with BlockList.open(path) as store:
        assert [e.expression for e in store.entries()] == ["listed.example/"]


def test_curator_adds_searches_removes_and_expires_block_list_entries(
    listed: tuple[TestClient, Path], keys: dict[str, str], any_bank: Bank
) -> None:
    client, path = listed
    browser = signed_in(client, keys["curator"])
    assert "The block list is empty." in browser.get("/ui/blocklist").text
    ahead = (date.today() + timedelta(days=30)).isoformat()
    page = browser.post(
        "/ui/blocklist",
        {"kind": "domain", "value": "Bad.Example", "reason": "R1", "expires": ahead},
    )
    assert page.status_code == 200 and "Added domain bad.example/." in page.text
    page = browser.post("/ui/blocklist", {"kind": "url", "value": "http://other.example/a?b=1"})
    assert "Added url other.example/a?b=1." in page.text
    found = browser.get("/ui/blocklist", params={"q": "bad"})
    assert "bad.example/" in found.text and "other.example/a" not in found.text.split("<h2>")[0]
    assert "R1" in found.text and ahead in found.text
    kinds = browser.get("/ui/blocklist", params={"kind": "url"}).text
    assert "other.example/a?b=1" in kinds.split("Add an entry")[0]
    assert "bad.example/" not in kinds.split("Add an entry")[0]
    # The published versions name both changes.
    assert re.search(r'<td class="n">2</td><td>add</td><td>url</td>', found.text)
    # Listed already: a message, nothing added.
    page = browser.post("/ui/blocklist", {"kind": "domain", "value": "bad.example"})
    assert page.status_code == 200 and "is listed already" in page.text
    page = browser.post(
        "/ui/blocklist/remove",
        {"kind": "domain", "expression": "bad.example/", "back": "/ui/blocklist?q=bad"},
    )
    assert page.status_code == 200 and "Removed domain bad.example/." in page.text
    with BlockList.open(path) as store:
        assert [e.expression for e in store.entries()] == ["other.example/a?b=1"]
        assert store.version == 3
    # Nothing due to expire: none removed.
    page = browser.post("/ui/blocklist/expire")
    assert "0 expired entries removed." in page.text
    # Audited under the key's name, by digest: the bank never holds the name in clear.
    actions = [(e.actor, e.action, json.dumps(e.detail)) for e in any_bank.audit.events()]
    mine = [(actor, action) for actor, action, _ in actions if action.startswith("blocklist.")]
    assert ("curator-key", "blocklist.add") in mine and ("curator-key", "blocklist.remove") in mine
    assert not any("example" in details for _, _, details in actions)


def test_block_list_entries_whose_day_has_come_are_expired(
    listed: tuple[TestClient, Path], keys: dict[str, str]
) -> None:
    client, path = listed
    with BlockList.open(path, create=True) as store:
        store.add("domain", "new.example")
        store.add("domain", "old.example", expires="2000-01-01")  # a change expires it
    browser = signed_in(client, keys["admin"])
    assert "old.example/" in browser.get("/ui/blocklist").text
    page = browser.post("/ui/blocklist/expire")
    assert "1 expired entries removed." in page.text
    with BlockList.open(path) as store:
        assert [e.expression for e in store.entries()] == ["new.example/"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "domain", "value": ""}, "Give the domain, prefix or URL to block."),
        ({"kind": "domain", "value": "a.example", "expires": "soon"}, "Expires: give a day"),
        ({"kind": "domain", "value": "a.example", "expires": "2000-01-01"}, "Expires: give a"),
        ({"kind": "planet", "value": "a.example"}, "kind must be one of"),
        ({"kind": "prefix", "value": "a.example/x?y=1"}, "a prefix has no query"),
        ({"kind": "domain", "value": "not a domain!"}, ""),
    ],
)
def test_wrong_block_list_input_is_a_message(
    listed: tuple[TestClient, Path], keys: dict[str, str], fields: dict[str, str], message: str
) -> None:
    client, path = listed
    browser = signed_in(client, keys["curator"])
    browser.get("/ui/blocklist")
    page = browser.post("/ui/blocklist", fields)
    assert page.status_code == 200 and 'class="flash flash-error"' in page.text
    assert message in page.text
    removed = browser.post("/ui/blocklist/remove", {"kind": "domain", "expression": "a.example"})
    assert removed.status_code < 500 and 'class="flash flash-error"' in removed.text
    assert browser.get("/ui/blocklist", params={"kind": "planet"}).status_code == 422
    assert not path.exists() or not list(BlockList.open(path).entries())


def test_the_block_list_pages_through_its_entries(
    listed: tuple[TestClient, Path], keys: dict[str, str]
) -> None:
    client, path = listed
    with BlockList.open(path, create=True) as store:
        store.add_many([("domain", f"site{i:03}.example") for i in range(120)])
    browser = signed_in(client, keys["curator"])
    seen: list[str] = []
    page = browser.get("/ui/blocklist")
    for _ in range(5):
        listed_part = page.text.split("Add an entry")[0]
        seen += re.findall(r'<td class="hash">(site\d+\.example/)</td>', listed_part)
        more = re.search(r'href="(/ui/blocklist\?[^"]*after=[^"]*)">Next page', page.text)
        if not more:
            break
        page = browser.get(more.group(1).replace("&amp;", "&"))
    assert seen == [f"site{i:03}.example/" for i in range(120)]


def test_a_form_to_the_block_list_without_its_csrf_token_changes_nothing(
    listed: tuple[TestClient, Path], keys: dict[str, str]
) -> None:
    client, path = listed
    signed_in(client, keys["curator"]).get("/ui/blocklist")
    answer = client.post("/ui/blocklist", data={"kind": "domain", "value": "forged.example"})
    assert answer.status_code == 403 and "security token" in answer.text
    assert not path.exists()


@pytest.mark.parametrize("role", ["reviewer", "curator", "admin"])
def test_statistics_show_the_charts_of_a_period(
    client: TestClient, keys: dict[str, str], any_bank: Bank, role: str
) -> None:
    record_events(
        any_bank,
        [
            Event("web", "known", "csam-a", count=3, at="2026-03-01T12:00:00Z"),
            Event("device", "new", None, at="2026-04-02T12:00:00Z"),
            Event("web", "known", "csam-b", at="2025-01-01T12:00:00Z"),
        ],
    )
    browser = signed_in(client, keys[role])
    page = browser.get("/ui/statistics", params={"from": "2026-01-01", "to": "2026-12-31"})
    assert page.status_code == 200
    assert page.text.count("<svg") == 5 and "<img" not in page.text
    assert " style=" not in page.text and "<style" not in page.text and "data:" not in page.text
    assert re.search(r"<b>4</b>detections", page.text)
    assert re.search(r"<td>csam-a</td><td class=\"n\">3</td>", page.text)
    assert "csam-b" not in page.text  # outside the period
    assert page.headers["content-security-policy"] == CSP


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ({"from": "yesterday"}, "From: &#39;yesterday&#39; is not a date"),
        ({"to": "2026-13-01"}, "To: &#39;2026-13-01&#39; is not a date"),
        ({"from": "2026-05-01", "to": "2026-04-01"}, "is before From"),
        ({"from": "1900-01-01", "to": "2026-01-01"}, "A period is at most"),
    ],
)
def test_a_wrong_period_is_a_message(
    client: TestClient, keys: dict[str, str], period: dict[str, str], message: str
) -> None:
    page = signed_in(client, keys["reviewer"]).get("/ui/statistics", params=period)
    assert page.status_code == 422 and message in page.text and "<svg" not in page.text


def test_form_fields_carry_their_attributes_unescaped(
    client: TestClient, keys: dict[str, str]
) -> None:
    """A field's extra attributes are markup, not text: a threshold's bounds hold in the
    browser and a hash field turns autocompletion off (axe-core flagged the escaped form)."""
    admin = signed_in(client, keys["admin"])
    banks = admin.get("/ui/banks").text
    assert 'id="new-threshold" name="threshold" value="" min="0" max="256">' in banks
    assert admin.post("/ui/banks", {"name": "hotline"}).status_code == 200
    entries = admin.get("/ui/entries").text
    assert 'spellcheck="false" autocomplete="off"' in entries
    assert 'min="1"' in admin.get("/ui/keys").text
    assert "&#34;" not in banks + entries


def matches_today(page: Response) -> int:
    found = re.search(r"<b>(\d+)</b>matches today", page.text)
    assert found, page.text[:3000]
    return int(found.group(1))


def test_the_dashboard_counts_the_matches_answered_today(
    any_bank: Bank, keys: dict[str, str]
) -> None:
    """Every look-up answered with a match counts (an upload's or hashes' match, HMA's raw
    look-up, each banked hash of a hashlookup look-up); misses and known-good hashes do not.
    The count waits in memory (no write per match) until the worker's next flush."""
    app = create_app(ServiceSettings(tally_flush_s=3600), any_bank)
    client = TestClient(app, base_url="http://127.0.0.1")
    admin = signed_in(client, keys["admin"])
    assert matches_today(admin.get("/ui/")) == 0
    admin.get("/ui/banks")
    assert admin.post("/ui/banks", {"name": "hotline"}).status_code == 200
    md5 = "b" * 32
    for kind, value in (("pdq", PDQ), ("md5", md5)):
        admin.get("/ui/entries")
        added = admin.post(
            "/ui/entries", {"bank": "hotline", "kind": kind, "value": value, "category": "csam-a"}
        )
        assert "added." in added.text
    matcher = {"Authorization": f"Bearer {keys['matcher']}"}
    for signals, found in (({"pdq": PDQ}, True), ({"md5": "d" * 32}, False)):
        answer = client.post("/v1/match/hashes", json={"signals": signals}, headers=matcher)
        assert bool(answer.json()["matches"]) is found, answer.text
    raw = client.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": PDQ}, headers=matcher)
    assert raw.status_code == 200 and raw.json()["matches"], raw.text
    assert client.get(f"/hashlookup/lookup/md5/{md5}", headers=matcher).status_code == 200
    assert client.get(f"/hashlookup/lookup/md5/{'c' * 32}", headers=matcher).status_code == 404
    bulk = client.post(
        "/hashlookup/bulk/md5", json={"hashes": [md5, "c" * 32, md5]}, headers=matcher
    )
    assert len(bulk.json()) == 2, bulk.text
    expected = 1 + 1 + 1 + 2

    assert matches_today(admin.get("/ui/")) == expected
    assert any_bank.db.query("SELECT COUNT(*) FROM match_days")[0][0] == 0  # nothing written
    app.state.hashwarden.tally.flush()
    assert any_bank.db.query("SELECT SUM(matches) FROM match_days")[0][0] == expected
    assert matches_today(admin.get("/ui/")) == expected  # written once, counted once
    assert matches_today(signed_in(client, keys["reviewer"]).get("/ui/")) == expected
    assert "matches today" not in signed_in(client, keys["peer"]).get("/ui/").text
