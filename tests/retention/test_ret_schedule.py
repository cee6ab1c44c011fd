"""Schedules as data: the shipped placeholder, and malformed files refused whole."""

from __future__ import annotations

import pytest

from archiver.config import load_settings
from archiver.errors import RetentionError
from archiver.retention.assign import assign_new_items
from archiver.retention.schedule import load_schedule, parse_schedule

GOOD = """\
[schedule]
name = "ocpd"
title = "Oak Creek PD social media"
version = "2024-03"
authority = "Ordinance 18-461"
default_series = "PD-SM-01"

[[series]]
code = "PD-SM-01"
title = "Department posts"
trigger = "CR"
offset = { years = 7 }
disposition = "destroy"
whs_notice = "notify"
citation = "Wis. Stat. 19.21(4)(b)"

[[series]]
code = "PD-SM-02"
title = "Public comments"
trigger = "CR"
offset = { years = 3, months = 6 }
disposition = "destroy-confidential"
whs_notice = "waived"
citation = "RDA 2024-7"

[[series]]
code = "PD-SM-03"
title = "Incident-linked posts"
trigger = "EVT"
event = "case closed"
offset = { years = 5 }
disposition = "destroy"
whs_notice = "notify"
citation = "RDA 2024-8"

[[series]]
code = "PD-SM-P"
title = "Chief's announcements"
trigger = "PERM"
citation = "RDA 2024-9"

[[rules]]
series = "PD-SM-02"
author = "public"
"""


def test_shipped_default_is_a_marked_placeholder():
    schedule = load_schedule(load_settings(None, environ={}))
    assert schedule.placeholder and "adopted" in schedule.placeholder_note
    series = schedule.series[schedule.default_series]
    assert (series.trigger, series.years, series.whs_notice, series.disposition) == ("CR", 7, "notify", "destroy")
    assert "19.21(4)(b)" in series.citation and series.notation == "CR+7"


def test_good_schedule_parses():
    s = parse_schedule(GOOD, "ocpd.toml")
    assert [x.notation for x in s.series.values()] == ["CR+7", "CR+3+6m", "EVT+5", "P"]
    assert s.series["PD-SM-P"].whs_notice == "n/a" and s.series["PD-SM-03"].event == "case closed"
    assert not s.placeholder and len(s.rules) == 1


@pytest.mark.parametrize("change, line, problem", [
    (('trigger = "CR"\noffset = { years = 7 }', 'trigger = "CRX"\noffset = { years = 7 }'), 11, "series[1].trigger: 'CRX' is not one of"),
    (('offset = { years = 3, months = 6 }', 'offset = { years = -3 }'), 21, "series[2].offset.years: must be a whole number"),
    (('whs_notice = "waived"', 'whs_notice = "maybe"'), 23, "series[2].whs_notice: must be one of notify, waived"),
    (('event = "case closed"\n', ''), 26, "series[3].event: an EVT series must name the event"),
    (('code = "PD-SM-02"', 'code = "PD-SM-01"'), 18, "is used by an earlier series"),
    (('series = "PD-SM-02"\nauthor', 'series = "PD-SM-99"\nauthor'), 43, "rules[1].series: 'PD-SM-99' is not a series"),
    (('author = "public"', 'author = "anyone"'), 44, "rules[1].author: must be department or public"),
    (('citation = "RDA 2024-7"', 'citation = ""'), 24, "series[2].citation: is required"),
    (('disposition = "destroy-confidential"', 'disposition = "shred"\ncolour = "red"'), 23, "series[2].colour: unknown key"),
])
def test_malformed_schedule_is_refused_with_line_and_problem(change, line, problem):
    old, new = change
    assert old in GOOD
    with pytest.raises(RetentionError) as err:
        parse_schedule(GOOD.replace(old, new, 1), "agency.toml")
    message = str(err.value)
    assert "nothing of it was loaded" in message
    assert f"agency.toml:{line}:" in message and problem in message, message


def test_toml_syntax_error_names_the_line():
    with pytest.raises(RetentionError, match=r"agency.toml: not valid TOML: .*line 3"):
        parse_schedule('[schedule]\nname = "x"\ntitle = \n', "agency.toml")


def test_every_problem_is_listed_at_once():
    bad = GOOD.replace('trigger = "EVT"', 'trigger = "SOON"').replace('whs_notice = "waived"', 'whs_notice = 1')
    with pytest.raises(RetentionError) as err:
        parse_schedule(bad, "agency.toml")
    assert "series[3].trigger" in str(err.value) and "series[2].whs_notice" in str(err.value)


def test_config_rules_are_checked_against_the_schedule(local_archive):
    archive = local_archive(schedule=GOOD, rules='[[rules]]\nseries = "NOPE"\nkind = "comment"\n')
    with pytest.raises(RetentionError, match=r"archiver.toml.*rules\[1\].series: 'NOPE'"):
        load_schedule(archive.settings)


def test_a_refused_schedule_is_never_half_loaded(local_archive):
    from tests.retention.conftest import T0

    archive = local_archive(schedule=GOOD)
    archive.add_object("a.warc.gz", [{"pid": "p1", "created": "2017-03-05T18:00:00Z"}])
    assign_new_items(archive.db, archive.settings, now=T0)
    before = archive.db.conn.execute("SELECT * FROM retention_assignments").fetchall()
    versions = archive.db.conn.execute("SELECT count(*) FROM retention_schedules").fetchone()[0]
    schedule_file = archive.tmp / "agency-schedule.toml"
    schedule_file.write_text(GOOD.replace("years = 7", "years = 2").replace('trigger = "PERM"', 'trigger = "NEVER"'))
    with pytest.raises(RetentionError):
        assign_new_items(archive.db, archive.settings, now=T0)
    assert archive.db.conn.execute("SELECT * FROM retention_assignments").fetchall() == before
    assert archive.db.conn.execute("SELECT count(*) FROM retention_schedules").fetchone()[0] == versions
