"""Take the README's screenshots from the demo archive with headless Chromium.

    .venv/bin/python scripts/screenshots.py        # writes docs/images/web-search.png, bundle-record.png

It builds a fresh demo archive in a temporary directory, exports the tour's request bundle,
starts `archiver serve` on a free loopback port, logs in as a records officer with Selenium
(the test extras) and photographs the search page; the bundle's first record is photographed
with `chromium --headless --screenshot` straight from the file.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SIZE = (1280, 900)
PASSWORD = "screenshots only, never used again"


def archiver(*args: str, env: dict, stdin: str | None = None) -> str:
    res = subprocess.run([sys.executable, "-m", "archiver", *args], env=env, input=stdin, capture_output=True,
                         text=True, timeout=300)
    if res.returncode != 0:
        raise SystemExit(f"archiver {' '.join(args)} failed: {res.stderr}")
    return res.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "archiver-demo"
        env = {**os.environ, "ARCHIVER_CONFIG": str(demo / "archiver.toml"),
               "ARCHIVER_WEB_SECRET": os.urandom(16).hex()}
        archiver("demo", "--dir", str(demo), env=env)
        archiver("users", "add", "rita", "--role", "records", "--password-stdin", env=env, stdin=PASSWORD + "\n")
        bundle = demo / "PRR-2026-001"
        archiver("export", "request", "--request-id", "PRR-2026-001", "--requester", "Jane Q. Public",
                 "--received", "2026-03-02", "--from", "2020-01-01", "--to", "2030-12-31", "--account",
                 "sample-facebook", "--query", "closure", "--out", str(bundle), env=env)
        record = sorted((bundle / "data" / "records").glob("*.html"))[0]
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--screenshot={IMAGES / 'bundle-record.png'}", f"--window-size={SIZE[0]},{SIZE[1]}",
                        record.as_uri()], check=True, capture_output=True, timeout=120)

        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "archiver", "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            opts = webdriver.ChromeOptions()
            opts.binary_location = CHROMIUM
            for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--window-size={SIZE[0]},{SIZE[1]}"):
                opts.add_argument(arg)
            browser = webdriver.Chrome(service=Service(DRIVER), options=opts)
            try:
                browser.get(f"{base}/login")
                browser.find_element(By.ID, "name").send_keys("rita")
                browser.find_element(By.ID, "password").send_keys(PASSWORD)
                browser.find_element(By.ID, "login").click()
                browser.get(f"{base}/?q=closure")
                browser.save_screenshot(str(IMAGES / "web-search.png"))
            finally:
                browser.quit()
        finally:
            server.terminate()
            server.wait(timeout=30)
    for name in ("web-search.png", "bundle-record.png"):
        print(f"wrote {IMAGES / name} ({(IMAGES / name).stat().st_size} bytes)")


if __name__ == "__main__":
    main()
