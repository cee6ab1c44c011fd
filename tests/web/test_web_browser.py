"""The UI in real headless Chromium (Debian ``chromium`` + ``chromium-driver``) against waitress.

Proves that archived <script>/onerror payloads never run: the page's CSP forbids scripts and
the templates escape; a sentinel script would change document.title or set a global.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest
from waitress import create_server

from archiver.web import create_app

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("ARCHIVER_TEST_ARTIFACTS", "test-artifacts"))

pytestmark = pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
                                reason="needs the Debian chromium and chromium-driver packages")


@pytest.fixture(scope="module")
def server(archive):
    app = create_app(archive, environ={"ARCHIVER_WEB_SECRET": "browser-test-secret"})
    srv = create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.effective_port}"
    srv.close()


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(tmp_path_factory, downloads):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1200,1400", f"--user-data-dir={tmp_path_factory.mktemp('chrome-profile')}"):
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    driver = webdriver.Chrome(options=opts, service=Service(DRIVER))
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def _log_in(browser, server, name):
    browser.delete_all_cookies()
    browser.get(f"{server}/login")
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "password").send_keys("correct horse battery staple")
    browser.find_element(By.ID, "login").click()
    # a click does not wait for the navigation it starts
    WebDriverWait(browser, 10).until(lambda b: "/login" not in b.current_url)


def _set_date(browser, field, value):
    # <input type="date"> takes keystrokes in the locale's order; set the value directly.
    browser.execute_script("arguments[0].value = arguments[1]", browser.find_element(By.ID, field), value)


def test_legal_user_searches_views_hostile_item_and_downloads_csv(browser, server, downloads, archive, web):
    _log_in(browser, server, "legal")
    assert "Search the archive" in browser.page_source
    _set_date(browser, "from", "2000-01-01")
    _set_date(browser, "to", "2099-12-31")
    browser.find_element(By.ID, "go").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "summary"))
    assert "items match" in browser.find_element(By.ID, "summary").text
    hits = browser.find_elements(By.CSS_SELECTOR, "li.hit")
    assert len(hits) >= 10

    # The hidden comment is "<script>alert('xss')</script> nice try", the deleted one carries an
    # <img onerror=alert(1)>, and HOSTILE_TEXT sets document.title and a global. Open each:
    # nothing may run (no alert open, title unchanged, no global set, no live elements).
    for where in ("status = 'hidden' AND account = 'sample-facebook'",
                  "status = 'deleted' AND account = 'sample-facebook'", "author = 'Mallory'"):
        browser.get(f"{server}/item/{web.item_id(archive, where)}")
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text
        text = browser.find_element(By.ID, "item-text").text
        assert "<script>" in text or "onerror" in text  # shown as text
        assert browser.find_elements(By.CSS_SELECTOR, "#item-text *") == []
        assert "pwned" not in browser.title
        assert browser.execute_script("return window.__xss_ran === undefined")

    # Its thread page (the post) lists the hostile comments as text too.
    edited = web.item_id(archive, "status = 'edited' AND account = 'sample-facebook'")
    browser.get(f"{server}/item/{edited}")
    diff = browser.find_element(By.ID, "versions")
    assert diff.find_elements(By.TAG_NAME, "ins"), "edited post shows inserted words"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "item-page.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000

    # Archived media is served from the WARC records (same origin, allowed by the CSP) and decodes.
    first_post = web.item_id(archive, "kind = 'post' ORDER BY rowid")  # carries the test PNG
    browser.get(f"{server}/item/{first_post}")
    assert browser.execute_script(
        "return [...document.images].some(i => i.complete && i.naturalWidth === 24)"), "archived PNG did not load"
    mallory = web.item_id(archive, "author = 'Mallory'")
    browser.get(f"{server}/item/{mallory}")
    browser.save_screenshot(str(ARTIFACTS / "hostile-item-page.png"))

    # Download the CSV of a result set.
    browser.get(f"{server}/?status=hidden&status=deleted")
    browser.find_element(By.ID, "download-csv").click()
    target = downloads / "search-results.csv"
    for _ in range(100):
        if target.exists() and target.stat().st_size:
            break
        time.sleep(0.05)
    body = target.read_text(encoding="utf-8-sig")
    assert body.startswith("id,platform,account") and "Troll Account" in body


def test_script_payload_would_be_detected(browser, server, archive):
    """The probe can fail: a page that *does* run script flips the title (control for the test above)."""
    browser.get("data:text/html,<title>t</title><script>document.title='ran'</script>")
    assert browser.title == "ran"


def test_viewer_is_refused_export_and_hold(browser, server):
    _log_in(browser, server, "viewer")
    browser.get(f"{server}/?q=closure")
    assert browser.find_elements(By.ID, "download-csv") == []
    browser.get(f"{server}/export.csv?q=closure")
    assert "may not do this" in browser.find_element(By.ID, "error").text



def _start_export(browser, server, archive, role, button, form, fields, go, match):
    """From a search's results, fill the export form, follow the job page until it is done;
    the job and its row's text."""
    from archiver.exporters.jobs import list_jobs
    from archiver.index import open_index

    _log_in(browser, server, role)
    browser.get(f"{server}/?q=closure&account=sample-facebook")
    browser.find_element(By.ID, button).click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, f"{form}-form"))
    assert "closure" in browser.find_element(By.ID, f"{form}-query").text
    for field, value in fields.items():
        browser.find_element(By.ID, field).send_keys(value)
    browser.find_element(By.ID, go).click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "outcome"))
    assert "started as job" in browser.find_element(By.ID, "outcome").text
    browser.find_element(By.ID, "to-jobs").click()
    job = next(j for j in list_jobs(open_index(archive.index_path)) if match(j["params"]))

    def finished(b):  # the page reloads itself (meta refresh) until the job is over
        cells = b.find_elements(By.ID, f"job-{job['id']}-status")
        return cells and cells[0].text.lower() in ("done", "failed") and cells[0].text.lower()

    assert WebDriverWait(browser, 180, poll_frequency=0.5).until(finished) == "done"
    return job, browser.find_element(By.ID, f"job-{job['id']}").text


def _download_matches_the_page(browser, downloads, job) -> None:
    """The download is the zip the page describes (its sha256), saved by the browser."""
    sha = browser.find_element(By.ID, f"job-{job['id']}-sha256").text
    link = browser.find_element(By.ID, f"job-{job['id']}-download")
    name = link.text.removeprefix("Download ")
    link.click()
    target = downloads / name
    for _ in range(200):
        if target.exists() and not (downloads / (name + ".crdownload")).exists():
            break
        time.sleep(0.05)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == sha


def test_records_officer_starts_a_bundle_and_sees_the_job_finish(browser, server, archive, downloads):
    import bagit

    job, row = _start_export(browser, server, archive, "records", "start-bundle", "bundle",
                             {"request_id": "PRR-BROWSER-1", "requester": "Pat Requester"}, "bundle-go",
                             lambda p: p.get("request_id") == "PRR-BROWSER-1")
    assert job["output"] not in row and "/" not in row.split("sha256")[0].replace("thread(s)", "")  # no server path
    browser.save_screenshot(str(ARTIFACTS / "jobs-page.png"))
    bagit.Bag(job["output"]).validate()
    _download_matches_the_page(browser, downloads, job)


def test_legal_staff_start_a_production_and_download_it(browser, server, archive, downloads):
    from archiver.exporters.verify import verify

    job, row = _start_export(browser, server, archive, "legal", "start-production", "production",
                             {"matter": "Browser v. City", "bates_prefix": "BRW-"}, "production-go",
                             lambda p: p.get("matter") == "Browser v. City")
    assert "production" in row and "Browser v. City" in row and "Bates BRW-0000001" in row
    browser.save_screenshot(str(ARTIFACTS / "jobs-page-production.png"))
    assert verify(job["output"]).ok
    _download_matches_the_page(browser, downloads, job)
