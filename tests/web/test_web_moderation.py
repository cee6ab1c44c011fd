"""The moderation record in real headless Chromium: a records officer records why a comment was
removed, a viewer reads the report, and removed and kept comments are compared side by side."""

from __future__ import annotations

import pytest

from archiver.index import open_index

from .test_web_browser import ARTIFACTS, _log_in, browser, downloads, server  # noqa: F401 (fixtures)

selenium = pytest.importorskip("selenium")
from selenium.common.exceptions import (NoSuchElementException, StaleElementReferenceException,  # noqa: E402
                                        WebDriverException)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def _hidden_facebook_comment(archive) -> str:
    db = open_index(archive.index_path)
    return db.conn.execute("SELECT id FROM items WHERE platform = 'facebook' AND status = 'hidden' "
                           "AND kind != 'post' LIMIT 1").fetchone()[0]


def test_records_officer_records_a_reason_and_the_report_shows_it(browser, server, archive):
    item = _hidden_facebook_comment(archive)
    _log_in(browser, server, "records")
    browser.get(f"{server}/moderation?from=2000-01-01&to=2999-12-31")
    row = browser.find_element(By.ID, f"item-{item}")
    assert "No reason recorded" in row.text and "Hidden by the Page" in row.text
    Select(row.find_element(By.NAME, "category")).select_by_value("threats")
    row.find_element(By.NAME, "note").send_keys("threatened an officer <b>")
    row.find_element(By.NAME, "decided_by").send_keys("Lt. Example")
    row.find_element(By.CSS_SELECTOR, "form.reason button").click()
    # The form posts and the server redirects back to the row (#item-ID): wait for that page to
    # finish loading before reading it (the old page's nodes go stale meanwhile).
    WebDriverWait(browser, 15, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException,
                                                   WebDriverException)).until(
        lambda b: f"#item-{item}" in b.current_url and b.execute_script("return document.readyState") == "complete")
    WebDriverWait(browser, 10, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException,
                                                   WebDriverException)).until(
        lambda b: "Threats or incitement" in b.find_element(By.ID, f"item-{item}").text)
    row = browser.find_element(By.ID, f"item-{item}")
    assert "decided by Lt. Example; recorded by records" in row.text and "threatened an officer <b>" in row.text
    assert "pwned" not in browser.title
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "moderation.png"))
    db = open_index(archive.index_path)
    assert db.conn.execute("SELECT recorded_by, decided_by FROM moderation_reasons WHERE item_id = ?",
                           (item,)).fetchone() == ("records", "Lt. Example")
    assert db.conn.execute("SELECT count(*) FROM audit_log WHERE action = 'moderation.reason' "
                           "AND actor = 'records'").fetchone()[0] >= 1


def test_viewer_reads_the_report_but_cannot_record(browser, server, archive):
    _log_in(browser, server, "viewer")
    browser.get(f"{server}/moderation?from=2000-01-01&to=2999-12-31")
    assert browser.find_elements(By.CSS_SELECTOR, "form.reason") == []
    assert "without a recorded reason" in browser.find_element(By.ID, "summary").text
    assert "Spam Bot 3000" in browser.find_element(By.ID, "moderation").text
    assert browser.find_element(By.ID, "report-pdf").get_attribute("href").endswith(".pdf?from=2000-01-01&to=2999-12-31")


def test_consistency_view_puts_removed_and_kept_comments_side_by_side(browser, server, archive):
    _log_in(browser, server, "viewer")
    browser.get(f"{server}/moderation/consistency?from=2000-01-01&to=2999-12-31&words=there OR nice OR salary")
    removed = browser.find_element(By.ID, "removed").text
    kept = browser.find_element(By.ID, "kept").text
    assert "nice try" in removed and "See you there!" in removed
    assert "Removed (" in removed and "Kept (" in kept
    assert "pwned" not in browser.title
    browser.save_screenshot(str(ARTIFACTS / "moderation-consistency.png"))
