"""Tests of relmark.datasets.make_synthetic: shapes, reproducibility, the true process."""

from __future__ import annotations

import enum
import math
from typing import Any

import attrs
import narwhals.stable.v2 as nw
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _support import columns
from relmark.datasets import SyntheticData, make_synthetic
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


def make(n: int = 2_000, **kwargs: Any) -> SyntheticData:
    """A synthetic data set over 2024 in polars, with overridable arguments."""
    options: dict[str, Any] = {"seed": 11, "start": START, "end": END, "backend": "polars"}
    options.update(kwargs)
    return make_synthetic(n, **options)


def same_frames(left: Any, right: Any) -> bool:
    """Whether two native frames hold the same columns and values."""
    a, b = columns(left), columns(right)
    return list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a)


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
        """Customers, transactions and touchpoints have the documented schemas."""
        assert dict(nw.from_native(base.customers, eager_only=True).schema) == {
            "customer_id": nw.Int64(),
            "timezone": nw.String(),
            "created_at": UTC_US,
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

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_each_backend_returns_its_frame_type(self, backend: str) -> None:
        """pandas, polars and pyarrow each get their own frames, with the same values."""
        data = make(300, backend=backend)
        reference = make(300)
        for name in ("customers", "transactions", "touchpoints"):
            frame = getattr(data, name)
            assert nw.get_native_namespace(nw.from_native(frame)).__name__ == backend
            assert same_frames(frame, getattr(reference, name)), name
        assert data.params["backend"] == backend

    def test_same_seed_gives_identical_data(self) -> None:
        """Two calls with the same seed and arguments give identical frames and truth."""
        one, two = make(same_day_share=0.2), make(same_day_share=0.2)
        for name in ("customers", "transactions", "touchpoints"):
            assert same_frames(getattr(one, name), getattr(two, name)), name
        for field in attrs.fields(type(one.truth)):
            left, right = getattr(one.truth, field.name), getattr(two.truth, field.name)
            assert np.array_equal(left, right, equal_nan=field.name != "alive"), field.name

    def test_different_seed_gives_different_data(self) -> None:
        """Another seed gives other transactions and other truth."""
        one, two = make(seed=1), make(seed=2)
        assert not same_frames(one.transactions, two.transactions)
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
        with pytest.raises(TypeError):
            params["r"] = 1.0  # type: ignore[index]

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
        assert text.endswith(", seed=11)")

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
        for name in ("transactions", "touchpoints"):
            cols = columns(getattr(data, name))
            assert (cols["datetime"] >= created[cols["customer_id"]]).all()
            assert (cols["datetime"] < end).all()

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
