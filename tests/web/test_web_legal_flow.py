"""The city attorney's task in real headless Chromium: every comment mentioning a lawsuit on the
Facebook page in March that was deleted -- find it (word forms), hold it (ticked results), read
the thread, see the hold; the records officer logs the request; the admin checks the audit log.
Screenshots go to the test artifacts (docs/images/web-*.png are taken from these)."""

from __future__ import annotations

import re

import pytest

from archiver.index import open_index

from .test_web_browser import ARTIFACTS, _log_in, _set_date, browser, downloads, server  # noqa: F401

selenium = pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

MARCH = [  # platform_id, status, text
    ("lawsuit-1", "deleted", "The city will face Lawsuits over this stop, mark my words"),
    ("lawsuit-2", "deleted", "My lawyer is filing a lawsuit on Monday."),
    ("lawsuit-3", "live", "Is there a lawsuit? Asking for a neighbour."),
    ("lawsuit-4", "deleted", "Nothing to see here"),
]


@pytest.fixture(scope="module")
def march(archive):
    """Comments of March 2026 on the demo Facebook page, three mentioning a lawsuit."""
    db = open_index(archive.index_path)
    post = db.conn.execute("SELECT platform_id FROM items WHERE kind = 'post' AND account = 'sample-facebook' "
                           "ORDER BY rowid LIMIT 1").fetchone()[0]
    for n, (pid, status, text) in enumerate(MARCH):
        at = f"2026-03-{10 + n:02d}T15:00:00Z"
        db.conn.execute(
            "INSERT INTO items (id, account, platform, platform_id, kind, parent, root, author, text, created_at, "
            "status, first_seen, last_seen) VALUES (?, 'sample-facebook', 'facebook', ?, 'comment', ?, ?, ?, ?, ?, ?, ?, ?)",
            (f"march{n:011d}", pid, post, post, f"Resident {n}", text, at, status, at, at))
        if status == "deleted":
            rowid = db.conn.execute("SELECT rowid FROM items WHERE platform_id = ?", (pid,)).fetchone()[0]
            db.conn.execute("INSERT INTO events (item_rowid, at, event) VALUES (?, ?, 'deleted')",
                            (rowid, f"2026-03-{11 + n:02d}T06:00:00Z"))
    return archive


def _shot(browser, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"web-{name}.png"))


def test_march_lawsuit_search_hold_and_request(browser, server, march):  # noqa: F811
    _log_in(browser, server, "legal")
    browser.find_element(By.ID, "q").send_keys("lawsuit")
    _set_date(browser, "from", "2026-03-01")
    _set_date(browser, "to", "2026-03-31")
    browser.find_element(By.CSS_SELECTOR, "input[name=status][value=deleted]").click()
    browser.find_element(By.ID, "go").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "summary"))
    texts = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "li.hit .text")]
    assert len(texts) == 2 and any("Lawsuits" in t for t in texts)  # "lawsuit" finds "Lawsuits"
    assert browser.find_elements(By.CSS_SELECTOR, "li.hit .text mark")  # the match is highlighted
    search_url = browser.current_url
    _shot(browser, "search")

    # tick one result, name the hold, place it
    browser.find_element(By.ID, "tick-1").click()
    browser.find_element(By.ID, "hold_name").send_keys("Doe v. City (March lawsuit comments)")
    browser.find_element(By.ID, "place-hold").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "outcome"))
    assert "on 1 item" in browser.find_element(By.ID, "outcome").text
    _shot(browser, "hold-placed")
    browser.find_element(By.ID, "back").click()  # back to the same results
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "summary"))
    assert browser.current_url == search_url
    assert len(browser.find_elements(By.CSS_SELECTOR, "li.hit.held")) == 1

    # the holds page and the hold's items
    browser.get(f"{server}/holds")
    browser.find_element(By.LINK_TEXT, "Doe v. City (March lawsuit comments)").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "hold-items"))
    assert browser.find_element(By.ID, "hold-total").text == "1"
    _shot(browser, "hold")

    # the thread of a held comment reads as a conversation, records folded away
    browser.find_element(By.CSS_SELECTOR, "#hold-items a[href^='/item/']").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "thread"))
    assert browser.find_element(By.ID, "on-hold").is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, "#records ul").is_displayed()  # inside a closed <details>
    _shot(browser, "thread")

    # the records officer logs the request and sees its 19.35(5) hold
    _log_in(browser, server, "records")
    browser.get(f"{server}/requests")
    browser.find_element(By.ID, "request_id").send_keys("PRR-2026-044")
    browser.find_element(By.ID, "requester").send_keys("Pat Reporter")
    browser.find_element(By.ID, "description").send_keys("Deleted comments about a lawsuit, March 2026")
    _set_date(browser, "from", "2026-03-01")
    _set_date(browser, "to", "2026-03-31")
    browser.find_element(By.ID, "q").send_keys("lawsuit")
    browser.find_element(By.ID, "log-go").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "logged"))
    row = browser.find_element(By.XPATH, "//tr[td[text()='PRR-2026-044']]").text
    # The request's 19.35(5) hold covers the whole threads of the 3 matching comments.
    held = re.search(r"(\d+) item\(s\)", row)
    assert "OPEN" in row.upper() and held and int(held.group(1)) >= 3 and "Pat Reporter" in row
    _shot(browser, "requests")

    # the admin reads the audit log and checks the chain
    _log_in(browser, server, "admin")
    browser.get(f"{server}/audit?who=legal&what=hold")
    actions = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "td.action")]
    assert actions and set(actions) <= {"hold.placed", "hold.released"}
    browser.find_element(By.ID, "verify").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "chain-result"))
    assert "intact" in browser.find_element(By.ID, "chain-result").text
    _shot(browser, "audit")


def test_login_next_cannot_leave_the_site_in_chromium(browser, server, march):  # noqa: F811
    browser.delete_all_cookies()
    browser.get(f"{server}/login?next=/%09/evil.example/x")
    browser.find_element(By.ID, "name").send_keys("viewer")
    browser.find_element(By.ID, "password").send_keys("correct horse battery staple")
    browser.find_element(By.ID, "login").click()
    WebDriverWait(browser, 10).until(lambda b: "/login" not in b.current_url)
    assert browser.current_url.startswith(server + "/") and "evil" not in browser.current_url


@pytest.fixture(scope="module")
def clocked(archive):
    """A second server whose clock the test moves (throttling waits without sleeping)."""
    import threading

    from waitress import create_server

    from archiver.web import create_app

    from .conftest import Clock

    clock = Clock()
    app = create_app(archive, now=clock, environ={"ARCHIVER_WEB_SECRET": "clocked-secret"})
    srv = create_server(app, host="127.0.0.1", port=0, threads=2)
    threading.Thread(target=srv.run, daemon=True).start()
    yield f"http://127.0.0.1:{srv.effective_port}", clock
    srv.close()


def _attempt(browser, url, name, password):
    browser.get(f"{url}/login")
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "login").click()
    # the login page before the click has no banner: wait for the answer (a banner, or away)
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".banner.bad")
                                     or "/login" not in b.current_url)
    banner = browser.find_elements(By.CSS_SELECTOR, ".banner.bad")
    return banner[0].text if banner else ""


def test_login_throttle_and_lock_in_chromium(browser, clocked, archive):  # noqa: F811
    from archiver.web.users import add_user

    url, clock = clocked
    add_user(open_index(archive.index_path), "chromium-lock", "viewer", "correct horse battery staple")
    browser.delete_all_cookies()
    for _ in range(3):
        assert "Wrong name or password" in _attempt(browser, url, "chromium-lock", "wrong password")
    assert "wait 1 second" in _attempt(browser, url, "chromium-lock", "wrong password")
    for _ in range(7):  # failures 4..10, each after its wait has passed
        clock.advance(seconds=70)
        assert "Wrong name or password" in _attempt(browser, url, "chromium-lock", "wrong password")
    clock.advance(seconds=70)
    assert "locked" in _attempt(browser, url, "chromium-lock", "correct horse battery staple")
    assert "/login" in browser.current_url
    clock.advance(minutes=16)
    _attempt(browser, url, "chromium-lock", "correct horse battery staple")
    assert "/login" not in browser.current_url


def test_a_form_posted_from_another_site_is_refused_in_chromium(browser, server, march):  # noqa: F811
    _log_in(browser, server, "legal")
    browser.get(f"data:text/html,<form method=post action='{server}/logout'><input name=csrf_token value=x>"
                "</form><script>document.forms[0].submit()</script>")
    WebDriverWait(browser, 10).until(lambda b: b.current_url.startswith(server))
    assert "another site" in browser.page_source
    browser.get(f"{server}/")
    assert "/login" not in browser.current_url  # still logged in: the forged logout did nothing
