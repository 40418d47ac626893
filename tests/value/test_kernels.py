"""relmark.value._kernels: the sort and run-length kernels."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from relmark.value._kernels import customer_periods, quantile_scores, sort_permutation


class TestSortPermutation:
    @given(st.lists(st.integers(0, 2**40), max_size=300))
    def test_is_a_stable_argsort(self, keys: list[int]) -> None:
        """The packed sort gives the stable argsort and the sorted keys."""
        arr = np.array(keys, dtype=np.int64)
        order, ordered = sort_permutation(arr)
        np.testing.assert_array_equal(order, np.argsort(arr, kind="stable"))
        np.testing.assert_array_equal(ordered, np.sort(arr))

    def test_falls_back_for_huge_keys(self) -> None:
        """Keys too large to pack still sort correctly."""
        arr = np.array([2**62, 1, 2**62 - 1], dtype=np.int64)
        order, _ = sort_permutation(arr)
        assert order.tolist() == [1, 2, 0]


class TestCustomerPeriods:
    def test_spread_out_keys(self) -> None:
        """Keys too far apart to combine with periods are factorised first."""
        keys = np.array([-(2**62), 2**62, -(2**62)], dtype=np.int64)
        cp = customer_periods(keys, np.array([0, 5, 3]), np.array([1.0, 2.0, 4.0]))
        assert cp.n_periods.tolist() == [2, 1]
        assert cp.repeat_spend_mean.tolist() == [4.0, 0.0]

    def test_sparse_keys_match_dense_keys(self) -> None:
        """Ids spread wide (x 10^9) give the same grouping as dense ids."""
        rng = np.random.default_rng(7)
        dense = rng.integers(0, 50, 500)
        periods = rng.integers(0, 900, 500)
        amounts = rng.gamma(2.0, 10.0, 500)
        a = customer_periods(dense, periods, amounts)
        b = customer_periods(dense * 10**9 + 12345, periods, amounts)
        for field in ("row", "first", "last", "n_periods", "n_rows"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        np.testing.assert_array_equal(a.repeat_spend_mean, b.repeat_spend_mean)

    def test_empty(self) -> None:
        """No rows, no customers."""
        cp = customer_periods(np.empty(0, np.int64), np.empty(0, np.int64))
        assert cp.row.size == 0


class TestQuantileScores:
    @given(st.lists(st.integers(0, 10), min_size=1, max_size=300), st.integers(2, 9))
    def test_even_as_ties_allow(self, values: list[int], bins: int) -> None:
        """With distinct values each bin holds n/bins values, give or take one."""
        distinct = np.arange(len(values), dtype=np.float64)
        counts = np.bincount(quantile_scores(distinct, bins), minlength=bins + 1)[1:]
        assert counts.max() - counts.min() <= 1 or len(values) < bins
