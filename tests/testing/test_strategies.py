"""Smoke tests for relmark.testing.strategies: they generate valid records only."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pendulum
from hypothesis import given
from hypothesis import strategies as st

import relmark
from relmark.models import Channel, Customer, Touchpoint, Transaction
from relmark.testing import aware_datetimes, customers, json_values, touchpoints, transactions


class TestAwareDatetimes:
    @given(aware_datetimes())
    def test_aware_pendulum(self, moment: pendulum.DateTime) -> None:
        """Every value is an aware pendulum.DateTime in the default range."""
        assert isinstance(moment, pendulum.DateTime)
        assert moment.utcoffset() is not None
        assert 1899 <= moment.year <= 2101

    @given(
        aware_datetimes(
            min_value=dt.datetime(2024, 1, 1),
            max_value=dt.datetime(2024, 12, 31),
            timezones=st.just(dt.timezone(dt.timedelta(hours=3))),
        )
    )
    def test_bounds_and_zone(self, moment: pendulum.DateTime) -> None:
        """The bounds and the zone strategy are respected."""
        assert moment.year == 2024
        assert moment.utcoffset() == dt.timedelta(hours=3)


class TestJsonValues:
    @given(json_values())
    def test_json_serialisable(self, value: object) -> None:
        """Every value survives json.dumps/json.loads unchanged."""
        assert json.loads(json.dumps(value, allow_nan=False)) == value


class TestCustomers:
    @given(customers(ids=st.sampled_from(["a", "b"])))
    def test_valid_customers(self, customer: Customer) -> None:
        """Generated customers are Customer records with the pinned ids."""
        assert isinstance(customer, Customer)
        assert customer.id in {"a", "b"}


class TestTransactions:
    @given(transactions(customer_ids=st.just("c1"), currencies=st.just("EUR")))
    def test_valid_transactions(self, transaction: Transaction) -> None:
        """Generated transactions are Transaction records with the pinned fields."""
        assert isinstance(transaction, Transaction)
        assert (transaction.customer_id, transaction.currency) == ("c1", "EUR")


class TestTouchpoints:
    @given(touchpoints(channels=st.just(Channel.POST)))
    def test_valid_touchpoints(self, touchpoint: Touchpoint) -> None:
        """Generated touchpoints are Touchpoint records on the pinned channel."""
        assert isinstance(touchpoint, Touchpoint)
        assert touchpoint.channel is Channel.POST


class TestImportIsolation:
    def test_relmark_does_not_import_hypothesis(self) -> None:
        """Importing relmark, its models and serialize never imports hypothesis."""
        src = str(Path(relmark.__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
        code = (
            "import sys, relmark, relmark.models, relmark.serialize;"
            " sys.exit('hypothesis' in sys.modules)"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
