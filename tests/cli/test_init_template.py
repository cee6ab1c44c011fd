"""`archiver init` writes a config a department fills in: placeholders, never a real agency,
and every section of the settings."""

from __future__ import annotations

import re
import tomllib

from archiver.config import SETTINGS, load_settings
from tests.helpers import run_cli


def test_init_writes_a_template_with_placeholders_and_every_section(tmp_path):
    res = run_cli("init", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "archiver.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert data["archive"]["agency"] == "Example Police Department"
    assert "REPLACE" in text and "Oak Creek" not in text and "OCPD" not in text
    # Every section of the settings is there (set, or commented with its keys).
    sections = {s.section for s in SETTINGS.values()}
    written = set(re.findall(r"^\[(\w+)\]$", text, flags=re.M))
    assert sections <= written, sections - written
    assert {"fees", "web", "log", "retention"} <= written
    # Every key written or commented out is a real setting (no typo to copy).
    current = None
    for line in text.splitlines():
        if m := re.match(r"^#? ?\[\[?(\w+)\]\]?$", line):
            current = m.group(1) if m.group(1) != "accounts" else None
        elif (m := re.match(r"^#? ?(\w+) = ", line)) and current:
            assert f"{current}.{m.group(1)}" in SETTINGS, (current, line)
    settings = load_settings(tmp_path / "archiver.toml", environ={})
    assert settings.agency == "Example Police Department" and settings["archive.custodian_name"] == "Jane Doe"
