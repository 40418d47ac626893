"""Tests of relmark.datasets.make_synthetic: shapes, reproducibility, the true process."""

from __future__ import annotations

import enum
import hashlib
import math
from typing import Any

import attrs
import narwhals.stable.v2 as nw
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _support import columns
from relmark.consent import Action, Basis, ConsentLedger, Purpose
from relmark.consent.events import check_jurisdiction, phone_digits
from relmark.consent.regimes import recognised_bases
from relmark.datasets import CONSENT_RATES, JURISDICTION_SHARES, SyntheticData, make_synthetic
from relmark.exceptions import ValidationError
from relmark.models import Channel

BACKENDS = ("pandas", "polars", "pyarrow")
START = "2024-01-01T00:00:00Z"
END = "2025-01-01T00:00:00Z"
UTC_US = nw.Datetime(time_unit="us", time_zone="UTC")

# The published CDNOW estimates, in weeks (Fader, Hardie and Lee 2005; Fader and Hardie 2013).
CDNOW: dict[str, Any] = {
    "r": 0.243,
    "alpha": 4.414,
    "a": 0.793,
    "b": 2.426,
    "p": 6.25,
    "q": 3.74,
    "v": 15.44,
}


def hyp2f1(a: float, b: float, c: float, z: float) -> float:
    """Gauss's hypergeometric function 2F1 by its power series (|z| < 1)."""
    term = total = 1.0
    k = 0
    while abs(term) > 1e-16 * abs(total):
        term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z
        total += term
        k += 1
    return total


# SHA-256 of the customers' first three columns, the transactions, touchpoints and truth of
# make(2_000) (seed 11, 2024, polars), as made before consent histories were added.
TRUTH_BEFORE_CONSENT = (
    "purchase_rate",
    "dropout_probability",
    "spend_scale",
    "repeat_purchases",
    "alive",
    "dropout_at",
)
BEFORE_CONSENT = "e63d0ad24c15ce73f276129cb4e08b503b320e15eb0be8a54d5004889679abe1"
YEAR_S = 365.25 * 86_400
COHORT_S = 272 * 86_400  # 1997-01-01 to 1997-09-30


def make(n: int = 2_000, **kwargs: Any) -> SyntheticData:
    """A synthetic data set over 2024 in polars, with overridable arguments."""
    options: dict[str, Any] = {"seed": 11, "start": START, "end": END, "backend": "polars"}
    options.update(kwargs)
    return make_synthetic(n, **options)


def same_frames(left: Any, right: Any) -> bool:
    """Whether two native frames hold the same columns and values (NaN and None both missing)."""
    a, b = columns(left), columns(right)

    def values(column: Any) -> Any:
        if column.dtype.kind != "O":
            return column
        return np.array([None if v is None or v != v else v for v in column.tolist()], object)

    return list(a) == list(b) and all(np.array_equal(values(a[k]), values(b[k])) for k in a)


def digest(data: SyntheticData) -> str:
    """SHA-256 of everything make_synthetic drew before it drew consent histories."""
    h = hashlib.sha256()
    for name in ("customers", "transactions", "touchpoints"):
        cols = columns(getattr(data, name))
        keep = ("customer_id", "timezone", "created_at") if name == "customers" else tuple(cols)
        for key in keep:
            values = cols[key]
            h.update(key.encode())
            if values.dtype.kind in "OUS":
                h.update("\x00".join(map(str, values.tolist())).encode())
            else:
                h.update(np.ascontiguousarray(values).tobytes())
    for name in TRUTH_BEFORE_CONSENT:  # the fields there were; taste_group came later
        h.update(np.ascontiguousarray(getattr(data.truth, name)).tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def base() -> SyntheticData:
    """Default parameters, 5,000 customers, no same-day companions."""
    return make(5_000, same_day_share=0.0)


@pytest.fixture(scope="module")
def cohort() -> SyntheticData:
    """100,000 customers acquired at once, CDNOW parameters in weeks, observed 39 weeks."""
    return make_synthetic(
        100_000,
        seed=2005,
        start="1997-01-01T00:00:00Z",
        end="1997-09-30T00:00:00Z",
        acquisition_end="1997-01-01T00:00:01Z",
        time_unit="W",
        n_campaigns=0,
        backend="pyarrow",
        **CDNOW,
    )


class TestMakeSynthetic:
    def test_frames_have_the_documented_columns(self, base: SyntheticData) -> None:
        """Customers, transactions, touchpoints and consent events have the documented schemas."""
        assert dict(nw.from_native(base.customers, eager_only=True).schema) == {
            "customer_id": nw.Int64(),
            "timezone": nw.String(),
            "created_at": UTC_US,
            "jurisdiction": nw.String(),
            "phone": nw.String(),
        }
        assert dict(nw.from_native(base.transactions, eager_only=True).schema) == {
            "customer_id": nw.Int64(),
            "datetime": UTC_US,
            "amount": nw.Float64(),
            "quantity": nw.Int64(),
        }
        assert dict(nw.from_native(base.touchpoints, eager_only=True).schema) == {
            "customer_id": nw.Int64(),
            "datetime": UTC_US,
            "channel": nw.String(),
            "kind": nw.String(),
            "direction": nw.String(),
            "purpose": nw.String(),
            "campaign": nw.String(),
        }
        assert dict(nw.from_native(base.consent_events, eager_only=True).schema) == {
            "customer_id": nw.Int64(),
            "channel": nw.String(),
            "purpose": nw.String(),
            "action": nw.String(),
            "basis": nw.String(),
            "at": UTC_US,
            "jurisdiction": nw.String(),
            "source": nw.String(),
            "address": nw.String(),
        }

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_each_backend_returns_its_frame_type(self, backend: str) -> None:
        """pandas, polars and pyarrow each get their own frames, with the same values."""
        data = make(300, backend=backend)
        reference = make(300)
        for name in ("customers", "transactions", "touchpoints", "consent_events"):
            frame = getattr(data, name)
            assert nw.get_native_namespace(nw.from_native(frame)).__name__ == backend
            assert same_frames(frame, getattr(reference, name)), name
        assert data.params["backend"] == backend

    def test_same_seed_gives_identical_data(self) -> None:
        """Two calls with the same seed and arguments give identical frames and truth."""
        one, two = make(same_day_share=0.2), make(same_day_share=0.2)
        for name in ("customers", "transactions", "touchpoints", "consent_events"):
            assert same_frames(getattr(one, name), getattr(two, name)), name
        for field in attrs.fields(type(one.truth)):
            left, right = getattr(one.truth, field.name), getattr(two.truth, field.name)
            assert np.array_equal(left, right, equal_nan=field.name != "alive"), field.name

    def test_different_seed_gives_different_data(self) -> None:
        """Another seed gives other transactions, consent histories and truth."""
        one, two = make(seed=1), make(seed=2)
        assert not same_frames(one.transactions, two.transactions)
        assert not same_frames(one.consent_events, two.consent_events)
        assert not same_frames(one.customers, two.customers)
        assert not np.array_equal(one.truth.purchase_rate, two.truth.purchase_rate)

    def test_customers_are_ordered_by_acquisition(self, base: SyntheticData) -> None:
        """Customer ids are 0..n-1 in order of acquisition, within the window."""
        cust = columns(base.customers)
        assert np.array_equal(cust["customer_id"], np.arange(5_000))
        created = cust["created_at"]
        assert (created[1:] >= created[:-1]).all()
        assert created.min() >= np.datetime64(START[:-1], "us")
        assert created.max() < np.datetime64(END[:-1], "us")

    def test_first_purchase_is_at_acquisition(self, base: SyntheticData) -> None:
        """Each customer's first transaction is at their created_at."""
        tx = columns(base.transactions)
        first = np.unique(tx["customer_id"], return_index=True)[1]
        assert np.array_equal(tx["datetime"][first], columns(base.customers)["created_at"])

    def test_transactions_are_sorted_and_in_the_window(self, base: SyntheticData) -> None:
        """Transactions are by customer then time, on whole seconds, in [start, end)."""
        tx = columns(base.transactions)
        cust, when = tx["customer_id"], tx["datetime"]
        assert (np.diff(cust) >= 0).all()
        same = cust[1:] == cust[:-1]
        assert (when[1:][same] >= when[:-1][same]).all()
        assert when.max() < np.datetime64(END[:-1], "us")
        assert (when.astype(np.int64) % 1_000_000 == 0).all()

    def test_purchases_per_customer_match_the_truth(self, base: SyntheticData) -> None:
        """Without companions, each customer has 1 + repeat_purchases transactions."""
        counts = np.bincount(columns(base.transactions)["customer_id"], minlength=5_000)
        assert np.array_equal(counts, 1 + base.truth.repeat_purchases)

    def test_dropout_is_the_last_purchase_of_those_gone(self, base: SyntheticData) -> None:
        """Customers who dropped out did so at their last purchase; the others show NaT."""
        truth = base.truth
        assert (np.isnat(truth.dropout_at) == truth.alive).all()
        tx = columns(base.transactions)
        last = np.unique(tx["customer_id"][::-1], return_index=True)[1]
        last_at = tx["datetime"][::-1][last]
        gone = ~truth.alive
        assert gone.any()
        assert np.array_equal(truth.dropout_at[gone], last_at[gone])
        assert (truth.repeat_purchases[gone] >= 1).all()

    def test_expected_repeat_purchases_follow_bgnbd(self, cohort: SyntheticData) -> None:
        """The mean number of repeat purchases in 39 weeks is BG/NBD's E[X(t)]."""
        r, alpha, a, b = (CDNOW[k] for k in ("r", "alpha", "a", "b"))
        t = 272 / 7  # 1997-01-01 to 1997-09-30
        z = t / (alpha + t)
        expected = (
            (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))
        )
        x = cohort.truth.repeat_purchases
        error = x.std() / math.sqrt(len(x))
        assert abs(x.mean() - expected) < 4 * error

    def test_no_repeat_share_follows_bgnbd(self, cohort: SyntheticData) -> None:
        """The share of customers without a repeat purchase is (alpha / (alpha + t))^r."""
        r, alpha = CDNOW["r"], CDNOW["alpha"]
        t = 272 / 7
        share = (alpha / (alpha + t)) ** r
        got = float((cohort.truth.repeat_purchases == 0).mean())
        assert abs(got - share) < 4 * math.sqrt(share * (1 - share) / 100_000)

    def test_latent_traits_follow_their_priors(self, cohort: SyntheticData) -> None:
        """Rates, dropout probabilities and spend scales have their priors' means."""
        truth, n = cohort.truth, 100_000
        r, alpha, a, b = (CDNOW[k] for k in ("r", "alpha", "a", "b"))
        q, v = CDNOW["q"], CDNOW["v"]
        assert abs(truth.purchase_rate.mean() - r / alpha) < 4 * math.sqrt(r) / alpha / math.sqrt(n)
        sd_p = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        assert abs(truth.dropout_probability.mean() - a / (a + b)) < 4 * sd_p / math.sqrt(n)
        assert abs(truth.spend_scale.mean() - q / v) < 4 * math.sqrt(q) / v / math.sqrt(n)

    def test_mean_spend_follows_gamma_gamma(self, cohort: SyntheticData) -> None:
        """First purchases (one per customer) average E[z] = p v / (q - 1)."""
        p, q, v = CDNOW["p"], CDNOW["q"], CDNOW["v"]
        tx = columns(cohort.transactions)
        first = np.unique(tx["customer_id"], return_index=True)[1]
        amounts = tx["amount"][first]
        # Var z = p (p + 1) E[1/nu^2] - E[z]^2, with E[1/nu^2] = v^2 / ((q - 1)(q - 2)).
        mean = p * v / (q - 1)
        sd = math.sqrt(p * (p + 1) * v**2 / ((q - 1) * (q - 2)) - mean**2)
        assert abs(amounts.mean() - mean) < 4 * sd / math.sqrt(len(amounts))
        assert np.array_equal(np.round(tx["amount"], 2), tx["amount"])

    def test_customer_mean_spend_follows_the_true_scale(self, cohort: SyntheticData) -> None:
        """Amounts scaled by each customer's nu average the Gamma shape p."""
        tx = columns(cohort.transactions)
        scaled = tx["amount"] * cohort.truth.spend_scale[tx["customer_id"]]
        error = math.sqrt(CDNOW["p"] / len(scaled))
        assert abs(scaled.mean() - CDNOW["p"]) < 4 * error + 0.01

    def test_same_day_companions_keep_the_daily_pattern(self) -> None:
        """Companions add purchases only on days that already have one."""
        plain, busy = make(3_000, same_day_share=0.0), make(3_000, same_day_share=0.3)

        def days(data: SyntheticData) -> set[tuple[int, Any]]:
            tx = columns(data.transactions)
            return set(
                zip(tx["customer_id"].tolist(), tx["datetime"].astype("datetime64[D]"), strict=True)
            )

        assert days(plain) == days(busy)
        assert len(busy.transactions) > len(plain.transactions)

    def test_same_day_share_sets_the_companion_rate(self) -> None:
        """Companions per BG/NBD purchase average share / (1 - share)."""
        share = 0.25
        data = make(20_000, same_day_share=share)
        purchases = int((1 + data.truth.repeat_purchases).sum())
        extra = len(data.transactions) - purchases
        expected = share / (1 - share)
        sd = math.sqrt(share) / (1 - share)  # geometric count's standard deviation
        assert abs(extra / purchases - expected) < 4 * sd / math.sqrt(purchases)

    def test_touchpoints_go_to_acquired_customers(self, base: SyntheticData) -> None:
        """Campaigns only reach customers acquired before they go out, in [start, end)."""
        tp = columns(base.touchpoints)
        created = columns(base.customers)["created_at"]
        assert (tp["datetime"] >= created[tp["customer_id"]]).all()
        assert tp["datetime"].max() < np.datetime64(END[:-1], "us")
        assert (np.diff(tp["customer_id"]) >= 0).all()

    def test_touchpoints_use_the_models_vocabulary(self, base: SyntheticData) -> None:
        """Channels are Channel values and kinds their default TouchpointKind."""
        tp = columns(base.touchpoints)
        outbound = tp["direction"] == "outbound"
        assert set(tp["direction"].tolist()) == {"outbound", "inbound"}
        assert set(tp["channel"][outbound].tolist()) <= {"email", "sms", "push"}
        assert set(tp["channel"][~outbound].tolist()) == {"web"}
        for channel, kind in zip(tp["channel"].tolist(), tp["kind"].tolist(), strict=True):
            assert Channel(channel).default_kind.value == kind
        assert set(tp["purpose"].tolist()) <= {"marketing", "newsletter"}
        assert len(set(tp["campaign"].tolist())) == 12

    def test_clicks_follow_a_send_to_an_active_customer(self, base: SyntheticData) -> None:
        """Each click-through follows its campaign's send, before the customer dropped out."""
        tp = columns(base.touchpoints)
        inbound = np.flatnonzero(tp["direction"] == "inbound")
        assert len(inbound) > 0
        sent = {
            (c, k): t
            for c, k, t, d in zip(
                tp["customer_id"].tolist(),
                tp["campaign"].tolist(),
                tp["datetime"].tolist(),
                tp["direction"].tolist(),
                strict=True,
            )
            if d == "outbound"
        }
        dropout = base.truth.dropout_at
        for row in inbound:
            customer = int(tp["customer_id"][row])
            at = sent[customer, tp["campaign"][row]]
            assert at <= tp["datetime"][row].item()
            assert np.isnat(dropout[customer]) or dropout[customer] > np.datetime64(at, "us")

    def test_no_campaigns_gives_empty_touchpoints(self) -> None:
        """With n_campaigns=0 the touchpoints frame is empty but typed."""
        data = make(50, n_campaigns=0, backend="pandas")
        assert len(data.touchpoints) == 0
        schema = nw.from_native(data.touchpoints, eager_only=True).schema
        assert schema["datetime"] == UTC_US
        assert schema["channel"] == nw.String()

    def test_channel_members_are_accepted(self) -> None:
        """Channel members work as channels, and the params keep their values."""
        data = make(200, channels=[Channel.SMS, Channel.POST])
        assert data.params["channels"] == ("sms", "post")
        tp = columns(data.touchpoints)
        outbound = tp["direction"] == "outbound"
        assert set(tp["channel"][outbound].tolist()) <= {"sms", "post"}

    def test_string_ids_are_zero_padded(self) -> None:
        """id_type="str" gives the same numbers as zero-padded strings."""
        data = make(1_000, id_type="str")
        ids = columns(data.customers)["customer_id"].astype(str)
        assert ids[0] == "000"
        assert ids[-1] == "999"
        tx_ids = set(columns(data.transactions)["customer_id"].astype(str).tolist())
        assert tx_ids <= set(ids.tolist())

    def test_timezones_are_drawn_from_the_given_ones(self) -> None:
        """Every customer lives in one of the given zones."""
        data = make(500, timezones=("Europe/Paris", "Asia/Tokyo"))
        zones = set(columns(data.customers)["timezone"].tolist())
        assert zones == {"Europe/Paris", "Asia/Tokyo"}

    def test_params_record_every_argument_read_only(self, base: SyntheticData) -> None:
        """Params holds the true parameters, seed, start and end, and cannot be changed."""
        params = base.params
        assert params["seed"] == 11
        assert params["n_customers"] == 5_000
        assert (params["r"], params["alpha"], params["a"], params["b"]) == (0.24, 4.41, 0.79, 2.43)
        assert (params["p"], params["q"], params["v"]) == (6.25, 3.74, 15.44)
        assert params["start"].isoformat() == "2024-01-01T00:00:00+00:00"
        assert params["end"] == params["acquisition_end"]
        assert params["jurisdiction_shares"] == JURISDICTION_SHARES
        assert params["consent_rates"] == CONSENT_RATES
        with pytest.raises(TypeError):
            params["r"] = 1.0  # type: ignore[index]
        with pytest.raises(TypeError):
            params["consent_rates"]["gpc"] = 1.0

    def test_truth_is_read_only(self, base: SyntheticData) -> None:
        """The truth arrays cannot be written, and the object cannot be changed."""
        with pytest.raises(ValueError, match="read-only"):
            base.truth.alive[0] = False
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            base.truth = base.truth  # type: ignore[misc]

    def test_repr_is_short(self, base: SyntheticData) -> None:
        """The repr gives sizes, not the frames."""
        text = repr(base)
        assert text.startswith("SyntheticData(backend='polars', customers=5000, transactions=")
        assert f", consent_events={len(base.consent_events)}, seed=11)" in text

    @settings(max_examples=15, deadline=None)
    @given(
        n=st.integers(1, 200),
        seed=st.integers(0, 2**32),
        hours=st.integers(1, 24 * 400),
        share=st.floats(0, 0.9),
        unit=st.sampled_from(["D", "W", "h"]),
    )
    def test_every_event_lies_in_the_window(
        self, n: int, seed: int, hours: int, share: float, unit: str
    ) -> None:
        """For any size, seed, window and unit, every event lies in [created_at, end)."""
        end = np.datetime64("2024-01-01T00:00", "us") + np.timedelta64(hours, "h")
        data = make(
            n, seed=seed, end=f"{end}Z", same_day_share=share, time_unit=unit, backend="pyarrow"
        )
        created = columns(data.customers)["created_at"]
        named = (
            ("transactions", "datetime"),
            ("touchpoints", "datetime"),
            ("consent_events", "at"),
        )
        for name, at in named:
            cols = columns(getattr(data, name))
            assert (cols[at] >= created[cols["customer_id"]]).all()
            assert (cols[at] < end).all()

    @pytest.mark.parametrize(
        ("kwargs", "argument"),
        [
            ({"n_customers": 0}, "n_customers"),
            ({"n_customers": 2.5}, "n_customers"),
            ({"n_customers": True}, "n_customers"),
            ({"seed": -1}, "seed"),
            ({"seed": "42"}, "seed"),
            ({"start": "2024-01-01 00:00"}, "start"),
            ({"end": "2023-12-31T00:00:00Z"}, "end"),
            ({"end": START}, "end"),
            ({"acquisition_end": "2025-06-01T00:00:00Z"}, "acquisition_end"),
            ({"time_unit": "M"}, "time_unit"),
            ({"r": 0}, "r"),
            ({"alpha": -4.41}, "alpha"),
            ({"a": float("nan")}, "a"),
            ({"b": float("inf")}, "b"),
            ({"p": "6.25"}, "p"),
            ({"q": 0.0}, "q"),
            ({"v": -1}, "v"),
            ({"unit_price": 0}, "unit_price"),
            ({"same_day_share": 1.0}, "same_day_share"),
            ({"same_day_share": -0.1}, "same_day_share"),
            ({"reach": 1.5}, "reach"),
            ({"click_rate": -0.5}, "click_rate"),
            ({"n_campaigns": -1}, "n_campaigns"),
            ({"channels": "email"}, "channels"),
            ({"channels": []}, "channels"),
            ({"channels": ["email", "email"]}, "channels"),
            ({"channels": ["fax"]}, "channels"),
            ({"purposes": [""]}, "purposes"),
            ({"timezones": ["+01:00"]}, "timezones"),
            ({"id_type": "uuid"}, "id_type"),
            ({"backend": "spark"}, "backend"),
        ],
    )
    def test_bad_arguments_are_refused_by_name(self, kwargs: dict[str, Any], argument: str) -> None:
        """A bad argument raises ValidationError naming it, before any work."""
        options: dict[str, Any] = {"n_customers": 10, "seed": 1, "start": START, "end": END}
        options.update(kwargs)
        n = options.pop("n_customers")
        with pytest.raises(ValidationError) as info:
            make_synthetic(n, **options)
        assert info.value.column == argument

    def test_enum_values_are_used_for_labels(self) -> None:
        """Enum members are read by value for any label argument."""

        class Purpose(enum.Enum):
            PROMO = "promotion"

        data = make(100, purposes=[Purpose.PROMO])
        assert data.params["purposes"] == ("promotion",)

    # ------------------------------------------------------------------ consent histories

    def test_other_outputs_are_as_before_consent_histories(self) -> None:
        """Adding consent histories changed no customer, transaction, touchpoint or truth bit."""
        assert digest(make()) == BEFORE_CONSENT

    def test_every_consent_event_is_accepted_by_a_ledger(self, base: SyntheticData) -> None:
        """Every row makes a valid ConsentEvent and a ConsentLedger accepts them all."""
        events = base.consent_records()
        ledger = ConsentLedger(events)
        assert len(ledger) == len(base.consent_events) > 5_000
        assert ledger.verify().ok
        assert {e.action for e in events} == set(Action) - {Action.OBJECT}

    def test_grant_bases_are_recognised_where_they_were_collected(
        self, base: SyntheticData
    ) -> None:
        """A grant's basis is one its jurisdiction's regimes recognise; others have no basis."""
        ev = columns(base.consent_events)
        grant = ev["action"] == "grant"
        assert all(b is None for b in ev["basis"][~grant].tolist())
        for code in JURISDICTION_SHARES:
            bases = set(ev["basis"][grant & (ev["jurisdiction"] == code)].tolist())
            allowed = recognised_bases(code)
            assert bases
            assert allowed is None or bases <= {b.value for b in allowed}, code
        drawn = (Basis.EXPRESS, Basis.EXPRESS_WRITTEN, Basis.IMPLIED_PURCHASE, Basis.SOFT_OPT_IN)
        assert set(ev["basis"][grant].tolist()) == {b.value for b in drawn}

    def test_consent_events_are_sorted_aware_and_in_the_window(self, base: SyntheticData) -> None:
        """Events are by customer, time, then grant < confirm < stop, on whole seconds, in [created_at, end)."""
        ev = columns(base.consent_events)
        created = columns(base.customers)["created_at"]
        when = ev["at"]
        assert (when >= created[ev["customer_id"]]).all()
        assert (when < np.datetime64(END[:-1], "us")).all()
        assert (when.astype(np.int64) % 1_000_000 == 0).all()
        rank = np.select([ev["action"] == "grant", ev["action"] == "confirm"], [0, 1], 2)
        key = np.lexsort((rank, when, ev["customer_id"]))
        assert np.array_equal(key, np.arange(len(key)))

    def test_vocabulary_is_relmark_consents(self, base: SyntheticData) -> None:
        """Channels, purposes and actions are values of the consent enumerations."""
        ev = columns(base.consent_events)
        assert set(ev["channel"].tolist()) == {"email", "sms", None}
        assert set(ev["purpose"].tolist()) <= {p.value for p in Purpose}
        gpc = ev["action"] == "gpc"
        assert set(ev["purpose"][gpc].tolist()) == {"sale_or_share"}
        assert all(c is None for c in ev["channel"][gpc].tolist())
        assert set(ev["purpose"][~gpc].tolist()) == {"marketing"}

    def test_jurisdictions_are_iso_codes_in_the_documented_shares(
        self, cohort: SyntheticData
    ) -> None:
        """Each customer's jurisdiction is an ISO 3166 code, drawn with JURISDICTION_SHARES."""
        codes = columns(cohort.customers)["jurisdiction"]
        n = len(codes)
        assert set(codes.tolist()) == set(JURISDICTION_SHARES)
        assert all(check_jurisdiction(code) == code for code in JURISDICTION_SHARES)
        assert math.isclose(sum(JURISDICTION_SHARES.values()), 1.0)
        for code, share in JURISDICTION_SHARES.items():
            got = float((codes == code).mean())
            assert abs(got - share) < 4 * math.sqrt(share * (1 - share) / n), code

    def test_events_carry_their_customers_jurisdiction(self, base: SyntheticData) -> None:
        """The jurisdiction of an event is that of its customer."""
        ev = columns(base.consent_events)
        codes = columns(base.customers)["jurisdiction"]
        assert np.array_equal(ev["jurisdiction"], codes[ev["customer_id"]])

    def test_signup_grants_follow_the_opt_in_rates(self, cohort: SyntheticData) -> None:
        """Express email and sms grants at signup come at the rates of CONSENT_RATES."""
        ev = columns(cohort.consent_events)
        n = len(cohort.customers)
        signup = (ev["action"] == "grant") & (ev["source"] == "signup form")
        for channel, rate in (("email", "email_opt_in"), ("sms", "sms_opt_in")):
            who = ev["customer_id"][signup & (ev["channel"] == channel)]
            assert len(np.unique(who)) == len(who)
            p = CONSENT_RATES[rate]
            assert abs(len(who) / n - p) < 4 * math.sqrt(p * (1 - p) / n), channel

    def test_sms_consent_in_the_us_is_written_and_names_a_number(
        self, cohort: SyntheticData
    ) -> None:
        """US sms grants are express_written naming a number: the phone, or a replaced one."""
        ev = columns(cohort.consent_events)
        cust = columns(cohort.customers)
        sms = (ev["action"] == "grant") & (ev["channel"] == "sms")
        us = np.isin(ev["jurisdiction"], ["US", "US-CA"])
        assert set(ev["basis"][sms & us].tolist()) == {"express_written"}
        assert set(ev["basis"][sms & ~us].tolist()) == {"express"}
        phone = cust["phone"][ev["customer_id"][sms]]
        named = ev["address"][sms]
        same = np.array(
            [phone_digits(a) == phone_digits(b) for a, b in zip(named, phone, strict=True)]
        )
        p, m = CONSENT_RATES["old_number"], len(named)
        assert abs((~same).mean() - p) < 4 * math.sqrt(p * (1 - p) / m)
        assert all(a is None for a in ev["address"][~sms].tolist())

    def test_phones_belong_to_text_signups(self, cohort: SyntheticData) -> None:
        """Customers who signed up for texts have a distinct fictional number; the others none."""
        ev = columns(cohort.consent_events)
        cust = columns(cohort.customers)
        signed = np.zeros(len(cust["phone"]), dtype=bool)
        signed[ev["customer_id"][(ev["action"] == "grant") & (ev["channel"] == "sms")]] = True
        phones = cust["phone"][signed].tolist()
        assert all(p is None for p in cust["phone"][~signed].tolist())
        assert len(set(phones)) == len(phones)
        codes = dict.fromkeys(("US", "US-CA", "CA"), "+1 ")
        codes.update({"GB": "+44 ", "DE": "+49 ", "FR": "+33 ", "NL": "+31 ", "AU": "+61 "})
        for phone, code in zip(phones, cust["jurisdiction"][signed].tolist(), strict=True):
            assert phone.startswith(codes[code] + "555 ")
            assert sum(ch.isdigit() for ch in phone) == len(codes[code]) - 2 + 10

    def test_unsubscribes_follow_their_hazards(self, cohort: SyntheticData) -> None:
        """Of those who get email or texts, 1 - exp(-hazard * t) unsubscribe within t."""
        ev = columns(cohort.consent_events)
        codes = columns(cohort.customers)["jurisdiction"]
        grant, withdraw = ev["action"] == "grant", ev["action"] == "withdraw"
        express = grant & (ev["channel"] == "email") & (ev["basis"] == "express")
        express_email = ev["customer_id"][express]
        gets_email = np.isin(codes, ["US", "US-CA", "CA", "GB"])
        gets_email[express_email] = True
        gets_sms = np.zeros(len(codes), dtype=bool)
        gets_sms[ev["customer_id"][grant & (ev["channel"] == "sms")]] = True
        for channel, reach, rate in (
            ("email", gets_email, "email_unsubscribe_per_year"),
            ("sms", gets_sms, "sms_unsubscribe_per_year"),
        ):
            who = ev["customer_id"][withdraw & (ev["channel"] == channel)]
            assert len(np.unique(who)) == len(who)
            assert reach[who].all(), channel
            p = 1 - math.exp(-CONSENT_RATES[rate] * COHORT_S / YEAR_S)
            m = int(reach.sum())
            assert abs(len(who) / m - p) < 4 * math.sqrt(p * (1 - p) / m), channel

    def test_canadian_purchases_imply_consent_until_an_unsubscribe(
        self, base: SyntheticData
    ) -> None:
        """Implied-purchase grants are exactly the Canadians' purchases before they unsubscribe."""
        ev = columns(base.consent_events)
        tx = columns(base.transactions)
        codes = columns(base.customers)["jurisdiction"]
        implied = ev["basis"] == "implied_purchase"
        assert set(ev["jurisdiction"][implied].tolist()) == {"CA"}
        assert set(ev["channel"][implied].tolist()) == {"email"}
        stop = np.full(len(codes), np.datetime64("9999-01-01", "us"))
        email_stop = (ev["action"] == "withdraw") & (ev["channel"] == "email")
        stop[ev["customer_id"][email_stop]] = ev["at"][email_stop]
        before = (codes[tx["customer_id"]] == "CA") & (tx["datetime"] < stop[tx["customer_id"]])
        expected = sorted(zip(tx["customer_id"][before], tx["datetime"][before], strict=True))
        got = sorted(zip(ev["customer_id"][implied], ev["at"][implied], strict=True))
        assert got == expected
        assert len(got) > 100

    def test_soft_opt_in_is_for_british_customers_without_express_consent(
        self, base: SyntheticData
    ) -> None:
        """GB customers get a soft opt-in at their first purchase exactly when they did not opt in."""
        ev = columns(base.consent_events)
        cust = columns(base.customers)
        email_grant = (ev["action"] == "grant") & (ev["channel"] == "email")
        soft = ev["customer_id"][email_grant & (ev["basis"] == "soft_opt_in")]
        express = ev["customer_id"][email_grant & (ev["basis"] == "express")]
        british = np.flatnonzero(cust["jurisdiction"] == "GB")
        assert set(soft.tolist()) == set(british.tolist()) - set(express.tolist())
        at = ev["at"][email_grant & (ev["basis"] == "soft_opt_in")]
        assert np.array_equal(at, cust["created_at"][soft])

    def test_german_double_opt_ins_confirm_express_grants(self, cohort: SyntheticData) -> None:
        """Confirmations are German, follow an express email grant, at the double_opt_in rate."""
        ev = columns(cohort.consent_events)
        confirm = ev["action"] == "confirm"
        assert set(ev["jurisdiction"][confirm].tolist()) == {"DE"}
        express = (
            (ev["action"] == "grant") & (ev["basis"] == "express") & (ev["channel"] == "email")
        )
        german = ev["customer_id"][express & (ev["jurisdiction"] == "DE")]
        confirmed = ev["customer_id"][confirm]
        assert set(confirmed.tolist()) <= set(german.tolist())
        granted = dict(zip(german, ev["at"][express & (ev["jurisdiction"] == "DE")], strict=True))
        assert all(at >= granted[c] for c, at in zip(confirmed, ev["at"][confirm], strict=True))
        p, m = CONSENT_RATES["double_opt_in"], len(german)
        assert abs(len(confirmed) / m - p) < 4 * math.sqrt(p * (1 - p) / m) + 0.001

    def test_no_consent_history_gives_an_empty_typed_frame(self) -> None:
        """A base whose only customer never opted in has an empty, typed consent frame."""
        data = make(1, seed=11, end="2024-01-01T01:00:00Z", backend="pandas")
        assert len(data.consent_events) == 0
        schema = nw.from_native(data.consent_events, eager_only=True).schema
        assert schema["at"] == UTC_US
        assert schema["address"] == nw.String()

    def test_gpc_signals_come_from_californians(self, cohort: SyntheticData) -> None:
        """GPC signals come from the gpc share of US-CA customers, and from nobody else."""
        ev = columns(cohort.consent_events)
        codes = columns(cohort.customers)["jurisdiction"]
        gpc = ev["action"] == "gpc"
        assert set(ev["jurisdiction"][gpc].tolist()) == {"US-CA"}
        who = ev["customer_id"][gpc]
        assert len(np.unique(who)) == len(who)
        p, m = CONSENT_RATES["gpc"], int((codes == "US-CA").sum())
        assert abs(len(who) / m - p) < 4 * math.sqrt(p * (1 - p) / m)


# SHA-256 of every column of the customers, transactions, touchpoints and consent events, the
# truth fields there were and the repr, for three argument sets, as made before item
# interactions were added (the generator as of commit 377b24d).
BEFORE_INTERACTIONS = {
    "polars": (
        {},
        "241369decd2ee6bd07e030b450e77bef852fedcf7e4a53a6d9f5e9933d783846",
    ),
    "pandas, str ids, same-day": (
        {"same_day_share": 0.3, "id_type": "str", "backend": "pandas"},
        "c13e18f6d8951eb062966e6271ff0c9857d81f83d2ada2758f8851b08dafdd5d",
    ),
    "pyarrow, weeks": (
        {"seed": 5, "backend": "pyarrow", "time_unit": "W"},
        "9c49cdb6054f574962f40e0a8994d746841bb1ce6b02df5ea7d74db8e281bc7a",
    ),
}
INTERACTION_ARGUMENTS = ("n_items", "n_tastes", "taste_share", "item_popularity")


def full_digest(data: SyntheticData) -> str:
    """SHA-256 of everything make_synthetic returned before it drew item interactions."""
    h = hashlib.sha256()
    for name in ("customers", "transactions", "touchpoints", "consent_events"):
        for key, values in columns(getattr(data, name)).items():
            h.update(key.encode())
            if values.dtype.kind in "OUS":
                h.update("\x00".join(map(str, values.tolist())).encode())
            else:
                h.update(np.ascontiguousarray(values).tobytes())
    for name in TRUTH_BEFORE_CONSENT:
        h.update(np.ascontiguousarray(getattr(data.truth, name)).tobytes())
    h.update(repr(data).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def shoppers() -> SyntheticData:
    """20,000 customers over 2024 with the default catalogue, in pyarrow."""
    return make(20_000, seed=3, backend="pyarrow")


class TestMakeSyntheticInteractions:
    @pytest.mark.parametrize("case", list(BEFORE_INTERACTIONS))
    def test_other_outputs_are_as_before_interactions(self, case: str) -> None:
        """Adding item interactions changed no bit of any other frame, truth field or the repr."""
        kwargs, expected = BEFORE_INTERACTIONS[case]
        assert full_digest(make(**kwargs)) == expected

    def test_frames_have_the_documented_columns(self, base: SyntheticData) -> None:
        """Items and interactions have the documented schemas."""
        assert dict(nw.from_native(base.items, eager_only=True).schema) == {
            "item_id": nw.Int64(),
            "group": nw.Int64(),
            "popularity": nw.Float64(),
        }
        assert dict(nw.from_native(base.interactions, eager_only=True).schema) == {
            "customer_id": nw.Int64(),
            "item_id": nw.Int64(),
            "datetime": UTC_US,
            "quantity": nw.Int64(),
        }

    def test_interactions_add_up_to_each_transaction(self, shoppers: SyntheticData) -> None:
        """Per customer and moment, the items' quantities add up to the transactions' quantity."""
        tx, it = columns(shoppers.transactions), columns(shoppers.interactions)

        def totals(cols: dict[str, Any]) -> tuple[Any, Any]:
            moment = cols["datetime"].astype(np.int64)
            keys, inverse = np.unique(
                np.stack([cols["customer_id"], moment]), axis=1, return_inverse=True
            )
            return keys, np.bincount(inverse.reshape(-1), weights=cols["quantity"])

        tx_keys, tx_sum = totals(tx)
        it_keys, it_sum = totals(it)
        assert np.array_equal(tx_keys, it_keys)
        assert np.array_equal(tx_sum, it_sum)
        assert (it["quantity"] >= 1).all()

    def test_interactions_are_sorted_and_distinct(self, shoppers: SyntheticData) -> None:
        """Rows go by customer, time, then item, with one row per item of a transaction."""
        it = columns(shoppers.interactions)
        order = np.lexsort((it["item_id"], it["datetime"], it["customer_id"]))
        assert np.array_equal(order, np.arange(len(order)))
        key = np.stack([it["customer_id"], it["datetime"].astype(np.int64), it["item_id"]])
        assert np.unique(key, axis=1).shape[1] == len(order)

    def test_catalogue_groups_are_even_and_popularity_is_zipf(
        self, shoppers: SyntheticData
    ) -> None:
        """Items split evenly into the taste groups; popularity shares follow Zipf's law."""
        items = columns(shoppers.items)
        assert np.array_equal(items["item_id"], np.arange(200))
        sizes = np.bincount(items["group"], minlength=8)
        assert sizes.min() == sizes.max() == 25
        share = np.sort(items["popularity"])[::-1]
        zipf = 1.0 / np.arange(1, 201)
        np.testing.assert_allclose(share, zipf / zipf.sum(), rtol=1e-12)

    def test_units_come_from_the_customers_taste_group(self, shoppers: SyntheticData) -> None:
        """The share of units from the customer's own group is taste_share plus chance."""
        it, items = columns(shoppers.interactions), columns(shoppers.items)
        taste = shoppers.truth.taste_group
        own = items["group"][it["item_id"]] == taste[it["customer_id"]]
        weight = it["quantity"].astype(np.float64)
        observed = float((own * weight).sum() / weight.sum())
        # By chance a popularity draw lands in the group with the group's popularity share.
        group_share = np.bincount(items["group"], weights=items["popularity"])
        units_by_taste = np.bincount(taste[it["customer_id"]], weights=weight, minlength=8)
        chance = float((units_by_taste * group_share).sum() / weight.sum())
        expected = 0.8 + 0.2 * chance
        assert abs(observed - expected) < 4 * math.sqrt(expected * (1 - expected) / weight.sum())

    def test_taste_groups_are_uniform(self, shoppers: SyntheticData) -> None:
        """Every customer has a taste group, each group about an eighth of them."""
        taste = shoppers.truth.taste_group
        assert taste.dtype == np.int64
        assert len(taste) == 20_000
        counts = np.bincount(taste, minlength=8)
        assert len(counts) == 8
        assert (np.abs(counts - 2_500) < 4 * math.sqrt(2_500)).all()

    def test_no_taste_draws_follow_popularity_alone(self) -> None:
        """With taste_share 0 and flat popularity, items are bought about equally often."""
        data = make(5_000, taste_share=0.0, item_popularity=0.0, n_items=20, n_tastes=4)
        items = columns(data.items)
        np.testing.assert_allclose(items["popularity"], np.full(20, 0.05))
        it = columns(data.interactions)
        units = np.bincount(it["item_id"], weights=it["quantity"], minlength=20)
        mean = units.sum() / 20
        assert (np.abs(units - mean) < 5 * math.sqrt(mean)).all()

    def test_string_ids_name_the_items(self) -> None:
        """With id_type="str", items are "item-" and a zero-padded number, in both frames."""
        data = make(200, id_type="str", n_items=120)
        items = columns(data.items)["item_id"].tolist()
        assert items[:2] == ["item-000", "item-001"]
        assert items[-1] == "item-119"
        assert set(columns(data.interactions)["item_id"].tolist()) <= set(items)

    def test_same_seed_gives_identical_interactions(self) -> None:
        """The same seed and arguments give the same items, interactions and tastes."""
        one, two = make(1_000), make(1_000)
        assert same_frames(one.interactions, two.interactions)
        assert same_frames(one.items, two.items)
        assert np.array_equal(one.truth.taste_group, two.truth.taste_group)
        other = make(1_000, seed=12)
        assert not same_frames(one.interactions, other.interactions)

    def test_params_and_truth_record_the_catalogue(self, base: SyntheticData) -> None:
        """Params hold the new arguments; the taste groups are read-only."""
        assert tuple(base.params)[-4:] == INTERACTION_ARGUMENTS
        assert [base.params[k] for k in INTERACTION_ARGUMENTS] == [200, 8, 0.8, 1.0]
        with pytest.raises(ValueError, match="read-only"):
            base.truth.taste_group[0] = 1

    @pytest.mark.parametrize(
        ("kwargs", "argument"),
        [
            ({"n_items": 0}, "n_items"),
            ({"n_items": 2.0}, "n_items"),
            ({"n_tastes": 0}, "n_tastes"),
            ({"n_items": 5, "n_tastes": 6}, "n_tastes"),
            ({"taste_share": 1.5}, "taste_share"),
            ({"taste_share": float("nan")}, "taste_share"),
            ({"item_popularity": -0.5}, "item_popularity"),
            ({"item_popularity": 11}, "item_popularity"),
            ({"item_popularity": "1"}, "item_popularity"),
        ],
    )
    def test_bad_arguments_are_refused_by_name(self, kwargs: dict[str, Any], argument: str) -> None:
        """A bad catalogue argument raises ValidationError naming it."""
        with pytest.raises(ValidationError) as info:
            make(10, **kwargs)
        assert info.value.column == argument

    @settings(max_examples=20, deadline=None)
    @given(
        n=st.integers(1, 300),
        seed=st.integers(0, 2**32),
        items=st.integers(1, 50),
        tastes=st.integers(1, 50),
        share=st.floats(0, 1),
        exponent=st.floats(0, 10),
    )
    def test_every_item_is_in_the_catalogue(
        self, n: int, seed: int, items: int, tastes: int, share: float, exponent: float
    ) -> None:
        """For any catalogue, every interaction names a catalogue item and a known customer."""
        tastes = min(tastes, items)
        data = make(
            n, seed=seed, n_items=items, n_tastes=tastes, taste_share=share,
            item_popularity=exponent, backend="pyarrow",
        )  # fmt: skip
        it = columns(data.interactions)
        assert ((it["item_id"] >= 0) & (it["item_id"] < items)).all()
        assert ((it["customer_id"] >= 0) & (it["customer_id"] < n)).all()
        popularity = columns(data.items)["popularity"]
        assert abs(popularity.sum() - 1) < 1e-9
        assert ((data.truth.taste_group >= 0) & (data.truth.taste_group < tastes)).all()
        assert int(it["quantity"].sum()) == int(columns(data.transactions)["quantity"].sum())
