"""The response letter and the fee worksheet of a Wisconsin public-records request.

Fees follow Wis. Stat. 19.35(3) (domain.md §A5): only reproduction (a), photographing (b),
location (c) and mailing (d) may be charged, each at actual, necessary and direct cost.
Location is chargeable only "if the cost is $50 or more" (c). Redaction and review time is
never billed (Milwaukee Journal Sentinel v. City of Milwaukee, 2012 WI 65). Prepayment may be
required when the total "exceeds $5" (f). A waiver or reduction in the public interest (e)
is recorded with its reason. Rates are the agency's (config ``fees.*``).

A written denial, in whole or in part — and a redaction is a partial denial — states each
reason and its basis and carries the 19.35(4)(b) notice verbatim (domain.md §A4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from ..errors import ExportError
from .inputs import read_toml

# Wis. Stat. 19.35(4)(b): every written denial "shall inform the requester that if the request
# for the record was made in writing, then the determination is subject to review by mandamus
# under s. 19.37 (1) or upon application to the attorney general or a district attorney."
REVIEW_NOTICE = (
    "If the request for the record was made in writing, then the determination is subject to review "
    "by mandamus under s. 19.37 (1) or upon application to the attorney general or a district attorney."
)
LOCATION_THRESHOLD = Decimal("50.00")  # 19.35(3)(c): "if the cost is $50 or more"
PREPAY_ABOVE = Decimal("5.00")  # 19.35(3)(f): "if the total amount exceeds $5"
CENT = Decimal("0.01")


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class FeeLine:
    label: str
    basis: str
    quantity: str
    amount: Decimal
    charged: bool
    note: str = ""


@dataclass
class FeeWorksheet:
    lines: list[FeeLine] = field(default_factory=list)
    waiver: str | None = None

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.charged), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return Decimal("0.00") if self.waiver else self.subtotal

    @property
    def prepayment_required(self) -> bool:
        return self.total > PREPAY_ABOVE


@dataclass(frozen=True)
class FeeInputs:
    printed_pages: int = 0  # pages of paper copies the requester asked for
    media: int = 0  # physical media (USB stick, disc); 0 for electronic delivery
    location_hours: float = 0.0  # staff time locating the records
    redaction_hours: float = 0.0  # recorded to show it is not billed
    mailed: bool = False
    waiver: str | None = None  # the public-interest reason, 19.35(3)(e)


def fee_worksheet(settings, inputs: FeeInputs) -> FeeWorksheet:
    per_page, per_media = _money(settings["fees.per_page"]), _money(settings["fees.per_media"])
    hourly, mailing = _money(settings["fees.location_hourly"]), _money(settings["fees.mailing"])
    sheet = FeeWorksheet(waiver=(inputs.waiver or None))
    sheet.lines.append(FeeLine("Reproduction: printed pages", "19.35(3)(a)",
                               f"{inputs.printed_pages} × {per_page}", _money(per_page * inputs.printed_pages),
                               inputs.printed_pages > 0))
    sheet.lines.append(FeeLine("Reproduction: electronic media", "19.35(3)(a)",
                               f"{inputs.media} × {per_media}", _money(per_media * inputs.media), inputs.media > 0))
    location = _money(hourly * Decimal(str(inputs.location_hours)))
    charged = location >= LOCATION_THRESHOLD
    sheet.lines.append(FeeLine(
        "Location (search) of the records", "19.35(3)(c)", f"{inputs.location_hours:g} h × {hourly}", location,
        charged, "" if charged or not location else "not charged: the location cost is under $50"))
    sheet.lines.append(FeeLine("Mailing or shipping", "19.35(3)(d)", "1" if inputs.mailed else "0",
                               mailing if inputs.mailed else Decimal("0.00"), inputs.mailed))
    sheet.lines.append(FeeLine(
        "Redaction and review", "Milwaukee Journal Sentinel v. City of Milwaukee, 2012 WI 65",
        f"{inputs.redaction_hours:g} h", Decimal("0.00"), False, "never charged"))
    return sheet


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
