"""The console through FastAPI's TestClient: sign-in, roles, CSRF, sessions, headers, 4xx."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from hashwarden.bank import Bank
from hashwarden.bank.base import NewEntry
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
        ("reviewer", {"Dashboard", *WATCH}, {"Banks", "Entries", "Rules", "Keys"}),
        ("curator", {"Dashboard", "Banks", "Entries"}, {*WATCH, "Rules", "Keys"}),
        ("peer", {"Dashboard", "Banks", "Entries"}, {*WATCH, "Rules", "Keys"}),
        ("admin", {"Dashboard", "Banks", "Entries", *WATCH, "Rules", "Keys"}, set()),
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
    paths |= {"Alerts": "/ui/alerts", "Agents": "/ui/agents"}
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
