"""relmark.value.concentration: top shares, Gini, Lorenz curve and the Pareto table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relmark import concentration, pareto_table
from relmark.exceptions import ValidationError

values_st = st.lists(st.floats(0, 1e6), min_size=1, max_size=200).filter(lambda v: sum(v) > 1e-6)


class TestConcentration:
    def test_equal_values(self) -> None:
        """When everyone brings the same, the top 20% bring 20% and Gini is 0."""
        c = concentration([5.0] * 10)
        assert c.top_share(0.2) == pytest.approx(0.2)
        assert c.gini == pytest.approx(0.0)

    def test_one_brings_all(self) -> None:
        """When one of n brings everything, Gini is (n - 1) / n."""
        c = concentration([0.0] * 9 + [7.0])
        assert c.gini == pytest.approx(0.9)
        assert c.top_share(0.1) == 1.0

    def test_series_input(self) -> None:
        """Pandas and polars series are accepted."""
        assert concentration(pd.Series([1, 3])).total == concentration(pl.Series([1, 3])).total == 4

    @pytest.mark.parametrize("bad", [[1.0, float("nan")], [1.0, -2.0], [0.0, 0.0], []])
    def test_bad_values(self, bad: list[float]) -> None:
        """NaN, negative and all-zero values are refused."""
        with pytest.raises(ValidationError):
            concentration(bad)

    def test_bad_fraction(self) -> None:
        """A fraction outside 0..1 is refused with the hint to write 20% as 0.2."""
        with pytest.raises(ValidationError, match=r"0\.2"):
            concentration([1.0]).top_share(20)

    @given(values_st, st.floats(0, 1), st.floats(0, 1))
    def test_top_share_laws(self, values: list[float], a: float, b: float) -> None:
        """Top share grows with the fraction, from 0 to 1, never below the fraction itself."""
        c = concentration(values)
        lo, hi = sorted((a, b))
        assert c.top_share(lo) <= c.top_share(hi) + 1e-12
        assert c.top_share(0) == 0
        assert c.top_share(1) == pytest.approx(1)
        assert c.top_share(lo) >= lo - 1e-9

    @given(values_st)
    def test_gini_is_one_minus_twice_lorenz_area(self, values: list[float]) -> None:
        """Gini equals 1 - 2 * area under the Lorenz curve, and lies in [0, 1)."""
        c = concentration(values)
        x, y = c.lorenz()
        area = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))
        assert c.gini == pytest.approx(1 - 2 * area, abs=1e-9)
        assert -1e-12 <= c.gini < 1

    @given(values_st, st.floats(0.01, 1))
    def test_fraction_for_share_inverts_top_share(self, values: list[float], share: float) -> None:
        """The fraction needed for a share brings that share."""
        c = concentration(values)
        assert c.top_share(c.top_fraction_for(share)) == pytest.approx(share, rel=1e-6, abs=1e-9)


class TestParetoTable:
    def test_polars_in_polars_out(self) -> None:
        """The table comes back in the input's kind."""
        out = pareto_table(pl.DataFrame({"v": [4.0, 1.0]}), "v", fractions=[0.5])
        assert isinstance(out, pl.DataFrame)
        assert out.row(0) == (0.5, 1, 4.0, 0.8)
