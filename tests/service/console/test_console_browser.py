"""The console in a real browser: Debian's Chromium driven by Playwright for Python against a
real `hashwarden serve` on loopback. Each role signs in and sees only its pages; a curator
adds an entry by file, finds it by each of its hashes, edits and removes it; a reviewer
confirms and rejects report drafts made by real matches (counted in the dashboard's matches
today) and acknowledges an endpoint alert; an admin creates and revokes a key; a session ends; a form without its CSRF token is refused. Every request stays on 127.0.0.1,
no page logs a console error, and every page passes axe-core's accessibility rules (the copy
of `axe.min.js`, MPL-2.0, that the axe-playwright-python test dependency ships) with no
violation of impact serious or critical, nor a heading out of order.

Set HASHWARDEN_SCREENSHOTS to a folder (docs/console) to keep screenshots of the main pages.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from hashwarden.bank import create_bank, open_bank
from hashwarden.service.keys import create_key
from hashwarden.signals.hashing import hash_bytes

from ..conftest import png
from ..test_alerts import alert

#: Starts real servers or processes: skipped by `make test-fast`.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium (deps/apt.txt)"),
]

#: axe-core, injected into each page checked (Playwright's evaluate is not subject to the CSP).
AXE = Axe()
#: What fails a page: axe's serious and critical violations (missing labels, contrast, names
#: of buttons and links, ...) and the moderate rules the issue names (headings in order).
FAILING_IMPACTS = {"serious", "critical"}
FAILING_RULES = {"heading-order", "page-has-heading-one", "empty-heading", "label-title-only"}
# Flags for a sandboxed root user on a closed network (no background connections at all).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    base: str
    keys: dict[str, str]
    location: str
    image: bytes
    offsite: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A real `serve` (one worker) over a SQLite bank (the TestClient tests cover PostgreSQL)."""
    bank = create_bank(tmp_path / "bank.db")
    keys = {role: create_key(bank, f"{role}-1", role) for role in ROLES_SIGNING_IN}
    keys["matcher"] = create_key(bank, "matcher-1", "matcher")
    keys["agent"] = create_key(bank, "agent-1", "agent")
    location = str(bank.location)
    bank.close()
    port = _free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "hashwarden", "serve", "--bank", location),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, "HASHWARDEN_BLOCKLIST": str(tmp_path / "blocklist.db")},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(300):
                try:
                    if client.get("/status").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            admin = {"Authorization": f"Bearer {keys['admin']}"}
            rule = {"name": "report everything", "report": True}
            made = client.post("/v1/actions/rules", json=rule, headers=admin)
            assert made.status_code == 201, made.text
        yield Served(base, keys, location, png(11))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        assert server.stderr is not None
        log = server.stderr.read().decode("utf-8", "replace")
        server.stderr.close()
        # No client address is logged (the console's requests come from 127.0.0.1).
        assert "127.0.0.1:" not in log.replace(f"127.0.0.1:{port}", "")


ROLES_SIGNING_IN = ("reviewer", "curator", "peer", "admin")


@pytest.fixture
def browser(served: Served) -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(browser: Browser, served: Served) -> Page:
    """A page in a fresh context whose every request is checked to stay on the server."""
    context = browser.new_context(base_url=served.base, viewport={"width": 1366, "height": 900})

    def guard(route: Route) -> None:
        url = route.request.url
        if url.startswith(served.base + "/"):
            route.continue_()
        else:
            served.offsite.append(url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and served.errors.append(m.text))
    page.on("pageerror", lambda e: served.errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())
    return page


def check(page: Page, served: Served, shot: str | None = None) -> None:
    """The page (and those before it) logged no console error, passes axe-core's check, shows
    no image, and (if asked) is kept."""
    assert served.errors == [], (page.url, served.errors)
    problems = accessibility_problems(page)
    assert problems == [], (page.url, problems)
    assert page.locator("img, picture, canvas, video").count() == 0
    folder = os.environ.get("HASHWARDEN_SCREENSHOTS")
    if shot and folder:
        page.screenshot(path=str(Path(folder) / f"{shot}.png"), full_page=False)


def accessibility_problems(page: Page) -> list[str]:
    """axe-core's failing violations on the page, each with the elements it names."""
    violations = AXE.run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: {[n['target'] for n in v['nodes']]}"
        for v in violations
        if v["impact"] in FAILING_IMPACTS or v["id"] in FAILING_RULES
    ]


def refused(served: Served, status: int) -> None:
    """Forget the console error Chromium logs for a page refused on purpose."""
    expected = f"the server responded with a status of {status}"
    assert any(expected in e for e in served.errors), served.errors
    served.errors[:] = [e for e in served.errors if expected not in e]


def sign_in(page: Page, served: Served, role: str) -> None:
    page.goto("/ui/")
    page.get_by_label("API key").fill(served.keys[role])
    page.get_by_role("button", name="Sign in").click()


def go(page: Page, label: str) -> None:
    """Follow a link of the navigation bar."""
    page.get_by_role("navigation", name="Console").get_by_role("link", name=label).click()


def nav_links(page: Page) -> set[str]:
    nav = page.get_by_role("navigation", name="Console")
    return {t.strip() for t in nav.get_by_role("link").all_inner_texts()}


def test_the_console_in_a_browser(browser: Browser, served: Served) -> None:
    # A matcher's key is a machine's: it cannot sign in.
    page = open_page(browser, served)
    page.goto("/ui/")
    check(page, served, "sign-in")
    sign_in(page, served, "matcher")
    expect(page.get_by_role("alert")).to_contain_text("cannot sign in to the console")
    refused(served, 403)
    check(page, served)

    # Each role sees only its pages.
    seen = {
        "reviewer": {"Dashboard", "Reports", "Alerts", "Agents", "Statistics"},
        "peer": {"Dashboard", "Banks", "Entries"},
        "curator": {"Dashboard", "Banks", "Entries", "Block list", "Statistics"},
        "admin": {"Dashboard", "Banks", "Entries", "Reports", "Alerts", "Agents", "Rules", "Keys"}
        | {"Block list", "Statistics"},
    }
    for role, links in seen.items():
        page = open_page(browser, served)
        sign_in(page, served, role)
        expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
        assert nav_links(page) == links, role
        for label in sorted(links):
            page.get_by_role("navigation", name="Console").get_by_role("link", name=label).click()
            expect(page.get_by_role("heading", level=1)).to_have_text(label)
            check(page, served)
        if "Keys" not in links:
            page.goto("/ui/keys")
            expect(page.get_by_role("alert")).to_contain_text(f"The {role} role may not")
            refused(served, 403)
            check(page, served)

    # A curator: a bank, an entry by file, found by each of its hashes, edited, removed.
    curator = open_page(browser, served)
    sign_in(curator, served, "curator")
    check(curator, served, "dashboard")
    go(curator, "Banks")
    curator.get_by_label("Name").fill("hotline")
    curator.get_by_role("button", name="Create bank").click()
    expect(curator.get_by_role("status")).to_contain_text("Bank hotline created.")
    check(curator, served, "bank")
    go(curator, "Entries")
    curator.get_by_label("File", exact=True).set_input_files(
        {"name": "benign.png", "mimeType": "image/png", "buffer": served.image}
    )
    curator.locator("#file-category").select_option("csam-a")
    curator.get_by_role("button", name="Hash and add").click()
    expect(curator.get_by_role("status")).to_contain_text("added.")
    found = re.search(r"/ui/entries/(\d+)", curator.url)
    assert found, curator.url
    entry_id = found.group(1)
    check(curator, served, "entry")
    hashes = hash_bytes(served.image)
    for kind in ("md5", "sha1", "sha256", "pdq"):
        go(curator, "Entries")
        curator.get_by_label("Search").fill(getattr(hashes, kind).upper())
        curator.get_by_role("button", name="Search").click()
        expect(curator.get_by_role("link", name=entry_id, exact=True)).to_be_visible()
    check(curator, served, "entries")
    curator.get_by_role("link", name=entry_id, exact=True).click()
    curator.locator("#edit-category").select_option("csam-b")
    curator.get_by_label("Series").fill("series-7")
    curator.get_by_role("button", name="Save changes").click()
    expect(curator.get_by_role("status")).to_contain_text(f"Entry {entry_id} changed.")
    expect(curator.locator("dl.fields")).to_contain_text("series-7")
    check(curator, served)

    # Real matches make report drafts; a reviewer confirms one and rejects the other.
    with httpx.Client(base_url=served.base, timeout=30) as client:
        matcher = {"Authorization": f"Bearer {served.keys['matcher']}"}
        for ref in ("uploader-1", "uploader-2"):
            body = {"signals": {"pdq": hashes.pdq}, "uploader_ref": ref}
            found = client.post("/v1/match/hashes", json=body, headers=matcher)
            assert found.status_code == 200 and found.json()["matches"], found.text
    reviewer = open_page(browser, served)
    sign_in(reviewer, served, "reviewer")
    expect(reviewer.locator("li", has_text="matches today").locator("b")).to_have_text("2")
    for ref, button, done in (
        ("uploader-1", "Confirm", "confirmed"),
        ("uploader-2", "Reject", "rejected"),
    ):
        go(reviewer, "Reports")
        reviewer.get_by_role("row", name=re.compile(ref)).get_by_role("link").click()
        expect(reviewer.locator("dl.fields")).to_contain_text(ref)
        expect(reviewer.get_by_role("table").nth(1)).to_contain_text(hashes.pdq)
        check(reviewer, served, "report" if done == "confirmed" else None)
        reviewer.get_by_label("Note").fill(f"{done} in the browser test")
        reviewer.get_by_role("button", name=button, exact=True).click()
        expect(reviewer.get_by_role("status")).to_contain_text(done)
    check(reviewer, served, "reports")
    reviewer.get_by_role("link", name="Confirmed", exact=True).click()
    expect(reviewer.get_by_role("link", name=re.compile(r"Report \d+"))).to_have_count(1)

    # An endpoint agent's alert: the reviewer acknowledges it with a note.
    with httpx.Client(base_url=served.base, timeout=30) as client:
        agent = {"Authorization": f"Bearer {served.keys['agent']}"}
        sent = client.post("/v1/alerts", json=alert(), headers=agent)
        assert sent.status_code == 201, sent.text
    go(reviewer, "Alerts")
    reviewer.get_by_role("link", name=re.compile(r"^Alert \d+$")).first.click()
    check(reviewer, served)
    reviewer.get_by_label("Note").fill("on it, from the browser test")
    reviewer.get_by_role("button", name="Acknowledge", exact=True).click()
    expect(reviewer.get_by_role("status")).to_contain_text("acknowledged")
    expect(reviewer.locator("dl.fields")).to_contain_text("on it, from the browser test")

    # The curator removes the entry.
    curator.get_by_role("button", name=f"Remove entry {entry_id}").click()
    expect(curator.get_by_role("status")).to_contain_text("removed from the bank")
    check(curator, served)

    # A form posted without its CSRF token is refused and changes nothing.
    forged = curator.request.post(f"{served.base}/ui/banks", form={"name": "forged"})
    assert forged.status == 403 and "security token" in forged.text()
    go(curator, "Banks")
    expect(curator.get_by_role("link", name="forged")).to_have_count(0)

    # The curator blocks a domain, finds it and removes it; the statistics show the matches.
    go(curator, "Block list")
    curator.locator("#add-value").fill("Blocked.Example")
    curator.locator("#add-reason").fill("R1")
    curator.get_by_role("button", name="Add to the block list").click()
    expect(curator.get_by_role("status")).to_contain_text("Added domain blocked.example/.")
    curator.locator("#block-search").fill("blocked")
    curator.get_by_role("button", name="Search").click()
    expect(curator.get_by_role("row", name=re.compile("R1"))).to_have_count(1)
    check(curator, served, "blocklist")
    curator.get_by_role("button", name="Remove domain blocked.example/").click()
    expect(curator.get_by_role("status")).to_contain_text("Removed domain blocked.example/.")
    check(curator, served)
    go(reviewer, "Statistics")
    expect(reviewer.locator(".chart svg")).to_have_count(5)
    check(reviewer, served, "statistics")
    reviewer.locator("#stats-from").fill("2026-05-01")
    reviewer.locator("#stats-to").fill("2026-04-01")
    reviewer.get_by_role("button", name="Show").click()
    expect(reviewer.get_by_role("alert")).to_contain_text("is before From")
    refused(served, 422)
    check(reviewer, served)

    # An admin creates a key (shown once) and revokes it.
    admin = open_page(browser, served)
    sign_in(admin, served, "admin")
    go(admin, "Keys")
    admin.get_by_label("Name").fill("night-shift")
    admin.locator("#key-role").select_option("reviewer")
    admin.get_by_role("button", name="Create key").click()
    expect(admin.locator("#new-key")).to_contain_text("hw_")
    check(admin, served)  # no screenshot: it shows a key
    admin.get_by_role("button", name="Revoke key night-shift").click()
    expect(admin.get_by_role("status")).to_contain_text("Key night-shift revoked.")
    check(admin, served)

    # The admin's pages below the navigation bar pass the accessibility check too.
    go(admin, "Banks")
    admin.get_by_role("link", name="hotline", exact=True).click()
    expect(admin.get_by_role("heading", level=1)).to_contain_text("hotline")
    check(admin, served)
    go(admin, "Reports")
    admin.get_by_role("link", name="Confirmed", exact=True).click()
    check(admin, served)
    admin.get_by_role("link", name=re.compile(r"Report \d+")).click()
    expect(admin.locator("dl.fields")).to_contain_text("uploader-1")
    check(admin, served)
    go(admin, "Alerts")
    check(admin, served)
    admin.get_by_role("link", name="Acknowledged", exact=True).click()
    admin.get_by_role("link", name=re.compile(r"^Alert \d+$")).first.click()
    check(admin, served)
    admin.goto("/ui/entries/999999")
    expect(admin.get_by_role("alert")).to_be_visible()
    refused(served, 404)
    check(admin, served)
    admin.get_by_role("button", name="Sign out").click()
    expect(admin.get_by_label("API key")).to_be_visible()
    check(admin, served)

    # A session ends after its idle time (its last use moved back), and says so.
    with open_bank(served.location) as bank, bank.db.transaction() as db:
        db.execute("UPDATE console_sessions SET seen = ?", ("2000-01-01T00:00:00.000000Z",))
    go(curator, "Entries")
    expect(curator.get_by_role("alert")).to_contain_text("Your session has ended")
    expect(curator.get_by_label("API key")).to_be_visible()
    check(curator, served)

    assert served.offsite == []
    assert served.errors == []
