"""Retention schedules, legal holds and disposition under Wisconsin law (docs/requests-and-retention.md).

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

Every commit of a WARC file runs ``assign.AfterIngest``: the new items' series, dates and holds
in the ingest's own transaction, then the object's lock; ``show ID`` adds ``assign.show_section``.
"""
