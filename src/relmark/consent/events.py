"""Consent records: what a person agreed to or refused, when, on what basis, with what proof.

A `ConsentEvent` is one fact: on `at`, subject `subject_id` granted (or
withdrew, confirmed, objected, or sent a Global Privacy Control signal) their
consent to be contacted on `channel` for `purpose`, on a legal `basis`, in a
`jurisdiction`, with `evidence`. A `Suppression` is a do-not-contact entry
that overrides any grant. Both are frozen `attrs` records, validated when
built: bad input raises `relmark.exceptions.ValidationError` naming the field,
and for the enumerations the hint lists the valid values.

Examples:
    >>> from relmark.consent import Action, Basis, ConsentEvent, Evidence
    >>> event = ConsentEvent("c1", "email", "marketing", "grant", "express",
    ...                      "2024-05-01T10:00:00+02:00[Europe/Berlin]", "DE",
    ...                      Evidence(source="signup form", text_version="v3"))
    >>> event.action is Action.GRANT, event.basis is Basis.EXPRESS
    (True, True)
    >>> ConsentEvent("c1", "email", "marketing", "grant", "assumed", event.at, "DE")
    Traceback (most recent call last):
    ...
    relmark.exceptions.ValidationError: 'assumed' is not a valid basis (column 'basis')
    Hint: use one of 'express', 'express_written', 'implied_purchase', ... (or the Basis member)
"""

from __future__ import annotations

import enum
import re
from typing import Any, Final

import attrs
import pendulum

from relmark._time import TimeLike, to_datetime
from relmark.exceptions import ValidationError
from relmark.models import (
    Channel,
    _check_identifier,
    _check_text,
    _mask_email,
    _mask_phone,
    _to_channel,
    _to_enum,
)

__all__ = [
    "ERASED_PREFIX",
    "Action",
    "Basis",
    "ConsentEvent",
    "Evidence",
    "Purpose",
    "Scope",
    "Suppression",
    "SuppressionKind",
    "normalise_email",
    "phone_digits",
]

ERASED_PREFIX: Final = "erased:"
"""Subject ids of erased subjects start with this; `ConsentLedger.append` refuses it from callers."""

_JURISDICTION_RE: Final = re.compile(r"[A-Z]{2}(?:-[A-Z0-9]{1,3})?")

# ISO 3166-1 alpha-2 codes, from the tz database's iso3166.tab (public domain), as of
# ISO/TC 46 N1108 (2023-04-05).
_ISO_TEXT: Final = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN
BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL
GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM
JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME
MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP
NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD
SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
_ISO_COUNTRIES: Final = frozenset(_ISO_TEXT.split())


class Action(enum.StrEnum):
    """What a consent event records.

    Attributes:
        GRANT: Consent given (or a relationship that implies it began).
        WITHDRAW: Consent withdrawn: an unsubscribe, an opt-out, a "stop" reply.
        CONFIRM: A double opt-in confirmation of an earlier grant.
        OBJECT: An objection to processing on legitimate interest (GDPR Art. 21);
            it stops the processing like a withdrawal.
        GPC: A Global Privacy Control signal: an opt-out of sale or sharing.

    Examples:
        >>> Action("withdraw").stops
        True
    """

    GRANT = "grant"
    WITHDRAW = "withdraw"
    CONFIRM = "confirm"
    OBJECT = "object"
    GPC = "gpc"

    @property
    def stops(self) -> bool:
        """True for the actions that end consent: withdraw, object and gpc."""
        return self in (Action.WITHDRAW, Action.OBJECT, Action.GPC)


class Basis(enum.StrEnum):
    """The legal basis of a grant.

    Attributes:
        EXPRESS: Express (opt-in) consent.
        EXPRESS_WRITTEN: Prior express written consent (TCPA), signed, naming the
            phone number it covers in `Evidence.address`.
        IMPLIED_PURCHASE: Implied by a purchase or lease (CASL s. 10(10)(a)).
        IMPLIED_INQUIRY: Implied by an inquiry or application (CASL s. 10(10)(b)).
        IMPLIED_NON_BUSINESS: Implied by a donation, volunteer work or membership
            (CASL s. 10(13)).
        SOFT_OPT_IN: PECR's soft opt-in: an existing customer, similar products,
            and a chance to refuse given at collection and in every message.
        LEGITIMATE_INTEREST: GDPR Art. 6(1)(f).
        CONTRACT: GDPR Art. 6(1)(b): needed to perform a contract.

    Examples:
        >>> Basis.IMPLIED_PURCHASE == "implied_purchase"
        True
    """

    EXPRESS = "express"
    EXPRESS_WRITTEN = "express_written"
    IMPLIED_PURCHASE = "implied_purchase"
    IMPLIED_INQUIRY = "implied_inquiry"
    IMPLIED_NON_BUSINESS = "implied_non_business"
    SOFT_OPT_IN = "soft_opt_in"
    LEGITIMATE_INTEREST = "legitimate_interest"
    CONTRACT = "contract"


class Purpose(enum.StrEnum):
    """What the contact or processing is for; members compare equal to their strings.

    Attributes:
        MARKETING: Direct marketing: offers, newsletters, promotions.
        TRANSACTIONAL: Receipts, service and account notices; allowed without
            consent unless a suppression of scope "all" applies.
        PROFILING: Building a profile of the person for targeting.
        SALE_OR_SHARE: Selling or sharing personal data (CCPA's "sell or share").

    Examples:
        >>> Purpose("marketing") is Purpose.MARKETING
        True
    """

    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"
    PROFILING = "profiling"
    SALE_OR_SHARE = "sale_or_share"


class Scope(enum.StrEnum):
    """What a suppression blocks.

    Attributes:
        MARKETING: Every purpose except transactional messages.
        ALL: Everything, transactional messages included.
    """

    MARKETING = "marketing"
    ALL = "all"


class SuppressionKind(enum.StrEnum):
    """What a suppression matches: a subject id, an email address or a phone number."""

    SUBJECT = "subject"
    EMAIL = "email"
    PHONE = "phone"


# --------------------------------------------------------------------------- contact keys


def normalise_email(address: str) -> str:
    """The form of an email address that suppressions and evidence are matched on.

    Surrounding whitespace is dropped and the address is lower-cased (the
    local part is case-sensitive in theory, and case-insensitive at every
    mailbox provider in practice; matching more addresses fails safe).

    Examples:
        >>> normalise_email("  Ada@Example.COM ")
        'ada@example.com'
    """
    return address.strip().lower()


# What a written phone number holds besides digits, dropped in one pass before the digit test.
_PHONE_PUNCTUATION: Final = str.maketrans("", "", " +-().\u00a0/")


def phone_digits(number: str) -> str:
    """The digits of a phone number, without a leading North American "1" on 11 digits.

    Two numbers are the same when their digits are: "+1 (415) 555-0100" and
    "415.555.0100" both give "4155550100".

    Examples:
        >>> phone_digits("+1 (415) 555-0100")
        '4155550100'
        >>> phone_digits("+44 20 7946 0000")
        '442079460000'
    """
    digits = number.translate(_PHONE_PUNCTUATION)
    if not digits.isdigit():
        digits = "".join(ch for ch in digits if ch.isdigit())
    if len(digits) == 11 and digits[0] == "1":
        return digits[1:]
    return digits


# --------------------------------------------------------------------------- validators


def _to_action(value: Action | str) -> Action:
    return _to_enum(Action, value, "action")


def _to_basis(value: Basis | str | None) -> Basis | None:
    return None if value is None else _to_enum(Basis, value, "basis")


def _to_purpose(value: Purpose | str) -> Purpose:
    return _to_enum(Purpose, value, "purpose")


def _to_scope(value: Scope | str) -> Scope:
    return _to_enum(Scope, value, "scope")


def _to_kind(value: SuppressionKind | str) -> SuppressionKind:
    return _to_enum(SuppressionKind, value, "by")


def _to_optional_channel(value: Channel | str | None) -> Channel | None:
    return None if value is None else _to_channel(value)


def _to_at(value: TimeLike) -> pendulum.DateTime:
    return to_datetime(value, argument="at")


def check_jurisdiction(value: object, *, argument: str = "jurisdiction") -> str:
    """Return `value` if it is written like an ISO 3166 code, else raise `ValidationError`.

    A country is an assigned ISO 3166-1 alpha-2 code ("CA", "DE"); a
    subdivision is written as ISO 3166-2 ("US-CA", "CA-QC"): an assigned
    country, a hyphen, and one to three letters or digits (the subdivision
    itself is not looked up).

    Examples:
        >>> check_jurisdiction("US-CA")
        'US-CA'
    """
    if not isinstance(value, str) or not _JURISDICTION_RE.fullmatch(value):
        hint = "write an ISO 3166 code: a country such as 'CA' or 'DE', or a subdivision 'US-CA'"
        if isinstance(value, str) and _JURISDICTION_RE.fullmatch(value.strip().upper()):
            hint = f"write it in upper case without spaces: {value.strip().upper()!r}"
        raise ValidationError(
            f"{value!r} is not an ISO 3166 country or subdivision code",
            column=argument,
            value=value,
            hint=hint,
        )
    if value[:2] not in _ISO_COUNTRIES:
        raise ValidationError(
            f"{value[:2]!r} is not an assigned ISO 3166-1 country code",
            column=argument,
            value=value,
            hint="the United Kingdom is 'GB'" if value[:2] == "UK" else "see ISO 3166-1 alpha-2",
        )
    return value


def _check_jurisdiction(_: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    if value is not None:
        check_jurisdiction(value, argument=attribute.name)


# --------------------------------------------------------------------------- records


@attrs.frozen
class Evidence:
    """Where and how consent was collected, and the proof of it; every field is optional.

    Args:
        source: Where it was collected: "checkout", "signup form", "call centre".
        text: The consent wording the person saw or heard.
        text_version: The version of that wording.
        address: The email address or phone number the consent names (TCPA
            express written consent must name the number called).
        ip: The IP address the consent came from.
        user_agent: The browser or app that sent it.
        reference: A pointer to the proof: a recording id, a signed form, a
            confirmation email's message id.

    `address`, `ip` and `user_agent` are personal data: they are masked in
    `repr` and dropped by `ConsentLedger.erase`.

    Examples:
        >>> Evidence(source="checkout", address="+1 415 555 0100", ip="203.0.113.7")
        Evidence(source='checkout', text=None, text_version=None, address='***0100',
                 ip='***', user_agent=None, reference=None)
    """

    source: str | None = attrs.field(default=None, validator=_check_text)
    text: str | None = attrs.field(default=None, validator=_check_text)
    text_version: str | None = attrs.field(default=None, validator=_check_text)
    address: str | None = attrs.field(
        default=None, validator=_check_text, repr=lambda a: _mask_address(a)
    )
    ip: str | None = attrs.field(
        default=None, validator=_check_text, repr=lambda v: "None" if v is None else "'***'"
    )
    user_agent: str | None = attrs.field(default=None, validator=_check_text)
    reference: str | None = attrs.field(default=None, validator=_check_text)

    def names_phone(self, phone: str | None) -> bool:
        """True if `address` is the phone number `phone` (compared by `phone_digits`).

        Examples:
            >>> Evidence(address="+1 (415) 555-0100").names_phone("415.555.0100")
            True
            >>> Evidence(address="+1 (415) 555-0100").names_phone(None)
            False
        """
        if phone is None or self.address is None:
            return False
        digits = phone_digits(self.address)
        return bool(digits) and digits == phone_digits(phone)


def _mask_address(value: str | None) -> str:
    if value is None:
        return "None"
    return _mask_email(value) if "@" in value else _mask_phone(value)


def _to_evidence(value: Evidence | None) -> Evidence | None:
    if value is None or isinstance(value, Evidence):
        return value
    raise ValidationError(
        f"evidence must be an Evidence or None, got {type(value).__name__}",
        column="evidence",
        value=value,
        hint="wrap it: Evidence(source=..., text=..., address=...)",
    )


@attrs.frozen
class ConsentEvent:
    """One consent fact about one person, for one channel and one purpose.

    Args:
        subject_id: The person's id (a `Customer.id`): a non-empty `str`.
        channel: A `relmark.models.Channel` or its value. `None` is allowed
            for withdraw, object and gpc events and means every channel
            ("unsubscribe from everything", a GPC signal); a grant must name
            its channel, since consent is specific.
        purpose: A `Purpose` or its value ("marketing", "transactional",
            "profiling", "sale_or_share").
        action: An `Action` or its value.
        basis: A `Basis` or its value; required for a grant, optional (and
            ignored) for the other actions.
        at: When it happened, aware (naive timestamps are refused). Events are
            judged by this time, not by when they reached the ledger.
        jurisdiction: ISO 3166 code of where it was collected ("CA", "US-CA"),
            or None. With a code, `ConsentLedger.append` refuses a grant whose
            basis no regime of that jurisdiction recognises.
        evidence: An `Evidence`, or None.
        event_id: Your unique id for the event, or None; a ledger refuses a
            second event with the same id.

    Raises:
        ValidationError: if a field is invalid; `column` names it.

    Examples:
        >>> gpc = ConsentEvent("c1", None, "sale_or_share", "gpc", None, "2024-05-01T10:00:00Z",
        ...                    "US-CA")
        >>> gpc.channel, gpc.action, gpc.action.stops
        (None, <Action.GPC: 'gpc'>, True)
        >>> ConsentEvent("c1", None, "marketing", "grant", "express", "2024-05-01T10:00:00Z")
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: a grant must name its channel (column 'channel')
        Hint: ...
    """

    subject_id: str = attrs.field(validator=_check_identifier)
    channel: Channel | None = attrs.field(converter=_to_optional_channel)
    purpose: Purpose = attrs.field(converter=_to_purpose)
    action: Action = attrs.field(converter=_to_action)
    basis: Basis | None = attrs.field(converter=_to_basis)
    at: pendulum.DateTime = attrs.field(converter=_to_at)
    jurisdiction: str | None = attrs.field(default=None, validator=_check_jurisdiction)
    evidence: Evidence | None = attrs.field(default=None, converter=_to_evidence)
    event_id: str | None = attrs.field(default=None, validator=_check_text)

    def __attrs_post_init__(self) -> None:
        if self.action is Action.GRANT:
            if self.channel is None:
                raise ValidationError(
                    "a grant must name its channel",
                    column="channel",
                    value=None,
                    hint="consent is specific: record one grant per channel",
                )
            if self.basis is None:
                raise ValidationError(
                    "a grant needs a basis",
                    column="basis",
                    value=None,
                    hint="say why you may contact them: 'express', 'implied_purchase', ...",
                )
        if self.action is Action.GPC and self.purpose is not Purpose.SALE_OR_SHARE:
            raise ValidationError(
                f"a GPC signal is an opt-out of sale or sharing, not of {self.purpose.value!r}",
                column="purpose",
                value=self.purpose,
                hint="record it with purpose='sale_or_share'; record other opt-outs as 'withdraw'",
            )
        if self.action is Action.CONFIRM and self.channel is None:
            raise ValidationError(
                "a confirmation must name the channel of the grant it confirms",
                column="channel",
                value=None,
                hint="pass the channel the double opt-in message went to",
            )


def _to_suppression_value(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            "a suppression needs a non-empty value",
            column="value",
            value=value,
            hint="pass the subject id, email address or phone number to suppress",
        )
    return value


def _required(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        raise ValidationError(
            f"{attribute.name} is required", column=attribute.name, hint="say why, in words"
        )
    _check_text(instance, attribute, value)


@attrs.frozen
class Suppression:
    """A do-not-contact entry; it overrides any grant.

    Args:
        value: The subject id, email address or phone number to suppress.
        by: What `value` is: "subject" (default), "email" or "phone". Email
            addresses are matched by `normalise_email`, phone numbers by
            `phone_digits`; they match the `customer` passed to the check.
        reason: Why, in words ("complaint", "legal hold", "bounced").
        at: Since when, aware; a check before this moment ignores it.
        scope: "marketing" (default) blocks every purpose but transactional
            messages; "all" blocks transactional messages too.

    Examples:
        >>> Suppression("ada@example.com", by="email", reason="complaint",
        ...             at="2024-01-01T00:00:00Z", scope="all").key
        ('email', 'ada@example.com')
        >>> Suppression("c1", reason="legal hold", at="2024-01-01T00:00:00Z", scope="some")
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: 'some' is not a valid scope (column 'scope')
        Hint: use one of 'marketing', 'all' (or the Scope member)
    """

    value: str = attrs.field(converter=_to_suppression_value, repr=False)
    by: SuppressionKind = attrs.field(
        default=SuppressionKind.SUBJECT, kw_only=True, converter=_to_kind
    )
    reason: str = attrs.field(kw_only=True, validator=_required)
    at: pendulum.DateTime = attrs.field(kw_only=True, converter=_to_at)
    scope: Scope = attrs.field(default=Scope.MARKETING, kw_only=True, converter=_to_scope)

    @property
    def key(self) -> tuple[str, str]:
        """`(by, normalised value)`: what the suppression is matched on."""
        if self.by is SuppressionKind.EMAIL:
            return (self.by.value, normalise_email(self.value))
        if self.by is SuppressionKind.PHONE:
            return (self.by.value, phone_digits(self.value))
        return (self.by.value, self.value)

    def __repr__(self) -> str:
        shown = {
            SuppressionKind.EMAIL: _mask_email,
            SuppressionKind.PHONE: _mask_phone,
            SuppressionKind.SUBJECT: repr,
        }[self.by](self.value)
        return (
            f"Suppression({shown}, by={self.by.value!r}, reason={self.reason!r},"
            f" at={self.at!r}, scope={self.scope.value!r})"
        )
