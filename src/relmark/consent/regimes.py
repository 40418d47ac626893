"""The law, as data: which consent a regime asks for, on which channels, for which purposes.

A `Regime` is a frozen record of rules. It says which channels it governs
(`covers`), and for each purpose it governs whether contact is opt-in (a valid
grant is needed) or opt-out (allowed unless the person objected), which bases
count, how long each lasts, and what else must hold (evidence naming the phone,
calling hours, a double opt-in). `relmark.consent.check_consent` applies them;
this module only states them, each rule with its source.

| regime | channels | marketing | expiry | other |
| --- | --- | --- | --- | --- |
| `GDPR` | all | opt-in: express; legitimate interest for post and in person | none | soft opt-in and double opt-in are options |
| `UK_GDPR` | all | as GDPR, PECR reg. 22 | none | soft opt-in when `soft_opt_in=True` |
| `CASL` | email, sms, push, social, chat | opt-in: express or implied | purchase 24 months, inquiry 6, non-business 24 | unsubscribe deadline 10 business days |
| `CAN_SPAM` | email | opt-out | | opt-out deadline 10 business days |
| `TCPA` | phone, sms | opt-in: express written naming the number | none | 08:00-21:00 recipient's local time |
| `PIPEDA` | all | opt-in: express or implied | none | express for profiling, sale or share |
| `CCPA` | all | opt-out | | GPC is an opt-out of sale or share |

Regimes are values: change an option with `attrs.evolve`, e.g.
`attrs.evolve(UK_GDPR, soft_opt_in=True)`, or build your own `Regime`.
`regime_for` maps ISO 3166 codes of the recipient (and of the sender) to the
regimes that apply; when several apply, all must allow.

Examples:
    >>> from relmark.consent.regimes import CASL, regime_for
    >>> [r.name for r in regime_for("CA", "US")]
    ['CASL', 'PIPEDA', 'CAN_SPAM', 'TCPA']
    >>> CASL.rule_for("marketing").lifetime("implied_purchase")
    24
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Literal

import attrs
import numpy as np
import pendulum

from relmark.consent.events import Basis, Purpose, check_jurisdiction
from relmark.exceptions import ValidationError
from relmark.models import Channel

__all__ = [
    "CAN_SPAM",
    "CASL",
    "CCPA",
    "GDPR",
    "PIPEDA",
    "REGIMES",
    "TCPA",
    "UK_GDPR",
    "BasisRule",
    "PurposeRule",
    "Regime",
    "business_days_after",
    "grant_expiry",
    "regime_by_name",
    "regime_for",
]

ALL_CHANNELS: Final = frozenset(Channel)
ELECTRONIC: Final = frozenset(
    {Channel.EMAIL, Channel.SMS, Channel.PHONE, Channel.PUSH, Channel.SOCIAL, Channel.CHAT,
     Channel.WEB}
)  # fmt: skip
OFFLINE: Final = frozenset({Channel.POST, Channel.IN_PERSON})


def _channels(value: Iterable[Channel | str] | None) -> frozenset[Channel] | None:
    return None if value is None else frozenset(Channel(c) for c in value)


def _all_channels(value: Iterable[Channel | str]) -> frozenset[Channel]:
    return frozenset(Channel(c) for c in value)


@attrs.frozen
class BasisRule:
    """One basis a purpose rule accepts, and on what terms.

    Args:
        basis: The `Basis`.
        lasts_months: How long a grant on this basis lasts, in calendar months
            from the grant (counted in the grant's own zone); None means until
            withdrawn.
        channels: The channels it is valid on; None means every channel the
            regime covers.
        names_phone: The grant's `Evidence.address` must be the customer's
            phone number (TCPA prior express written consent).
        option: The name of a `Regime` flag that must be on for this basis to
            count ("soft_opt_in"), or None.
        source: Where the rule comes from.
    """

    basis: Basis = attrs.field(converter=Basis)
    lasts_months: int | None = None
    channels: frozenset[Channel] | None = attrs.field(default=None, converter=_channels)
    names_phone: bool = False
    option: Literal["soft_opt_in"] | None = None
    source: str = ""


@attrs.frozen
class PurposeRule:
    """How a regime treats one purpose.

    Args:
        model: "opt_in" (contact needs a valid grant) or "opt_out" (contact is
            allowed unless the person withdrew, objected or sent a GPC signal
            and has not opted back in since).
        bases: Under "opt_in", the bases that count, in order of preference.
            Under "opt_out", the bases of a grant that opts a person back in
            after an opt-out (the laws ask for affirmative consent: express).
        calling_hours: `(first, last)` local times between which calls and
            texts may be made, both included, or None.
        calling_channels: The channels `calling_hours` applies to.
        source: Where the rule comes from.
    """

    model: Literal["opt_in", "opt_out"]
    bases: tuple[BasisRule, ...] = ()
    calling_hours: tuple[dt.time, dt.time] | None = None
    calling_channels: frozenset[Channel] = attrs.field(default=frozenset(), converter=_all_channels)
    source: str = ""

    def lifetime(self, basis: Basis | str) -> int | None:
        """Months a grant on `basis` lasts (None: until withdrawn); KeyError if not accepted."""
        for rule in self.bases:
            if rule.basis == basis:
                return rule.lasts_months
        raise KeyError(basis)


def _bases(value: Iterable[Basis | str]) -> frozenset[Basis]:
    return frozenset(Basis(b) for b in value)


def _purposes(
    value: Mapping[Purpose, PurposeRule] | Mapping[str, PurposeRule],
) -> Mapping[Purpose, PurposeRule]:
    return types.MappingProxyType({Purpose(key): rule for key, rule in value.items()})


@attrs.frozen
class Regime:
    """A set of consent rules: one law, or your own policy.

    Args:
        name: Short name used in decisions ("CASL").
        title: The law's name.
        covers: The channels it governs; for other channels it abstains.
        purposes: `PurposeRule` per purpose it governs; for other purposes
            it abstains. Transactional messages are never governed here: they
            are allowed unless suppressed with scope "all".
        recognised: The bases a grant recorded in this regime's jurisdiction
            may have; `ConsentLedger.append` refuses the others.
        jurisdictions: ISO 3166 codes `regime_for` maps to it.
        soft_opt_in: Whether the soft opt-in basis counts (PECR reg. 22(3),
            ePrivacy Art. 13(2)); off unless you turn it on.
        double_opt_in: Whether an express grant counts only once confirmed by
            a later `confirm` event (for example for Germany, where courts
            expect it as proof of consent).
        unsubscribe_business_days: The legal deadline for honouring an
            unsubscribe, in business days, or None. relmark honours it at
            once; decisions report the deadline.
        sources: The legal texts, for the documentation.

    Examples:
        >>> import attrs
        >>> strict = attrs.evolve(GDPR, double_opt_in=True)
        >>> strict.double_opt_in, GDPR.double_opt_in
        (True, False)
    """

    name: str
    title: str
    covers: frozenset[Channel] = attrs.field(converter=_all_channels)
    purposes: Mapping[Purpose, PurposeRule] = attrs.field(converter=_purposes)
    recognised: frozenset[Basis] = attrs.field(converter=_bases)
    jurisdictions: tuple[str, ...] = ()
    soft_opt_in: bool = False
    double_opt_in: bool = False
    unsubscribe_business_days: int | None = None
    sources: tuple[str, ...] = ()

    def rule_for(self, purpose: Purpose | str) -> PurposeRule:
        """The rule for `purpose`; KeyError if this regime does not govern it."""
        return self.purposes[Purpose(purpose)]

    def governs(self, channel: Channel, purpose: Purpose) -> bool:
        """Whether this regime has a say on `channel` for `purpose`.

        Examples:
            >>> CAN_SPAM.governs(Channel.SMS, Purpose.MARKETING)
            False
        """
        return channel in self.covers and purpose in self.purposes

    def __repr__(self) -> str:
        return f"<Regime {self.name}>"


# --------------------------------------------------------------------------- the regimes

_EXPRESS_OR_IMPLIED: Final = (
    Basis.EXPRESS,
    Basis.EXPRESS_WRITTEN,
    Basis.IMPLIED_PURCHASE,
    Basis.IMPLIED_INQUIRY,
    Basis.IMPLIED_NON_BUSINESS,
)
_OPT_BACK_IN: Final = (
    BasisRule(Basis.EXPRESS, source="affirmative consent after an opt-out"),
    BasisRule(Basis.EXPRESS_WRITTEN, source="affirmative consent after an opt-out"),
)
_ART_21 = "GDPR Art. 21(2)-(3): an objection to direct marketing stops it"
_EXPRESS = BasisRule(Basis.EXPRESS, source="GDPR Art. 6(1)(a), Art. 7")
_EXPRESS_WRITTEN = BasisRule(Basis.EXPRESS_WRITTEN, source="express consent, in writing")

_GDPR_PURPOSES: Final = {
    Purpose.MARKETING: PurposeRule(
        "opt_in",
        (
            _EXPRESS,
            _EXPRESS_WRITTEN,
            BasisRule(
                Basis.SOFT_OPT_IN,
                channels={Channel.EMAIL, Channel.SMS},
                option="soft_opt_in",
                source="ePrivacy Directive 2002/58/EC Art. 13(2); PECR reg. 22(3)",
            ),
            BasisRule(
                Basis.LEGITIMATE_INTEREST,
                channels=OFFLINE,
                source="GDPR Art. 6(1)(f) and Recital 47; electronic marketing needs"
                " consent under ePrivacy Art. 13(1) / PECR reg. 22(2)",
            ),
        ),
        source="ePrivacy Directive Art. 13(1); PECR regs. 19-22; " + _ART_21,
    ),
    Purpose.PROFILING: PurposeRule(
        "opt_in",
        (
            _EXPRESS,
            _EXPRESS_WRITTEN,
            BasisRule(Basis.LEGITIMATE_INTEREST, source="GDPR Art. 6(1)(f)"),
        ),
        source="GDPR Art. 6(1), Art. 21(2)",
    ),
    Purpose.SALE_OR_SHARE: PurposeRule(
        "opt_in", (_EXPRESS, _EXPRESS_WRITTEN), source="GDPR Art. 6(1)(a)"
    ),
}
_GDPR_BASES: Final = (
    Basis.EXPRESS,
    Basis.EXPRESS_WRITTEN,
    Basis.SOFT_OPT_IN,
    Basis.LEGITIMATE_INTEREST,
    Basis.CONTRACT,
)
_EU_EEA: Final = [
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
    "IS",
    "LI",
    "NO",
]

GDPR: Final = Regime(
    name="GDPR",
    title="EU General Data Protection Regulation with the ePrivacy Directive",
    covers=ALL_CHANNELS,
    purposes=_GDPR_PURPOSES,
    recognised=_GDPR_BASES,
    jurisdictions=tuple(_EU_EEA),
    sources=(
        "Regulation (EU) 2016/679 (GDPR) Art. 6, 7(3), 21 and Recital 47",
        "Directive 2002/58/EC (ePrivacy) Art. 13",
    ),
)
"""EU and EEA: electronic marketing needs express consent for that channel and purpose."""

UK_GDPR: Final = attrs.evolve(
    GDPR,
    name="UK_GDPR",
    title="UK GDPR with the Privacy and Electronic Communications Regulations 2003",
    jurisdictions=("GB",),
    sources=(
        "UK GDPR Art. 6, 7(3), 21",
        "Privacy and Electronic Communications (EC Directive) Regulations 2003, regs. 19-22",
    ),
)
"""United Kingdom: as GDPR; PECR's soft opt-in counts when `soft_opt_in=True`."""

_CASL_MESSAGES = frozenset({Channel.EMAIL, Channel.SMS, Channel.PUSH, Channel.SOCIAL, Channel.CHAT})
CASL: Final = Regime(
    name="CASL",
    title="Canada's Anti-Spam Legislation (S.C. 2010, c. 23)",
    covers=_CASL_MESSAGES,
    purposes={
        Purpose.MARKETING: PurposeRule(
            "opt_in",
            (
                BasisRule(Basis.EXPRESS, source="CASL s. 6(1)(a), s. 10(1)"),
                BasisRule(Basis.EXPRESS_WRITTEN, source="CASL s. 6(1)(a), s. 10(1)"),
                BasisRule(
                    Basis.IMPLIED_PURCHASE, lasts_months=24, source="CASL s. 10(9)(a), 10(10)(a)"
                ),
                BasisRule(
                    Basis.IMPLIED_INQUIRY, lasts_months=6, source="CASL s. 10(9)(a), 10(10)(e)"
                ),
                BasisRule(
                    Basis.IMPLIED_NON_BUSINESS, lasts_months=24, source="CASL s. 10(9)(a), 10(13)"
                ),
            ),
            source="CASL s. 6(1): no commercial electronic message without consent",
        ),
    },
    recognised=_EXPRESS_OR_IMPLIED,
    jurisdictions=("CA",),
    unsubscribe_business_days=10,
    sources=(
        "CASL s. 6(1) (consent), s. 6(8) (two-way voice calls are not covered)",
        "CASL s. 10(9)-(13) (implied consent: 2 years from a purchase, 6 months from an"
        " inquiry, 2 years from a donation, volunteer work or membership)",
        "CASL s. 11(3) (unsubscribe given effect within 10 business days)",
    ),
)
"""Canada, commercial electronic messages: express until withdrawn, implied for 6 or 24 months."""

CAN_SPAM: Final = Regime(
    name="CAN_SPAM",
    title="US CAN-SPAM Act of 2003 (15 U.S.C. 7701-7713)",
    covers={Channel.EMAIL},
    purposes={
        Purpose.MARKETING: PurposeRule(
            "opt_out",
            _OPT_BACK_IN,
            source="15 U.S.C. 7704(a)(3)-(4) (after an opt-out, only the person's later"
            " affirmative consent, 7704(a)(4)(B)); 16 CFR 316.5",
        ),
    },
    recognised=_EXPRESS_OR_IMPLIED,
    jurisdictions=("US",),
    unsubscribe_business_days=10,
    sources=("15 U.S.C. 7704(a)(4)(A) (opt-out honoured within 10 business days)",),
)
"""United States, commercial email: allowed unless the person opted out."""

TCPA: Final = Regime(
    name="TCPA",
    title="US Telephone Consumer Protection Act (47 U.S.C. 227) and 47 CFR 64.1200",
    covers={Channel.PHONE, Channel.SMS},
    purposes={
        Purpose.MARKETING: PurposeRule(
            "opt_in",
            (
                BasisRule(
                    Basis.EXPRESS_WRITTEN,
                    names_phone=True,
                    source="47 CFR 64.1200(a)(2) and (f)(9): a signed written agreement"
                    " naming the number",
                ),
            ),
            calling_hours=(dt.time(8, 0), dt.time(21, 0)),
            calling_channels={Channel.PHONE, Channel.SMS},
            source="47 CFR 64.1200(a)(2), (c)(1); revocation by any reasonable means,"
            " 64.1200(a)(10)",
        ),
    },
    recognised=(Basis.EXPRESS, Basis.EXPRESS_WRITTEN),
    jurisdictions=("US",),
    unsubscribe_business_days=10,
    sources=(
        "47 U.S.C. 227(b)-(c)",
        "47 CFR 64.1200(a)(2) (prior express written consent), (c)(1) (no calls before"
        " 8 a.m. or after 9 p.m. local time), (a)(10) (revocation within 10 business days)",
    ),
)
"""United States, marketing calls and texts: express written consent naming the number."""

PIPEDA: Final = Regime(
    name="PIPEDA",
    title="Canada's Personal Information Protection and Electronic Documents Act",
    covers=ALL_CHANNELS,
    purposes={
        Purpose.MARKETING: PurposeRule(
            "opt_in",
            (
                BasisRule(Basis.EXPRESS, source="PIPEDA Sch. 1, 4.3.7"),
                BasisRule(Basis.EXPRESS_WRITTEN, source="PIPEDA Sch. 1, 4.3.7"),
                BasisRule(Basis.IMPLIED_PURCHASE, source="PIPEDA Sch. 1, 4.3.6"),
                BasisRule(Basis.IMPLIED_INQUIRY, source="PIPEDA Sch. 1, 4.3.6"),
                BasisRule(Basis.IMPLIED_NON_BUSINESS, source="PIPEDA Sch. 1, 4.3.6"),
            ),
            source="PIPEDA Sch. 1, Principle 4.3",
        ),
        Purpose.PROFILING: PurposeRule(
            "opt_in",
            (BasisRule(Basis.EXPRESS), BasisRule(Basis.EXPRESS_WRITTEN)),
            source="PIPEDA Sch. 1, 4.3.6; OPC Guidelines for obtaining meaningful consent (2018)",
        ),
        Purpose.SALE_OR_SHARE: PurposeRule(
            "opt_in",
            (BasisRule(Basis.EXPRESS), BasisRule(Basis.EXPRESS_WRITTEN)),
            source="PIPEDA Sch. 1, 4.3.6; OPC Guidelines for obtaining meaningful consent (2018)",
        ),
    },
    recognised=_EXPRESS_OR_IMPLIED,
    jurisdictions=("CA",),
    sources=(
        "PIPEDA (S.C. 2000, c. 5) Sch. 1, Principle 4.3 (consent; 4.3.6 express consent for"
        " sensitive information; 4.3.8 withdrawal)",
        "Office of the Privacy Commissioner, Guidelines for obtaining meaningful consent (2018)",
    ),
)
"""Canada, personal information: meaningful consent, express for profiling and sale."""

CCPA: Final = Regime(
    name="CCPA",
    title="California Consumer Privacy Act as amended by the CPRA",
    covers=ALL_CHANNELS,
    purposes={
        Purpose.MARKETING: PurposeRule("opt_out", _OPT_BACK_IN, source="Cal. Civ. Code 1798.120"),
        Purpose.PROFILING: PurposeRule(
            "opt_out", _OPT_BACK_IN, source="Cal. Civ. Code 1798.120, 1798.185"
        ),
        Purpose.SALE_OR_SHARE: PurposeRule(
            "opt_out",
            _OPT_BACK_IN,
            source="Cal. Civ. Code 1798.120, 1798.135; Cal. Code Regs. tit. 11, 7025 (opt-out"
            " preference signals such as GPC)",
        ),
    },
    recognised=(Basis.EXPRESS, Basis.EXPRESS_WRITTEN),
    jurisdictions=("US-CA",),
    sources=(
        "Cal. Civ. Code 1798.120 (right to opt out of sale or sharing), 1798.135",
        "Cal. Code Regs. tit. 11, 7025 (a GPC signal is a valid request to opt out)",
    ),
)
"""California: sale or sharing stops at an opt-out or a GPC signal; marketing is opt-out."""

REGIMES: Final[Mapping[str, Regime]] = types.MappingProxyType(
    {r.name: r for r in (GDPR, UK_GDPR, CASL, CAN_SPAM, TCPA, PIPEDA, CCPA)}
)
"""Every built-in regime by name."""


def _regimes_of(code: str) -> tuple[Regime, ...]:
    country = code[:2]
    found: list[Regime] = []
    for regime in REGIMES.values():
        for j in regime.jurisdictions:
            if j == code or (len(j) == 2 and j == country):
                found.append(regime)
                break
    return tuple(found)


def regime_for(*jurisdictions: str) -> tuple[Regime, ...]:
    """The built-in regimes that apply to contact touching these jurisdictions.

    Pass the recipient's ISO 3166 code, and the sender's too when it differs
    (a US sender writing to a Canadian must satisfy both countries' laws). A
    subdivision code gets its country's regimes and its own ("US-CA": CAN-SPAM,
    TCPA and CCPA). A valid code with no built-in regime ("JP") contributes
    none; if no code contributes any, the result is empty and every check
    against it answers no, saying so.

    Args:
        *jurisdictions: ISO 3166-1 alpha-2 country codes ("CA", "DE") or
            ISO 3166-2 subdivision codes ("US-CA").

    Returns:
        The regimes, each once, in order of first appearance.

    Raises:
        ValidationError: if a code is not an assigned ISO 3166 country code
            or not written like a subdivision of one.

    Examples:
        >>> [r.name for r in regime_for("DE")]
        ['GDPR']
        >>> [r.name for r in regime_for("US-CA")]
        ['CAN_SPAM', 'TCPA', 'CCPA']
        >>> regime_for("UK")
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: 'UK' is not an assigned ISO 3166-1 country code (column 'jurisdiction')
        Hint: the United Kingdom is 'GB'
    """
    if not jurisdictions:
        raise ValidationError(
            "regime_for needs at least one jurisdiction",
            column="jurisdiction",
            hint="pass the recipient's ISO 3166 code, e.g. regime_for('CA')",
        )
    found: dict[str, Regime] = {}
    for code in jurisdictions:
        check_jurisdiction(code)
        for regime in _regimes_of(code):
            found.setdefault(regime.name, regime)
    return tuple(found.values())


def regime_by_name(name: str) -> Regime | None:
    """The built-in regime called `name` ("GDPR", "CASL", ...), or None.

    Examples:
        >>> regime_by_name("TCPA") is TCPA
        True
    """
    return REGIMES.get(name)


def recognised_bases(jurisdiction: str) -> frozenset[Basis] | None:
    """The bases some regime of `jurisdiction` recognises; None if none is built in."""
    regimes = regime_for(jurisdiction)
    if not regimes:
        return None
    return frozenset().union(*(r.recognised for r in regimes))


def business_days_after(day: dt.date, n: int, *, holidays: Sequence[dt.date] = ()) -> dt.date:
    """The `n`-th business day after `day`: Monday to Friday, skipping `holidays`.

    Used for legal deadlines such as CASL's "within 10 business days". `day`
    itself never counts, whatever day it is; a datetime counts by its own
    calendar date.

    Args:
        day: The day the clock starts (a request received on a Saturday starts
            counting on Monday).
        n: How many business days, at least 0 (0 gives `day` itself).
        holidays: Days that are not business days.

    Raises:
        ValidationError: if `n` is negative or not an int, or `day` is not a date.

    Examples:
        >>> import datetime as dt
        >>> business_days_after(dt.date(2024, 12, 20), 10)  # a Friday
        datetime.date(2025, 1, 3)
        >>> business_days_after(dt.date(2024, 12, 20), 10,
        ...                     holidays=[dt.date(2024, 12, 25), dt.date(2024, 12, 26),
        ...                               dt.date(2025, 1, 1)])
        datetime.date(2025, 1, 8)
    """
    if not isinstance(day, dt.date):
        raise ValidationError(
            f"day must be a date, got {type(day).__name__}",
            column="day",
            value=day,
            hint="pass a datetime.date (or a datetime)",
        )
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValidationError(
            f"n must be a whole number of days, at least 0, got {n!r}", column="n", value=n
        )
    if type(day) is not dt.date:  # a datetime counts by its date; a pendulum Date is a plain one
        day = dt.date(day.year, day.month, day.day)
    if n == 0:
        return day
    if not holidays:  # plain weeks: arithmetic (numpy's busday costs microseconds a call)
        weekday = day.weekday()
        if weekday > 4:  # roll a weekend start back to its Friday
            day, weekday = day - dt.timedelta(days=weekday - 4), 4
        weeks, rest = divmod(n, 5)
        return day + dt.timedelta(days=7 * weeks + rest + (2 if weekday + rest > 4 else 0))
    start = np.datetime64(day.isoformat(), "D")
    off = np.array([np.datetime64(h.isoformat()[:10], "D") for h in holidays], dtype="M8[D]")
    # Roll a non-business start back: the first business day after it is then day 1.
    result = np.busday_offset(start, n, roll="backward", holidays=off)
    return dt.date.fromisoformat(str(result))


# --------------------------------------------------------------------------- expiry


def local_midnight(tz: dt.tzinfo, day: dt.date) -> pendulum.DateTime:
    """The first instant of `day` in zone `tz` (after the gap, if midnight does not exist)."""
    return pendulum.datetime(day.year, day.month, day.day, tz=tz)


def grant_expiry(at: pendulum.DateTime, months: int) -> pendulum.DateTime:
    """When a grant made at `at` that lasts `months` calendar months stops counting.

    CASL counts implied consent over "the two-year period immediately before
    the day on which the message is sent" (s. 10(10)): a purchase on
    2022-05-10 still counts for a message on 2024-05-10 and no longer on
    2024-05-11. So the grant lasts through the anniversary day, in the
    grant's own zone, and expires at the midnight that ends it. A grant on
    the 31st of a month whose anniversary month is shorter runs through
    that month's last day.

    Examples:
        >>> import pendulum
        >>> grant_expiry(pendulum.datetime(2022, 5, 10, 15, tz="America/Toronto"), 24)
        DateTime(2024, 5, 11, 0, 0, 0, tzinfo=Timezone('America/Toronto'))
        >>> grant_expiry(pendulum.datetime(2023, 8, 31, tz="UTC"), 6).date()
        Date(2024, 3, 1)
    """
    anniversary = at.date().add(months=months)
    return local_midnight(at.tzinfo, anniversary.add(days=1))  # type: ignore[arg-type]
