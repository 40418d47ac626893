"""A synthetic customer base whose true parameters are known: `make_synthetic`.

Customers are acquired (make their first purchase) uniformly over an
acquisition window, then buy following the BG/NBD process of Fader, Hardie
and Lee (2005) and spend following the Gamma-Gamma model of Fader and Hardie
(2013); the company sends them campaigns, and active customers click
through some of them to the website. Every draw is vectorised with numpy
over all customers at once: a million customers and their ten million
purchases take a few seconds.

The process, for customer i, in the `time_unit` of the rates:

- first purchase at `created_at`, uniform over [start, acquisition_end);
- purchase rate lambda_i ~ Gamma(shape r, rate alpha): repeat purchases are
  a Poisson process of rate lambda_i while the customer is active;
- dropout probability p_i ~ Beta(a, b): after each repeat purchase the
  customer becomes inactive for good with probability p_i;
- spend scale nu_i ~ Gamma(shape q, rate v), and each purchase's amount
  ~ Gamma(shape p, rate nu_i), rounded to cents; so E[amount] = p v / (q - 1).

How it is drawn without a loop over customers: the number of purchases a
customer would make before dropping out is geometric, K_i ~ Geom(p_i); the
number of Poisson events in the time left before `end` is
M_i ~ Poisson(lambda_i tau_i); the customer makes X_i = min(K_i, M_i)
repeat purchases and is alive at `end` when M_i < K_i. Given M_i, Poisson
event times are uniform order statistics, and the first X_i of M_i uniform
order statistics are cumulative sums of X_i standard exponentials divided by
the same sum plus one Gamma(M_i - X_i + 1) draw. So the work is one draw per
purchase, whatever the rates.

Consent histories. Each customer also gets a jurisdiction (an ISO 3166 code,
drawn with the fixed shares of `JURISDICTION_SHARES`, independently of the
time zone so that the draws above stay as they were) and a history of consent
events in the vocabulary of `relmark.consent`, drawn from a child of the
seed's `numpy.random.SeedSequence` (so the customers, transactions,
touchpoints and truth are the same with or without it), with the rates of
`CONSENT_RATES`:

| event | who | when | basis |
| --- | --- | --- | --- |
| email grant | `email_opt_in` of everyone | signup (first purchase) | express |
| email grant | GB customers who did not opt in | signup | soft_opt_in (PECR reg. 22(3)) |
| email grant | CA customers, at every purchase before an unsubscribe | the purchase | implied_purchase (CASL s. 10(10)(a): 2 years) |
| confirm | `double_opt_in` of DE express email grants | `confirm_hours` later on average | |
| sms grant | `sms_opt_in` of everyone | signup | express_written naming the number in the US (TCPA), else express |
| email withdraw | everyone who gets marketing email (an email grant, or the US opt-out law) | hazard `email_unsubscribe_per_year` from signup | |
| sms withdraw | sms subscribers | hazard `sms_unsubscribe_per_year` from signup | |
| gpc | `gpc` of US-CA customers | uniform between signup and the end | |

Customers who signed up for texts have a `phone` (fictional: the country's
calling code, then 555 and seven digits of the customer's number); the sms
grant's `address` names it, except for `old_number` of them, whose consent
names a number they have since replaced (so TCPA refuses it). Every basis is
one its jurisdiction's regimes recognise, so `relmark.consent.ConsentLedger`
accepts every event.

Item interactions. The items of each transaction are drawn too, from a
second child of the seed's sequence (so nothing above changes with them):
the catalogue has `n_items` items split evenly, at random, into `n_tastes`
taste groups, and each item has a popularity weight following Zipf's law,
(rank + 1) ** -`item_popularity` over a random ranking. Each customer
belongs to one taste group, uniformly at random. Each of the `quantity`
units of a transaction is, with chance `taste_share`, an item of the
customer's taste group drawn in proportion to the items' weights within
the group, and otherwise an item of the whole catalogue drawn in proportion
to the weights (the popularity component). Units of the same item in one
transaction make one interaction row whose `quantity` counts them, so a
transaction's interactions add up to its `quantity`. Customers of a group
share their tastes, so item-to-item collaborative filtering recovers the
groups, and the most popular items of a segment that does not know them
(a jurisdiction, an RFM segment) do worse. Each unit is one uniform draw
for the branch, one for the item and a binary search: ten million units take
about a second.
"""

from __future__ import annotations

import enum
import math
import types
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import attrs
import narwhals.stable.v2 as nw
import numpy as np
import numpy.typing as npt

from relmark._backends import Column, Text, build_frame, resolve_backend
from relmark._checks import integer
from relmark._frames import Frame, utc_column
from relmark._time import (
    TimeLike,
    TimeUnit,
    to_datetime,
    to_utc_us,
    unit_length_us,
    validate_time_unit,
    validate_timezone,
)
from relmark.consent.events import Action, Basis, ConsentEvent, Evidence, Purpose
from relmark.exceptions import ValidationError
from relmark.models import Channel

__all__ = [
    "CONSENT_RATES",
    "DEFAULT_CHANNELS",
    "DEFAULT_PURPOSES",
    "DEFAULT_TIMEZONES",
    "JURISDICTION_SHARES",
    "SyntheticData",
    "SyntheticTruth",
    "make_synthetic",
]

DEFAULT_CHANNELS: Final[tuple[str, ...]] = ("email", "sms", "push")
"""Channels campaigns are sent on, unless told otherwise."""

DEFAULT_PURPOSES: Final[tuple[str, ...]] = ("marketing", "newsletter")
"""Purposes campaigns are sent for, unless told otherwise."""

DEFAULT_TIMEZONES: Final[tuple[str, ...]] = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Sydney",
)
"""IANA zones customers live in, unless told otherwise (equally likely)."""

JURISDICTION_SHARES: Final[Mapping[str, float]] = types.MappingProxyType(
    {
        "US": 0.35,
        "US-CA": 0.10,
        "CA": 0.15,
        "GB": 0.12,
        "DE": 0.10,
        "FR": 0.08,
        "NL": 0.05,
        "AU": 0.05,
    }
)
"""Where synthetic customers live (ISO 3166 codes) and the share of each.

A North American and European customer base: the United States (California,
"US-CA", on its own: CAN-SPAM, TCPA and CCPA apply there), Canada (CASL,
PIPEDA), the United Kingdom (UK GDPR with PECR), Germany, France and the
Netherlands (GDPR), and Australia, for which relmark has no regime built in
(so every consent check there answers no).
"""

CONSENT_RATES: Final[Mapping[str, float]] = types.MappingProxyType(
    {
        "email_opt_in": 0.55,
        "sms_opt_in": 0.25,
        "old_number": 0.10,
        "double_opt_in": 0.85,
        "confirm_hours": 3.0,
        "email_unsubscribe_per_year": 0.15,
        "sms_unsubscribe_per_year": 0.30,
        "gpc": 0.30,
    }
)
"""The true rates of the synthetic consent histories (see the module docstring).

- `email_opt_in`: chance a customer gives express consent to marketing email at signup.
- `sms_opt_in`: chance a customer signs up for marketing texts at signup.
- `old_number`: chance a text signup's consent names a number the customer
  has since replaced.
- `double_opt_in`: chance a German express email grant is confirmed by a
  double opt-in; the confirmation comes an exponential delay of mean
  `confirm_hours` later.
- `email_unsubscribe_per_year`, `sms_unsubscribe_per_year`: constant hazards
  (per 365.25 days) of unsubscribing, from signup.
- `gpc`: chance a California customer sends a Global Privacy Control signal.
"""

_CALLING_CODES: Final[Mapping[str, str]] = {
    "US": "1",
    "US-CA": "1",
    "CA": "1",
    "GB": "44",
    "DE": "49",
    "FR": "33",
    "NL": "31",
    "AU": "61",
}
_CONSENT_CHANNELS: Final[tuple[str, ...]] = (Channel.EMAIL.value, Channel.SMS.value)
_CONSENT_PURPOSES: Final[tuple[str, ...]] = (Purpose.MARKETING.value, Purpose.SALE_OR_SHARE.value)
# In the order events at the same instant are judged: grant, confirm, then the stops.
_ACTIONS: Final[tuple[str, ...]] = (
    Action.GRANT.value,
    Action.CONFIRM.value,
    Action.WITHDRAW.value,
    Action.GPC.value,
)
_BASES: Final[tuple[str, ...]] = (
    Basis.EXPRESS.value,
    Basis.EXPRESS_WRITTEN.value,
    Basis.IMPLIED_PURCHASE.value,
    Basis.SOFT_OPT_IN.value,
)
_SOURCES: Final[tuple[str, ...]] = (
    "signup form",
    "checkout",
    "double opt-in email",
    "unsubscribe link",
    "STOP reply",
    "browser",
)
_S_PER_YEAR: Final[float] = 365.25 * 86_400
_US_PER_S: Final[int] = 1_000_000
_S_PER_DAY: Final[int] = 86_400
_CLICK_DELAY_S: Final[float] = 3_600.0
_CHUNK: Final[int] = 1 << 22
_WEB: Final[str] = Channel.WEB.value
_NEVER: Final[int] = np.iinfo(np.int64).max
_MAX_COUNT: Final[float] = float(2**62)


@attrs.frozen(eq=False)
class SyntheticTruth:
    """The true, normally unobservable, state of each synthetic customer.

    Every array has one entry per customer, in the order of
    `SyntheticData.customers` (customer `i` is row `i`), and is read-only.

    Attributes:
        purchase_rate: lambda, purchases per `time_unit` while active (float64).
        dropout_probability: p, the chance of dropping out after each repeat
            purchase (float64).
        spend_scale: nu, the rate of the customer's spend distribution;
            the customer's mean spend is `params["p"] / spend_scale` (float64).
        repeat_purchases: Purchases after the first made by the BG/NBD
            process before `end`, not counting same-day companions (int64).
        alive: Whether the customer is still active at `end` (bool).
        dropout_at: When the customer dropped out (the time of their last
            BG/NBD purchase), NaT if alive at `end` (datetime64[us], UTC).
        taste_group: The taste group the customer's item interactions are
            drawn from, 0 .. `n_tastes` - 1 (int64); the items' groups are
            the `group` column of `SyntheticData.items`.
    """

    purchase_rate: npt.NDArray[np.float64]
    dropout_probability: npt.NDArray[np.float64]
    spend_scale: npt.NDArray[np.float64]
    repeat_purchases: npt.NDArray[np.int64]
    alive: npt.NDArray[np.bool_]
    dropout_at: npt.NDArray[np.datetime64]
    taste_group: npt.NDArray[np.int64]


@attrs.frozen(eq=False, repr=False)
class SyntheticData:
    """A synthetic customer base, its transactions, touchpoints and consent, and the truth.

    Attributes:
        customers: One row per customer, ordered by acquisition:
            `customer_id`, `timezone` (IANA name), `created_at` (time of the
            first purchase, UTC), `jurisdiction` (ISO 3166 code, see
            `JURISDICTION_SHARES`), `phone` (the fictional mobile number of
            customers who signed up for texts, null for the others).
        transactions: One row per purchase, by customer then time:
            `customer_id`, `datetime` (UTC), `amount` (float64, dollars and
            cents), `quantity` (int64, items).
        touchpoints: One row per contact, by customer then time, in the
            vocabulary of `relmark.models.Touchpoint`: `customer_id`,
            `datetime` (UTC), `channel` (a `Channel` value), `kind` (the
            channel's default `TouchpointKind` value), `direction`
            ("outbound" for a campaign message, "inbound" for the web visit
            of a click-through), `purpose`, `campaign`.
        consent_events: One row per consent event, by customer then time
            (at the same second: grants, confirmations, then stops), in the
            vocabulary of `relmark.consent.ConsentEvent`: `customer_id`,
            `channel` ("email", "sms", or null for a GPC signal), `purpose`
            ("marketing", or "sale_or_share" for a GPC signal), `action`
            ("grant", "confirm", "withdraw", "gpc"), `basis` (grants only,
            else null), `at` (UTC), `jurisdiction` (the customer's), and the
            evidence: `source` (where it was collected) and `address` (the
            phone number an sms grant names, else null). The process and its
            rates are in the module docstring and `CONSENT_RATES`.
        params: Read-only mapping of every argument the data was made with:
            the true parameters, the seed, `start` and `end` (UTC), and the
            fixed truth of the consent histories, `jurisdiction_shares` and
            `consent_rates`.
        truth: Per-customer true rates and states, see `SyntheticTruth`.
        items: The catalogue, one row per item in id order: `item_id`,
            `group` (the taste group the item belongs to, int64) and
            `popularity` (the item's true share of the popularity weights;
            the shares add up to 1).
        interactions: One row per item bought in a transaction, by customer,
            time, then item: `customer_id`, `item_id`, `datetime` (the
            transaction's, UTC) and `quantity` (int64 units of the item; a
            transaction's rows add up to its `quantity`). The process is in
            the module docstring.
    """

    customers: Frame
    transactions: Frame
    touchpoints: Frame
    consent_events: Frame
    params: Mapping[str, Any]
    truth: SyntheticTruth
    items: Frame
    interactions: Frame

    def consent_records(self) -> list[ConsentEvent]:
        """The rows of `consent_events` as `ConsentEvent` records, ready for a `ConsentLedger`.

        Examples:
            >>> data = make_synthetic(50, seed=7, start="2024-01-01T00:00:00Z",
            ...                       end="2025-01-01T00:00:00Z")
            >>> len(data.consent_records()) == len(data.consent_events)
            True
        """
        events = nw.from_native(self.consent_events, eager_only=True)

        def text(name: str) -> list[Any]:
            """The column as strings, None where missing (pandas would give NaN)."""
            return [v or None for v in events[name].cast(nw.String()).fill_null("").to_list()]

        moments = utc_column(events, "at", argument="at").astype("datetime64[us]")
        rows = zip(
            *(text(name) for name in ("customer_id", "channel", "purpose", "action", "basis")),
            moments,
            *(text(name) for name in ("jurisdiction", "source", "address")),
            strict=True,
        )
        return [
            ConsentEvent(
                subject,
                channel,
                purpose,
                action,
                basis,
                at,
                jurisdiction,
                Evidence(source=source, address=address),
            )
            for subject, channel, purpose, action, basis, at, jurisdiction, source, address in rows
        ]

    def __repr__(self) -> str:
        return (
            f"SyntheticData(backend={self.params['backend']!r},"
            f" customers={len(self.customers)}, transactions={len(self.transactions)},"
            f" touchpoints={len(self.touchpoints)}, consent_events={len(self.consent_events)},"
            f" seed={self.params['seed']!r})"
        )


def _real(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValidationError(
            f"{name} must be a number, got {type(value).__name__}", column=name, value=value
        )
    number = float(value)
    if not math.isfinite(number):
        raise ValidationError(f"{name} must be finite, got {number}", column=name, value=value)
    return number


def _positive(value: object, name: str) -> float:
    number = _real(value, name)
    if number <= 0:
        raise ValidationError(
            f"{name} must be positive, got {number}",
            column=name,
            value=value,
            hint="the model's shape and rate parameters are all > 0",
        )
    return number


def _share(value: object, name: str, *, below_one: bool = False) -> float:
    number = _real(value, name)
    if number < 0 or number > 1 or (below_one and number == 1):
        upper = "1 (excluded)" if below_one else "1"
        raise ValidationError(
            f"{name} must be between 0 and {upper}, got {number}", column=name, value=value
        )
    return number


def _labels(values: object, name: str) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise ValidationError(
            f"{name} must be a non-empty sequence of strings, got {values!r}",
            column=name,
            value=values,
            hint=f"e.g. {name}=({DEFAULT_CHANNELS[0]!r}, {DEFAULT_CHANNELS[1]!r})"
            if name == "channels"
            else None,
        )
    labels = []
    for item in values:
        label = item.value if isinstance(item, enum.Enum) else item
        if not isinstance(label, str) or not label:
            raise ValidationError(
                f"{name} must hold non-empty strings, got {item!r}", column=name, value=item
            )
        labels.append(label)
    if len(set(labels)) != len(labels):
        raise ValidationError(f"{name} has duplicates: {labels!r}", column=name, value=values)
    return tuple(labels)


def _channel(label: str) -> str:
    try:
        return Channel(label).value
    except ValueError:
        valid = ", ".join(repr(member.value) for member in Channel)
        raise ValidationError(
            f"{label!r} is not a channel",
            column="channels",
            value=label,
            hint=f"use values of relmark.models.Channel: {valid}",
        ) from None


def _as_us(value: TimeLike, name: str) -> int:
    return int(to_utc_us(value, argument=name).astype(np.int64))


def _order(
    customer: npt.NDArray[np.int64], seconds: npt.NDArray[np.int64], n: int, span: int
) -> npt.NDArray[np.intp] | None:
    """Stable order by customer, then time (whole seconds in [0, span)); None if in order."""
    if n * (span + 1) >= 2**62:  # the combined key would overflow
        return np.lexsort((seconds, customer))
    key = customer * (span + 1) + seconds
    if (key[1:] >= key[:-1]).all():
        return None
    return np.argsort(key, kind="stable")


def _geometric(
    rng: np.random.Generator, success: npt.NDArray[np.float64] | float, size: int
) -> npt.NDArray[np.int64]:
    """Failures before the first success (0, 1, ...), safe for tiny probabilities."""
    with np.errstate(divide="ignore"):
        scale = -np.log1p(-np.asarray(success, dtype=np.float64))
        count = np.floor(rng.standard_exponential(size) / scale)
    return np.minimum(count, _MAX_COUNT).astype(np.int64)


def make_synthetic(
    n_customers: int,
    *,
    seed: int,
    start: TimeLike,
    end: TimeLike,
    acquisition_end: TimeLike | None = None,
    time_unit: TimeUnit = "D",
    r: float = 0.24,
    alpha: float = 4.41,
    a: float = 0.79,
    b: float = 2.43,
    p: float = 6.25,
    q: float = 3.74,
    v: float = 15.44,
    same_day_share: float = 0.0,
    unit_price: float = 15.0,
    channels: Sequence[str] = DEFAULT_CHANNELS,
    purposes: Sequence[str] = DEFAULT_PURPOSES,
    n_campaigns: int = 12,
    reach: float = 0.5,
    click_rate: float = 0.05,
    timezones: Sequence[str] = DEFAULT_TIMEZONES,
    id_type: Literal["int", "str"] = "int",
    backend: str | None = None,
    n_items: int = 200,
    n_tastes: int = 8,
    taste_share: float = 0.8,
    item_popularity: float = 1.0,
) -> SyntheticData:
    """Make a synthetic customer base with known true parameters.

    Customers make a first purchase at a uniform time in
    [`start`, `acquisition_end`), then buy following BG/NBD and spend
    following Gamma-Gamma (see the module docstring), until they drop out or
    the data ends at `end`. The default parameters are the published CDNOW
    estimates (Fader, Hardie and Lee 2005; Fader and Hardie 2013), with the
    rates read per day instead of per week. The same seed and arguments
    always give the same data.

    Each customer also gets a jurisdiction and a consent history (express,
    implied and soft opt-in grants, double opt-in confirmations,
    unsubscribes, Global Privacy Control signals; see the module docstring),
    drawn from a child of the seed's sequence: adding them changed none of
    the other outputs. So are the items each transaction bought, from another
    child: customers in latent taste groups buy mostly the items of their
    group, plus popular items (see the module docstring).

    Timestamps are timezone-aware UTC with microsecond resolution, on whole
    seconds after `start`, and fall in [`start`, `end`).

    Args:
        n_customers: How many customers to make (>= 1).
        seed: Seed of `numpy.random.default_rng` (an integer >= 0).
        start: When the data starts: the first possible acquisition (aware).
        end: When the data ends, excluded: the observation end (aware).
        acquisition_end: Last time (excluded) a customer can be acquired;
            defaults to `end`.
        time_unit: The unit of the purchase rates: "D" (per day), "W" (per
            week) or "h" (per hour). `alpha` is in this unit.
        r: Shape of the Gamma distribution of purchase rates.
        alpha: Rate (scale parameter) of the Gamma distribution of purchase
            rates; the mean rate is r / alpha per `time_unit`.
        a: First shape of the Beta distribution of dropout probabilities.
        b: Second shape of the Beta distribution of dropout probabilities.
        p: Shape of each purchase's Gamma spend distribution.
        q: Shape of the Gamma distribution of customers' spend scales.
        v: Rate of the Gamma distribution of customers' spend scales (the
            Gamma-Gamma "gamma"); the mean amount is p v / (q - 1).
        same_day_share: Chance that a purchase is followed by another one on
            the same UTC day (an order split in two, a forgotten item); each
            companion may have one too, so the number of companions is
            geometric. Companions are outside the BG/NBD process: summaries
            by day (`time_unit="D"`) are unchanged, `truth.repeat_purchases`
            leaves them out. In [0, 1).
        unit_price: Typical price of one item: a purchase's quantity is 1 plus
            a Poisson number with mean max(amount / unit_price - 1, 0).
        channels: Channels campaigns go out on: `Channel` members or their
            values ("email", "sms", "push", "post", ...).
        purposes: Purposes campaigns are sent for.
        n_campaigns: Campaigns sent, each at a uniform time in [start, end),
            on a random channel for a random purpose (>= 0).
        reach: Chance that a campaign is sent to each customer acquired
            before it goes out, in [0, 1].
        click_rate: Chance that a customer still active when a campaign
            arrives clicks through to the website, within about an hour (an
            inbound "web" touchpoint of the same campaign), in [0, 1].
            Customers who have dropped out never click.
        timezones: IANA zones customers live in, equally likely.
        id_type: "int" for int64 customer ids 0..n-1 in order of acquisition,
            "str" for the same numbers as zero-padded strings; likewise item
            ids are int64 0..n_items-1, or "item-" and the zero-padded number.
        backend: "pandas", "polars" or "pyarrow"; None takes the first one
            installed, in that order.
        n_items: Items in the catalogue (>= 1).
        n_tastes: Taste groups of customers and items (1 <= n_tastes <= n_items).
        taste_share: Chance that a unit bought is drawn from the customer's
            taste group rather than from the whole catalogue, in [0, 1].
        item_popularity: Exponent s of the items' Zipf popularity weights
            (rank + 1) ** -s, in [0, 10]; 0 makes every item equally popular.

    Returns:
        A `SyntheticData` with the `customers`, `transactions`,
        `touchpoints`, `consent_events`, `items` and `interactions` frames,
        the `params` and the per-customer `truth`.

    Raises:
        ValidationError: if an argument is out of range, naming it.

    Examples:
        >>> data = make_synthetic(
        ...     1_000,
        ...     seed=7,
        ...     start="2024-01-01T00:00:00Z",
        ...     end="2025-01-01T00:00:00Z",
        ...     backend="polars",
        ... )
        >>> data
        SyntheticData(backend='polars', customers=1000, transactions=..., touchpoints=...,
                      consent_events=..., seed=7)
        >>> data.transactions.columns
        ['customer_id', 'datetime', 'amount', 'quantity']
        >>> data.touchpoints.columns
        ['customer_id', 'datetime', 'channel', 'kind', 'direction', 'purpose', 'campaign']
        >>> data.consent_events.columns
        ['customer_id', 'channel', 'purpose', 'action', 'basis', 'at', 'jurisdiction',
         'source', 'address']
        >>> data.interactions.columns
        ['customer_id', 'item_id', 'datetime', 'quantity']
        >>> data.items.columns
        ['item_id', 'group', 'popularity']
        >>> data.params["r"], data.params["alpha"], data.params["end"]
        (0.24, 4.41, DateTime(2025, 1, 1, 0, 0, 0, tzinfo=Timezone('UTC')))
        >>> bool(data.truth.alive.any() and not data.truth.alive.all())
        True
        >>> make_synthetic(0, seed=7, start="2024-01-01T00:00:00Z", end="2025-01-01T00:00:00Z")
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: n_customers must be at least 1, got 0 (column 'n_customers')
    """
    # Validate everything before any work is done.
    n = integer(n_customers, "n_customers", minimum=1)
    seed_value = integer(seed, "seed", minimum=0)
    start_dt = to_datetime(start, argument="start").in_timezone("UTC")
    end_dt = to_datetime(end, argument="end").in_timezone("UTC")
    start_us, end_us = _as_us(start, "start"), _as_us(end, "end")
    if end_us <= start_us:
        raise ValidationError(
            f"end ({end_dt}) must be after start ({start_dt})", column="end", value=end
        )
    if acquisition_end is None:
        acq_dt, acq_us = end_dt, end_us
    else:
        acq_dt = to_datetime(acquisition_end, argument="acquisition_end").in_timezone("UTC")
        acq_us = _as_us(acquisition_end, "acquisition_end")
        if not start_us < acq_us <= end_us:
            raise ValidationError(
                f"acquisition_end ({acq_dt}) must be after start and no later than end",
                column="acquisition_end",
                value=acquisition_end,
            )
    unit = validate_time_unit(time_unit)
    numbers = {
        name: _positive(value, name)
        for name, value in (
            ("r", r),
            ("alpha", alpha),
            ("a", a),
            ("b", b),
            ("p", p),
            ("q", q),
            ("v", v),
            ("unit_price", unit_price),
        )
    }
    same_day = _share(same_day_share, "same_day_share", below_one=True)
    reach_share = _share(reach, "reach")
    click_share = _share(click_rate, "click_rate")
    campaigns = integer(n_campaigns, "n_campaigns", minimum=0)
    channel_names = tuple(_channel(c) for c in _labels(channels, "channels"))
    purpose_names = _labels(purposes, "purposes")
    zones = tuple(
        validate_timezone(z, argument="timezones") for z in _labels(timezones, "timezones")
    )
    if id_type not in ("int", "str"):
        raise ValidationError(
            f"unknown id_type {id_type!r}",
            column="id_type",
            value=id_type,
            hint="use 'int' or 'str'",
        )
    chosen = resolve_backend(backend)
    items_n = integer(n_items, "n_items", minimum=1)
    tastes = integer(n_tastes, "n_tastes", minimum=1)
    if tastes > items_n:
        raise ValidationError(
            f"n_tastes ({tastes}) must be at most n_items ({items_n})",
            column="n_tastes",
            value=n_tastes,
            hint="every taste group needs at least one item",
        )
    taste = _share(taste_share, "taste_share")
    popularity = _real(item_popularity, "item_popularity")
    if not 0 <= popularity <= 10:
        raise ValidationError(
            f"item_popularity must be between 0 and 10, got {popularity}",
            column="item_popularity",
            value=item_popularity,
            hint="0 makes every item equally popular; 1 is Zipf's law",
        )

    rng = np.random.default_rng(seed_value)
    span_s = (end_us - start_us + _US_PER_S - 1) // _US_PER_S  # whole seconds fit in [0, span_s)
    window_us = float(end_us - start_us)

    # Customers: acquisition times (whole seconds after start), zones, latent traits.
    born = np.sort(np.floor(rng.random(n) * (acq_us - start_us) / _US_PER_S).astype(np.int64))
    zone = rng.integers(len(zones), size=n)
    rate = rng.gamma(numbers["r"], 1.0 / numbers["alpha"], size=n)
    dropout = rng.beta(numbers["a"], numbers["b"], size=n)
    scale = rng.gamma(numbers["q"], 1.0 / numbers["v"], size=n)

    # Repeat purchases: X = min(K, M), event times as uniform order statistics.
    left_us = window_us - born * float(_US_PER_S)
    lifetime = _geometric(rng, dropout, n) + 1
    events = rng.poisson(rate * (left_us / unit_length_us(unit)))
    repeats = np.minimum(lifetime, events)
    alive = events < lifetime
    owner = np.repeat(np.arange(n, dtype=np.int64), repeats)
    sums = np.concatenate(([0.0], np.cumsum(rng.standard_exponential(int(repeats.sum())))))
    last = np.cumsum(repeats)
    first = last - repeats
    rest = rng.standard_gamma((events - repeats + 1).astype(np.float64))
    fraction = (sums[1:] - sums[first][owner]) / (sums[last] - sums[first] + rest)[owner]
    repeat_s = np.floor(born[owner] + fraction * (left_us[owner] / _US_PER_S)).astype(np.int64)
    np.minimum(repeat_s, span_s - 1, out=repeat_s)  # guards against rounding up to `end`
    dropout_s = np.full(n, _NEVER, dtype=np.int64)
    dead = np.flatnonzero(~alive)
    dropout_s[dead] = repeat_s[last[dead] - 1]

    # All purchases, by customer then time: the first one, then the repeats.
    per_customer = repeats + 1
    buyer = np.repeat(np.arange(n, dtype=np.int64), per_customer)
    bought_s = np.empty(len(buyer), dtype=np.int64)
    opening = np.cumsum(per_customer) - per_customer
    is_repeat = np.ones(len(buyer), dtype=bool)
    is_repeat[opening] = False
    bought_s[opening] = born
    bought_s[is_repeat] = repeat_s
    if same_day > 0:
        buyer, bought_s = _same_day(rng, buyer, bought_s, same_day, start_us, end_us, n, span_s)
    amount = np.round(rng.standard_gamma(numbers["p"], size=len(buyer)) / scale[buyer], 2)
    quantity = 1 + rng.poisson(np.maximum(amount / numbers["unit_price"] - 1.0, 0.0))

    # Touchpoints: campaigns to acquired customers, clicks from active ones.
    touch = _touchpoints(
        rng,
        born=born,
        dropout_s=dropout_s,
        n_campaigns=campaigns,
        n_channels=len(channel_names),
        n_purposes=len(purpose_names),
        reach=reach_share,
        click_rate=click_share,
        span_s=span_s,
        window_us=window_us,
    )

    def ids(index: npt.NDArray[np.int64]) -> Column:
        if id_type == "int":
            return index
        width = len(str(n - 1))
        return Text(index, np.strings.zfill(np.arange(n).astype(np.str_), width))

    def times(seconds: npt.NDArray[np.int64]) -> npt.NDArray[np.datetime64]:
        return (start_us + seconds * _US_PER_S).astype("datetime64[us]")

    # Consent histories, from their own generator: the draws above are as they always were.
    consent = _consent(
        np.random.default_rng(np.random.SeedSequence(seed_value).spawn(1)[0]),
        born=born,
        buyer=buyer,
        bought_s=bought_s,
        span_s=span_s,
    )
    # Item interactions, from a second child generator: the draws above are as they were.
    basket = _interactions(
        np.random.default_rng(np.random.SeedSequence(seed_value).spawn(2)[1]),
        n=n,
        buyer=buyer,
        quantity=quantity,
        n_items=items_n,
        n_tastes=tastes,
        taste_share=taste,
        exponent=popularity,
    )
    if id_type == "int":
        item_ids: Column = np.arange(items_n, dtype=np.int64)
    else:
        digits = np.strings.zfill(np.arange(items_n).astype(np.str_), len(str(items_n - 1)))
        item_ids = Text(np.arange(items_n, dtype=np.int64), np.strings.add("item-", digits))
    items = build_frame(
        {"item_id": item_ids, "group": basket["group"], "popularity": basket["popularity"]},
        chosen,
    )
    sold = basket["transaction"]
    interactions = build_frame(
        {
            "customer_id": ids(buyer[sold]),
            "item_id": basket["item"]
            if isinstance(item_ids, np.ndarray)
            else Text(basket["item"], item_ids.categories),
            "datetime": times(bought_s[sold]),
            "quantity": basket["quantity"],
        },
        chosen,
    )
    jurisdictions = np.array(tuple(JURISDICTION_SHARES))
    customers = build_frame(
        {
            "customer_id": ids(np.arange(n, dtype=np.int64)),
            "timezone": Text(zone, np.array(zones)),
            "created_at": times(born),
            "jurisdiction": Text(consent["jurisdiction"], jurisdictions),
            "phone": consent["phone"],
        },
        chosen,
    )
    transactions = build_frame(
        {
            "customer_id": ids(buyer),
            "datetime": times(bought_s),
            "amount": amount,
            "quantity": quantity,
        },
        chosen,
    )
    inbound = touch["inbound"]
    # Outbound rows are on their campaign's channel; click-throughs are web visits.
    touch_channels = (*channel_names, *(() if _WEB in channel_names else (_WEB,)))
    channel_code = np.where(
        inbound == 1, touch_channels.index(_WEB), touch["channel"][touch["campaign"]]
    )
    kinds = tuple(dict.fromkeys(Channel(c).default_kind.value for c in touch_channels))
    kind_of_channel = np.array([kinds.index(Channel(c).default_kind.value) for c in touch_channels])
    campaign_names = np.array(
        [f"campaign-{i + 1:0{len(str(campaigns))}d}" for i in range(campaigns)]
    )
    touchpoints = build_frame(
        {
            "customer_id": ids(touch["customer"]),
            "datetime": times(touch["seconds"]),
            "channel": Text(channel_code, np.array(touch_channels)),
            "kind": Text(kind_of_channel[channel_code], np.array(kinds)),
            "direction": Text(inbound, np.array(["outbound", "inbound"])),
            "purpose": Text(touch["purpose"][touch["campaign"]], np.array(purpose_names)),
            "campaign": Text(touch["campaign"], campaign_names.astype(np.str_)),
        },
        chosen,
    )
    owner = consent["customer"]
    consent_events = build_frame(
        {
            "customer_id": ids(owner),
            "channel": Text(consent["channel"], np.array(_CONSENT_CHANNELS)),
            "purpose": Text(consent["purpose"], np.array(_CONSENT_PURPOSES)),
            "action": Text(consent["action"], np.array(_ACTIONS)),
            "basis": Text(consent["basis"], np.array(_BASES)),
            "at": times(consent["seconds"]),
            "jurisdiction": Text(consent["jurisdiction"][owner], jurisdictions),
            "source": Text(consent["source"], np.array(_SOURCES)),
            "address": consent["address"],
        },
        chosen,
    )

    dropout_at = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    dropout_at[dead] = times(dropout_s[dead])
    truth = SyntheticTruth(
        purchase_rate=rate,
        dropout_probability=dropout,
        spend_scale=scale,
        repeat_purchases=repeats.astype(np.int64),
        alive=alive,
        dropout_at=dropout_at,
        taste_group=basket["taste"],
    )
    for array in attrs.astuple(truth, recurse=False):
        array.setflags(write=False)
    params = types.MappingProxyType(
        {
            "n_customers": n,
            "seed": seed_value,
            "start": start_dt,
            "end": end_dt,
            "acquisition_end": acq_dt,
            "time_unit": unit,
            **numbers,
            "same_day_share": same_day,
            "channels": channel_names,
            "purposes": purpose_names,
            "n_campaigns": campaigns,
            "reach": reach_share,
            "click_rate": click_share,
            "timezones": zones,
            "id_type": id_type,
            "backend": chosen,
            "jurisdiction_shares": JURISDICTION_SHARES,
            "consent_rates": CONSENT_RATES,
            "n_items": items_n,
            "n_tastes": tastes,
            "taste_share": taste,
            "item_popularity": popularity,
        }
    )
    return SyntheticData(
        customers=customers,
        transactions=transactions,
        touchpoints=touchpoints,
        consent_events=consent_events,
        params=params,
        truth=truth,
        items=items,
        interactions=interactions,
    )


class _Inserter:
    """Puts `counts[i]` extra rows right after row `i`, for every row."""

    def __init__(self, counts: npt.NDArray[np.int64]) -> None:
        per_row = 1 + counts
        self.row_at = np.cumsum(per_row) - per_row
        first_extra = np.cumsum(counts) - counts
        rank = np.arange(int(counts.sum())) - np.repeat(first_extra, counts) + 1
        self.extra_at = np.repeat(self.row_at, counts) + rank
        self.size = len(counts) + len(rank)

    def __call__(self, rows: npt.NDArray[Any], extras: npt.NDArray[Any]) -> npt.NDArray[Any]:
        merged = np.empty(self.size, dtype=rows.dtype)
        merged[self.row_at] = rows
        merged[self.extra_at] = extras
        return merged


def _same_day(
    rng: np.random.Generator,
    buyer: npt.NDArray[np.int64],
    bought_s: npt.NDArray[np.int64],
    share: float,
    start_us: int,
    end_us: int,
    n: int,
    span_s: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Add geometric numbers of same-UTC-day companions after each purchase."""
    companions = _geometric(rng, 1.0 - share, len(buyer))
    parent_s = np.repeat(bought_s, companions)
    at_us = start_us + parent_s * _US_PER_S
    day_us = _S_PER_DAY * _US_PER_S
    limit_us = np.minimum((at_us // day_us + 1) * day_us, end_us)
    room_s = (limit_us - at_us) / _US_PER_S
    extra_s = parent_s + np.floor(rng.random(len(parent_s)) * room_s).astype(np.int64)
    # Companions go right after their purchase: nearly sorted, so the sort is cheap.
    insert = _Inserter(companions)
    all_buyer = insert(buyer, np.repeat(buyer, companions))
    all_s = insert(bought_s, extra_s)
    order = _order(all_buyer, all_s, n, span_s)
    if order is None:
        return all_buyer, all_s
    return all_buyer[order], all_s[order]


def _touchpoints(
    rng: np.random.Generator,
    *,
    born: npt.NDArray[np.int64],
    dropout_s: npt.NDArray[np.int64],
    n_campaigns: int,
    n_channels: int,
    n_purposes: int,
    reach: float,
    click_rate: float,
    span_s: int,
    window_us: float,
) -> dict[str, npt.NDArray[Any]]:
    """Campaign sends and click-throughs, by customer then time (a send before its click)."""
    n = len(born)
    sent_s = np.sort(np.floor(rng.random(n_campaigns) * window_us / _US_PER_S).astype(np.int64))
    channel = rng.integers(n_channels, size=n_campaigns)
    purpose = rng.integers(n_purposes, size=n_campaigns)
    # A customer gets each campaign sent at or after their acquisition with chance `reach`;
    # row-major nonzero() lists the sends by customer, then campaign (that is, time).
    first_eligible = np.searchsorted(sent_s, born, side="left")
    customer_parts: list[npt.NDArray[np.int64]] = [np.empty(0, dtype=np.int64)]
    campaign_parts: list[npt.NDArray[np.int64]] = [np.empty(0, dtype=np.int64)]
    step = max(1, _CHUNK // max(n_campaigns, 1))
    for low in range(0, n if n_campaigns else 0, step):
        high = min(low + step, n)
        draws = rng.random((high - low, n_campaigns), dtype=np.float32) < reach
        draws &= np.arange(n_campaigns) >= first_eligible[low:high, None]
        rows, cols = np.nonzero(draws)
        customer_parts.append(rows.astype(np.int64) + low)
        campaign_parts.append(cols.astype(np.int64))
    customer = np.concatenate(customer_parts)
    campaign = np.concatenate(campaign_parts)
    seconds = sent_s[campaign]
    active = dropout_s[customer] > seconds
    clicked = np.flatnonzero(active & (rng.random(len(customer)) < click_rate))
    delay = np.floor(rng.exponential(_CLICK_DELAY_S, size=len(clicked))).astype(np.int64)
    click_s = seconds[clicked] + delay
    kept = click_s * float(_US_PER_S) < window_us
    clicked, click_s = clicked[kept], click_s[kept]
    # Clicks go right after their send: nearly sorted, so the sort is cheap.
    insert = _Inserter(np.bincount(clicked, minlength=len(customer)).astype(np.int64))
    all_customer = insert(customer, customer[clicked])
    all_seconds = insert(seconds, click_s)
    all_campaign = insert(campaign, campaign[clicked])
    inbound = insert(np.zeros(len(customer), np.int64), np.ones(len(clicked), np.int64))
    order = _order(all_customer, all_seconds, n, span_s)
    if order is not None:
        all_customer, all_seconds = all_customer[order], all_seconds[order]
        all_campaign, inbound = all_campaign[order], inbound[order]
    return {
        "customer": all_customer,
        "seconds": all_seconds,
        "campaign": all_campaign,
        "inbound": inbound,
        "channel": channel,
        "purpose": purpose,
    }


def _interactions(
    rng: np.random.Generator,
    *,
    n: int,
    buyer: npt.NDArray[np.int64],
    quantity: npt.NDArray[np.int64],
    n_items: int,
    n_tastes: int,
    taste_share: float,
    exponent: float,
) -> dict[str, npt.NDArray[Any]]:
    """Taste groups, the catalogue, and the items of each transaction (see the module docstring).

    Returns the customers' `taste` groups, the items' `group` and
    `popularity`, and one entry per distinct (transaction, item): the
    `transaction` (a row of the transactions), the `item` and the `quantity`
    of it, by transaction then item.
    """
    taste = rng.integers(n_tastes, size=n).astype(np.int64)
    group = (rng.permutation(n_items) % n_tastes).astype(np.int64)
    weight = (rng.permutation(n_items) + 1.0) ** -exponent
    popularity = weight / weight.sum()
    # Within-group draws: items sorted by group, and the group number plus the cumulative
    # share of the item within its group as one increasing search key.
    by_group = np.argsort(group, kind="stable")
    sorted_group = group[by_group]
    cumulative = np.cumsum(popularity[by_group])
    group_end = np.searchsorted(sorted_group, np.arange(n_tastes), side="right")
    group_start = np.concatenate(([0], group_end[:-1]))
    before = np.concatenate(([0.0], cumulative))[group_start]
    total = cumulative[group_end - 1] - before
    key = sorted_group + (cumulative - before[sorted_group]) / total[sorted_group]
    everyone = cumulative / cumulative[-1]  # ascending by group, which is fine for any order

    transaction = np.repeat(np.arange(len(buyer), dtype=np.int64), quantity)
    units = len(transaction)
    own = rng.random(units) < taste_share
    draw = rng.random(units)
    at = np.empty(units, dtype=np.int64)  # position among the items sorted by group
    mine, other = np.flatnonzero(own), np.flatnonzero(~own)
    their = taste[buyer[transaction[mine]]]
    found = np.searchsorted(key, their + draw[mine], side="right")
    at[mine] = np.clip(found, group_start[their], group_end[their] - 1)  # guards rounding
    at[other] = np.minimum(np.searchsorted(everyone, draw[other], side="right"), n_items - 1)
    item = by_group[at]
    # One row per (transaction, item): units of a transaction are adjacent, so the key is
    # nearly sorted already and a stable (merge) sort is cheap.
    if len(buyer) * n_items < 2**62:
        combined = transaction * n_items + item
        order = np.argsort(combined, kind="stable")
        combined = combined[order]
        first = np.flatnonzero(np.concatenate(([True], combined[1:] != combined[:-1])))
        rows_tx, rows_item = combined[first] // n_items, combined[first] % n_items
    else:
        order = np.lexsort((item, transaction))
        t, i = transaction[order], item[order]
        first = np.flatnonzero(np.concatenate(([True], (t[1:] != t[:-1]) | (i[1:] != i[:-1]))))
        rows_tx, rows_item = t[first], i[first]
    counts = np.diff(np.concatenate((first, [units]))).astype(np.int64)
    return {
        "taste": taste,
        "group": group,
        "popularity": popularity,
        "transaction": rows_tx.astype(np.int64),
        "item": rows_item.astype(np.int64),
        "quantity": counts,
    }


def _text(codes: npt.NDArray[np.int64], values: npt.NDArray[np.str_]) -> Text:
    """A `Text` column; with no values at all, every row is missing."""
    return Text(codes, values if len(values) else np.array([""]))


def _phones(
    customer: npt.NDArray[np.int64], country: npt.NDArray[np.int64], shift: int
) -> npt.NDArray[np.str_]:
    """Fictional numbers "+<calling code> 555 ddd dddd", the digits from customer number + shift.

    Built as a character matrix per calling code (no Python string per row).
    """
    codes = tuple(_CALLING_CODES[j] for j in JURISDICTION_SHARES)
    number = (customer + shift) % 10_000_000
    digits = np.empty((len(customer), 7), dtype=np.uint32)
    for k in range(7):
        digits[:, k] = ord("0") + number // 10 ** (6 - k) % 10
    width = max(len(c) for c in codes) + 14
    out = np.zeros(len(customer), dtype=f"U{width}")
    for code in sorted(set(codes)):
        rows = np.flatnonzero(np.isin(country, [i for i, c in enumerate(codes) if c == code]))
        template = f"+{code} 555 000 0000"
        size = len(template)
        chars = np.tile(np.array(list(template)).view(np.uint32), (len(rows), 1))
        chars[:, [size - i for i in (8, 7, 6, 4, 3, 2, 1)]] = digits[rows]  # ddd dddd
        out[rows] = chars.view(f"U{size}").reshape(-1)
    return out


def _consent(
    rng: np.random.Generator,
    *,
    born: npt.NDArray[np.int64],
    buyer: npt.NDArray[np.int64],
    bought_s: npt.NDArray[np.int64],
    span_s: int,
) -> dict[str, Any]:
    """Jurisdictions, phones and consent events (by customer, time, then grant < confirm < stop)."""
    n = len(born)
    rates = CONSENT_RATES
    codes = tuple(JURISDICTION_SHARES)
    shares = np.array(tuple(JURISDICTION_SHARES.values()))
    country = rng.choice(len(codes), size=n, p=shares / shares.sum()).astype(np.int64)
    lives = {code: country == i for i, code in enumerate(codes)}
    email_in = rng.random(n) < rates["email_opt_in"]
    sms_in = rng.random(n) < rates["sms_opt_in"]
    old_number = rng.random(n) < rates["old_number"]
    confirmed = rng.random(n) < rates["double_opt_in"]
    confirm_s = born + np.floor(rng.exponential(rates["confirm_hours"] * 3_600.0, n)).astype(
        np.int64
    )
    email_stop_s = born + _waiting_s(rng, rates["email_unsubscribe_per_year"], n)
    sms_stop_s = born + _waiting_s(rng, rates["sms_unsubscribe_per_year"], n)
    gpc = lives["US-CA"] & (rng.random(n) < rates["gpc"])
    gpc_s = born + np.floor(rng.random(n) * (span_s - born)).astype(np.int64)

    parts: list[tuple[npt.NDArray[np.int64], ...]] = []

    def add(
        who: npt.NDArray[np.int64],
        seconds: npt.NDArray[np.int64],
        *,
        channel: int,
        purpose: int,
        action: int,
        basis: npt.NDArray[np.int64] | int,
        source: int,
        address: npt.NDArray[np.int64] | None = None,
    ) -> None:
        m = len(who)
        parts.append(
            (
                who,
                seconds,
                np.full(m, channel, dtype=np.int64),
                np.full(m, purpose, dtype=np.int64),
                np.full(m, action, dtype=np.int64),
                np.broadcast_to(np.asarray(basis, dtype=np.int64), (m,)),
                np.full(m, source, dtype=np.int64),
                np.full(m, -1, dtype=np.int64) if address is None else address,
            )
        )

    email, sms = 0, 1
    marketing, sale_or_share = 0, 1
    grant, confirm, withdraw, gpc_action = 0, 1, 2, 3
    express, written, implied, soft = 0, 1, 2, 3
    signup, checkout, double_opt_in, unsubscribe, stop_reply, browser = range(6)

    who = np.flatnonzero(email_in)
    add(
        who, born[who], channel=email, purpose=marketing, action=grant, basis=express, source=signup
    )
    who = np.flatnonzero(lives["GB"] & ~email_in)
    add(who, born[who], channel=email, purpose=marketing, action=grant, basis=soft, source=checkout)
    # Withdrawals: of everyone who gets marketing email (a grant, or an opt-out law) ...
    gets_email = email_in | lives["US"] | lives["US-CA"] | lives["CA"] | lives["GB"]
    email_stopped = gets_email & (email_stop_s < span_s)
    email_stop_s[~email_stopped] = _NEVER
    # ... so a Canadian's purchases imply consent only until they unsubscribe.
    bought = np.flatnonzero(lives["CA"][buyer] & (bought_s < email_stop_s[buyer]))
    add(
        buyer[bought],
        bought_s[bought],
        channel=email,
        purpose=marketing,
        action=grant,
        basis=implied,
        source=checkout,
    )
    confirmable = confirmed & (confirm_s < np.minimum(email_stop_s, span_s))
    who = np.flatnonzero(lives["DE"] & email_in & confirmable)
    add(
        who,
        confirm_s[who],
        channel=email,
        purpose=marketing,
        action=confirm,
        basis=-1,
        source=double_opt_in,
    )
    # Text signups: their current number, and the number their consent names.
    who = np.flatnonzero(sms_in)
    phone = np.full(n, -1, dtype=np.int64)
    phone[who] = np.arange(len(who))
    current = _phones(who, country[who], 0)
    named = current.copy()
    replaced = np.flatnonzero(old_number[who])
    named[replaced] = _phones(who[replaced], country[who[replaced]], 5_000_000)
    us = lives["US"][who] | lives["US-CA"][who]
    add(
        who,
        born[who],
        channel=sms,
        purpose=marketing,
        action=grant,
        basis=np.where(us, written, express),
        source=signup,
        address=np.arange(len(who), dtype=np.int64),
    )
    who = np.flatnonzero(email_stopped)
    add(
        who,
        email_stop_s[who],
        channel=email,
        purpose=marketing,
        action=withdraw,
        basis=-1,
        source=unsubscribe,
    )
    who = np.flatnonzero(sms_in & (sms_stop_s < span_s))
    add(
        who,
        sms_stop_s[who],
        channel=sms,
        purpose=marketing,
        action=withdraw,
        basis=-1,
        source=stop_reply,
    )
    who = np.flatnonzero(gpc)
    add(
        who,
        gpc_s[who],
        channel=-1,
        purpose=sale_or_share,
        action=gpc_action,
        basis=-1,
        source=browser,
    )

    columns = [np.concatenate(column) for column in zip(*parts, strict=True)]
    customer, seconds, channel, purpose, action, basis, source, address = columns
    rank = np.minimum(action, withdraw)  # grant 0, confirm 1, the stops 2
    if n * (span_s + 1) * 3 < 2**62:
        order = np.argsort((customer * (span_s + 1) + seconds) * 3 + rank, kind="stable")
    else:
        order = np.lexsort((rank, seconds, customer))
    return {
        "jurisdiction": country,
        "phone": _text(phone, current),
        "customer": customer[order],
        "seconds": seconds[order],
        "channel": channel[order],
        "purpose": purpose[order],
        "action": action[order],
        "basis": basis[order],
        "source": source[order],
        "address": _text(address[order], named),
    }


def _waiting_s(rng: np.random.Generator, per_year: float, size: int) -> npt.NDArray[np.int64]:
    """Whole seconds until an event of constant hazard `per_year` (capped, never overflowing)."""
    waits = rng.exponential(_S_PER_YEAR / per_year, size) if per_year > 0 else np.full(size, np.inf)
    return np.floor(np.minimum(waits, _MAX_COUNT)).astype(np.int64)
