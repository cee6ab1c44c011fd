"""The response letter and the fee worksheet of a Wisconsin public-records request.

Fees follow Wis. Stat. 19.35(3) (domain.md §A5): only reproduction (a), photographing (b),
location (c) and mailing (d) may be charged, each at actual, necessary and direct cost.
Location is chargeable only "if the cost is $50 or more" (c): the exact cost is compared, so
$49.9994 is not rounded up into a charge. Every amount is an exact decimal (rate x quantity,
never a rounded rate), and the total is rounded to the cent once, at the end. Redaction and
review time is never billed (Milwaukee Journal Sentinel v. City of Milwaukee, 2012 WI 65).
Copies may be free or at a reduced charge in the public interest (e): a waiver or a reduced
amount, each with its reason. Prepayment *may* be required when the total "exceeds $5" (f):
whether it is, is the custodian's choice (``fees.require_prepayment``). Rates are the
agency's (config ``fees.*``); a rate that is not configured is a warning, never a $0 fee.

A written denial, in whole or in part -- and a redaction is a partial denial -- states each
reason and its basis and carries the 19.35(4)(b) notice verbatim (domain.md §A4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from ..errors import ExportError, QueryError
from ..timefmt import parse_platform_time, parse_user_date
from .inputs import read_toml

# Wis. Stat. 19.35(4)(b): every written denial "shall inform the requester that if the request
# for the record was made in writing, then the determination is subject to review by mandamus
# under s. 19.37 (1) or upon application to the attorney general or a district attorney."
REVIEW_NOTICE = (
    "If the request for the record was made in writing, then the determination is subject to review "
    "by mandamus under s. 19.37 (1) or upon application to the attorney general or a district attorney."
)
LOCATION_THRESHOLD = Decimal("50")  # 19.35(3)(c): "if the cost is $50 or more"
PREPAY_ABOVE = Decimal("5")  # 19.35(3)(f): "if the total amount exceeds $5"
CENT = Decimal("0.01")
ZERO = Decimal("0")


def decimal_input(value, what: str) -> Decimal:
    """An exact decimal from what a user typed (hours, amounts); floats via their repr."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ExportError(f"{what} must be a number, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ExportError(f"{what} must be a number of at least 0, got {value!r}")
    return amount


def money_text(amount: Decimal) -> str:
    """$1,234.50; an exact amount with fractions of a cent keeps them ($49.9994): the worksheet
    shows what was computed, and only the total is rounded."""
    if amount == amount.quantize(CENT):
        return f"${amount:,.2f}"
    return f"${amount.normalize():,f}"


@dataclass
class FeeLine:
    label: str
    basis: str
    quantity: str
    amount: Decimal | None  # exact; None: the rate is not configured
    charged: bool
    note: str = ""


@dataclass
class FeeWorksheet:
    lines: list[FeeLine] = field(default_factory=list)
    waiver: str | None = None  # 19.35(3)(e): the public-interest reason (full waiver, or the reduction's)
    reduced_to: Decimal | None = None  # 19.35(3)(e): a reduced charge instead of a full waiver
    require_prepayment: bool = False  # the custodian's choice (fees.require_prepayment)
    warnings: list[str] = field(default_factory=list)

    @property
    def subtotal(self) -> Decimal:
        """The exact sum of the chargeable lines (not rounded)."""
        return sum((line.amount for line in self.lines if line.charged and line.amount is not None), ZERO)

    @property
    def waived(self) -> bool:
        return bool(self.waiver) and self.reduced_to is None

    @property
    def reduction(self) -> Decimal:
        """How much of the subtotal is waived or reduced away (exact)."""
        if self.waived:
            return self.subtotal
        if self.reduced_to is not None and self.reduced_to < self.subtotal:
            return self.subtotal - self.reduced_to
        return ZERO

    @property
    def total(self) -> Decimal:
        """What is due, rounded to the cent once, here."""
        return (self.subtotal - self.reduction).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def complete(self) -> bool:
        """False when a service was provided whose rate is not configured: the total is not known."""
        return not any(line.amount is None for line in self.lines)

    @property
    def prepayment_allowed(self) -> bool:
        return self.total > PREPAY_ABOVE

    @property
    def prepayment_required(self) -> bool:
        return self.prepayment_allowed and self.require_prepayment


@dataclass(frozen=True)
class FeeInputs:
    printed_pages: int = 0  # pages of paper copies the requester asked for
    media: int = 0  # physical media (USB stick, disc); 0 for electronic delivery
    location_hours: Decimal | float | str = ZERO  # staff time locating the records
    redaction_hours: Decimal | float | str = ZERO  # recorded to show it is not billed
    mailed: bool = False
    waiver: str | None = None  # the public-interest reason, 19.35(3)(e)
    reduced_to: Decimal | float | str | None = None  # a reduced charge (with ``waiver`` as its reason)


RATES = {"fees.per_page": "printed pages", "fees.per_media": "electronic media", "fees.location_hourly":
         "location time", "fees.mailing": "mailing"}


def fee_worksheet(settings, inputs: FeeInputs) -> FeeWorksheet:
    hours = decimal_input(inputs.location_hours, "--location-hours")
    redaction_hours = decimal_input(inputs.redaction_hours, "--redaction-hours")
    reduced_to = None if inputs.reduced_to is None else decimal_input(inputs.reduced_to, "--reduce-fees-to")
    if reduced_to is not None and not (inputs.waiver or "").strip():
        raise ExportError("a reduced charge needs its public-interest reason (--waive-fees REASON), s. 19.35(3)(e)")
    sheet = FeeWorksheet(waiver=(inputs.waiver or None), reduced_to=reduced_to,
                         require_prepayment=bool(settings["fees.require_prepayment"]))
    rates = {name: settings[name] for name in RATES}

    def priced(name: str, quantity: Decimal, label: str, basis: str, shown: str) -> FeeLine:
        rate = rates[name]
        if rate is None:
            if quantity:
                sheet.warnings.append(f"{name} is not set in archiver.toml, so this request's {RATES[name]} cannot "
                                      "be priced (set the agency's rate, or waive the fee)")
                return FeeLine(label, basis, f"{shown} × (rate not configured)", None, False,
                               "rate not configured: not priced")
            return FeeLine(label, basis, f"{shown} × (rate not configured)", ZERO, False, "not used")
        amount = rate * quantity  # exact: the rate is never rounded before multiplying
        return FeeLine(label, basis, f"{shown} × {money_text(rate)}", amount, amount > 0)

    sheet.lines.append(priced("fees.per_page", Decimal(inputs.printed_pages), "Reproduction: printed pages",
                              "19.35(3)(a)", f"{inputs.printed_pages} page(s)"))
    sheet.lines.append(priced("fees.per_media", Decimal(inputs.media), "Reproduction: electronic media",
                              "19.35(3)(a)", f"{inputs.media} media"))
    location = priced("fees.location_hourly", hours, "Location (search) of the records", "19.35(3)(c)",
                      f"{hours.normalize():f} h")
    if location.amount is not None and location.amount and location.amount < LOCATION_THRESHOLD:
        # Compared exactly, before any rounding: $49.9994 is under $50.
        location.charged, location.note = False, "not charged: the location cost is under $50"
    sheet.lines.append(location)
    sheet.lines.append(priced("fees.mailing", Decimal(int(inputs.mailed)), "Mailing or shipping", "19.35(3)(d)",
                              "1 shipment" if inputs.mailed else "0 shipments"))
    sheet.lines.append(FeeLine(
        "Redaction and review", "Milwaukee Journal Sentinel v. City of Milwaukee, 2012 WI 65",
        f"{redaction_hours.normalize():f} h", ZERO, False, "never charged"))
    return sheet


# --- the search, in words, for the letter -------------------------------------------------

def day_in_words(value: date | datetime, *, year: bool = True) -> str:
    """March 1, 2024 (with the time of day when one was typed: March 1, 2024, 8:30 PM)."""
    text = f"{value:%B} {value.day}" + (f", {value.year}" if year else "")
    if isinstance(value, datetime):
        text += f", {value:%I:%M %p}".replace(" 0", " ")
    return text


def letter_date(stamp: str, tz: str) -> str:
    """The letter's date: the day in the agency's timezone, in words, no clock time."""
    from zoneinfo import ZoneInfo

    dt = parse_platform_time(stamp)
    return day_in_words(dt.astimezone(ZoneInfo(tz)).date()) if dt else stamp


def received_in_words(value: str, tz: str) -> str:
    try:
        return day_in_words(parse_user_date(value, tz))
    except QueryError:  # not a date the CLI would accept: shown as the officer typed it
        return value


def period_in_words(date_from: str | None, date_to: str | None, tz: str) -> str:
    """"from March 1 through March 31, 2024" -- the dates as typed are days in the agency's timezone."""
    start = parse_user_date(date_from, tz) if date_from else None
    end = parse_user_date(date_to, tz) if date_to else None
    if start and end:
        same_year = start.year == end.year and not isinstance(start, datetime)
        return f"from {day_in_words(start, year=not same_year)} through {day_in_words(end)}"
    if start:
        return f"on or after {day_in_words(start)}"
    if end:
        return f"on or before {day_in_words(end)}"
    return "of any date"


def _listing(words: list[str], conjunction: str = "and") -> str:
    if len(words) <= 2:
        return f" {conjunction} ".join(words)
    return ", ".join(words[:-1]) + f", {conjunction} " + words[-1]


KIND_WORDS = {"post": "posts", "comment": "comments", "reply": "replies"}


def search_in_words(selection, accounts_configured: list[str]) -> str:
    """The search that was made, as sentences a requester can read (no field names, no reprs)."""
    kinds = [KIND_WORDS.get(k, k) for k in selection.kinds] or ["posts", "comments and replies"]
    what = _listing(kinds) if selection.kinds else "posts, comments and replies"
    sentence = f"We searched the agency's social media archive for {what} created " \
               f"{period_in_words(selection.date_from, selection.date_to, selection.tz)}"
    if selection.accounts:
        sentence += f" on the account{'s' if len(selection.accounts) > 1 else ''} " \
                    + _listing([f"\u201c{a}\u201d" for a in selection.accounts])
    elif accounts_configured:
        sentence += " on every account the archive keeps (" + _listing([f"\u201c{a}\u201d" for a in accounts_configured]) + ")"
    if selection.platforms:
        sentence += " on " + _listing(list(selection.platforms), "or")
    if selection.query:
        sentence += f", containing the words \u201c{selection.query}\u201d"
    if selection.author:
        sentence += f", written by \u201c{selection.author}\u201d"
    if selection.statuses:
        sentence += ", that are " + _listing(list(selection.statuses), "or")
    if selection.has_media is not None:
        sentence += ", with attached pictures or video" if selection.has_media else ", without attached media"
    sentence += f". Dates are days in the agency's time zone ({selection.tz})."
    sentence += (" Posts and comments later edited, hidden or deleted are included, since the archive keeps them."
                 " A conversation is responsive when any of its items matches, and each responsive conversation"
                 " is provided whole: the post with all its comments and replies.")
    return sentence


@dataclass(frozen=True)
class DenialReason:
    records: str  # which records or information are withheld
    reason: str  # the specific reason (not a blanket one)
    basis: str  # statute, common-law rule or balancing test


def load_deny_reasons(path: str | Path | None) -> list[DenialReason]:
    """``[[reason]]`` tables with records, reason and basis (TOML)."""
    if not path:
        return []
    data = read_toml(path, "deny-reasons")
    out = []
    for n, entry in enumerate(data.get("reason", []), 1):
        missing = [k for k in ("records", "reason", "basis") if not str(entry.get(k, "")).strip()]
        if missing:
            raise ExportError(f"{path}: [[reason]] #{n} is missing {', '.join(missing)} "
                              "(19.35(4)(b) requires the specific reasons for a denial)")
        out.append(DenialReason(str(entry["records"]), str(entry["reason"]), str(entry["basis"])))
    return out


def denial_reasons(reasons: list[DenialReason], redaction_log: list[dict]) -> list[DenialReason]:
    """The officer's reasons plus one per redaction (kind of information, its specific reason
    and basis) as the redaction log gives them. Section 19.36(6) only requires separating
    what is withheld; it is never given as the reason (domain.md §A4)."""
    seen: dict[tuple[str, str, str], set[str]] = {}
    for row in redaction_log:
        seen.setdefault((row["what"], row["reason"], row["basis"]), set()).add(row["item"])
    redacted = [DenialReason(f"{what} ({len(items)} item{'s' if len(items) > 1 else ''}; see the redaction log)",
                             reason, basis)
                for (what, reason, basis), items in seen.items()]
    return list(reasons) + redacted


def letter_context(settings, spec, result, reasons, fees: FeeWorksheet, *, generated: str) -> dict:
    """What the letter, the fee worksheet and the README say in words. ``granted in part`` only
    when something was withheld or redacted; no responsive records is its own determination."""
    tz = settings.timezone
    if result.items == 0 and not reasons:
        determination = "no records"
    elif reasons:
        determination = "partial"
    else:
        determination = "granted"
    return {"determination": determination, "letter_date": letter_date(generated, tz),
            "received_words": received_in_words(spec.received, tz),
            "search_prose": search_in_words(spec.selection, [a.name for a in settings.accounts]),
            "money": money_text}
