"""Retention schedules, legal holds and disposition under Wisconsin law (docs/readme/retention.md).

    schedule     parse and validate a schedule file (schedules/*.toml), refused whole if wrong
    dates        offsets (leap days), CR/EVT/FIS triggers, Wisconsin business days (19.345)
    assign       which series governs each item and its disposition date; overrides; recompute
    selection    the `search` filters shared by holds, requests and overrides
    holds        legal holds and records-request holds (19.35(5))
    objectlock   retain-until and legal holds on the stored objects (S3 Object Lock)
    eligibility  what may be destroyed on a day, whole objects only, and why not
    disposition  plan -> Historical Society notice -> approve -> apply (dry run by default)
    certificate  the certificate of destruction (JSON + PDF) and the WHS notice letter
    report       `retention report` / `retention show`

The capture pipeline calls ``assign.assign_new_items(db, settings, store=..., now=...)`` after
every ingest; ``show ID`` adds ``assign.show_section``.
"""
