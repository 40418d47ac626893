"""The contract every lifetime-value model keeps, through `relmark.clv._base`.

Each law is checked once here for every model that reads one row per
customer (or per group of identical customers), instead of once per model
file: the answer does not depend on the frame library, a weight of k is k
identical rows, nothing is predicted before `fit`, nothing the caller passed
is changed. The model files test what is particular to each model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from relmark.clv import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    Params,
    ParetoNBDModel,
    _base,
)
from relmark.clv._base import Model, check_summary, compress, distinct_rows, read_weights
from relmark.datasets import load_cdnow_summary, load_donations
from relmark.exceptions import NotFittedError, ValidationError


def cdnow(backend: str) -> Any:
    """The CDNOW calibration summary with spend."""
    return load_cdnow_summary(backend=backend, with_spend=True)


def donations(backend: str) -> Any:
    """The donation patterns, expanded to one row per donor (so weights can be tested)."""
    frame = load_donations(backend="pandas")
    rows = frame.loc[frame.index.repeat(frame["weights"])].drop(columns="weights")
    rows = rows.reset_index(drop=True)
    if backend == "pandas":
        return rows
    import polars as pl

    polars = pl.from_pandas(rows)
    return polars if backend == "polars" else polars.to_arrow()


MODELS: dict[str, tuple[type[Model], Callable[[str], Any]]] = {
    "BG/NBD": (BetaGeoModel, cdnow),
    "MBG/NBD": (ModifiedBetaGeoModel, cdnow),
    "Pareto/NBD": (ParetoNBDModel, cdnow),
    "BG/BB": (BetaGeoBetaBinomModel, donations),
    "Gamma-Gamma": (GammaGammaModel, cdnow),
}


@pytest.fixture(params=list(MODELS), scope="module")
def case(request: pytest.FixtureRequest) -> tuple[type[Model], Callable[[str], Any], Model]:
    """A model class, its data loader, and the model fitted on the pandas data."""
    cls, load = MODELS[request.param]
    return cls, load, cls().fit(load("pandas"))


def predictions(model: Model, data: object) -> list[np.ndarray]:
    """Every per-customer prediction the model has, on `data`."""
    if isinstance(model, GammaGammaModel):
        return [model.expected_average_value(data)]
    purchases: Any = model
    return [
        purchases.expected_purchases(2, data),
        purchases.probability_alive(data),
        purchases.expected_purchases_new([1, 2]),
        purchases.probability_of_purchases([0, 1], 2),
    ]


class TestContract:
    """Laws every model keeps."""

    def test_every_backend_and_a_mapping_give_one_answer(self, case: Any) -> None:
        """pandas, polars, pyarrow and a dict of numpy arrays fit the same parameters."""
        cls, load, fitted = case
        for backend in ("polars", "pyarrow"):
            other = cls().fit(load(backend))
            assert dict(other.params_) == pytest.approx(dict(fitted.params_), rel=1e-8)
        frame = load("pandas")
        mapping = {name: frame[name].to_numpy() for name in cls._columns}
        other = cls().fit(mapping)
        assert dict(other.params_) == pytest.approx(dict(fitted.params_), rel=1e-8)

    def test_weights_equal_repeated_rows(self, case: Any) -> None:
        """Weighting a row by 3 is fitting it three times."""
        cls, load, _ = case
        head = load("pandas").sample(n=1500, random_state=1)
        weights = np.where(np.arange(len(head)) % 5 == 0, 3.0, 1.0)
        repeated = head.loc[head.index.repeat(weights.astype(int))]
        by_weight = cls().fit(head, weights=weights)
        by_rows = cls().fit(repeated)
        assert dict(by_weight.params_) == pytest.approx(dict(by_rows.params_), rel=1e-6)
        assert by_weight.log_likelihood_ == pytest.approx(by_rows.log_likelihood_, rel=1e-9)
        assert by_weight.n_customers_ == by_rows.n_customers_

    def test_weights_can_name_a_column(self, case: Any) -> None:
        """weights="w" reads the weights from the frame itself."""
        cls, load, fitted = case
        frame = load("pandas").assign(w=2.0)
        model = cls().fit(frame, weights="w")
        assert model.n_customers_ == 2 * fitted.n_customers_
        assert dict(model.params_) == pytest.approx(dict(fitted.params_), rel=1e-6)

    def test_nothing_passed_in_is_modified(self, case: Any) -> None:
        """The caller's arrays and weights come back untouched from fit and predictions."""
        cls, load, _ = case
        frame = load("pandas").sample(n=1500, random_state=2)
        data = {name: frame[name].to_numpy(dtype=float) for name in cls._columns}
        copies = {name: values.copy() for name, values in data.items()}
        weights = np.linspace(1.0, 3.0, len(frame))
        model = cls().fit(data, weights=weights)
        predictions(model, data)
        for name, values in data.items():
            np.testing.assert_array_equal(values, copies[name])
        np.testing.assert_array_equal(weights, np.linspace(1.0, 3.0, len(frame)))

    def test_nothing_is_predicted_before_fit(self, case: Any) -> None:
        """Predictions, fitted attributes and summary() raise NotFittedError before fit."""
        cls, load, _ = case
        model = cls()
        data = load("pandas").head(5)
        calls: list[Callable[[], object]] = [lambda: predictions(model, data)]
        if not isinstance(model, GammaGammaModel):
            purchases: Any = model
            calls += [
                lambda: purchases.expected_purchases_new(1),
                lambda: purchases.probability_of_purchases(1, 1),
            ]
        for call in calls:
            with pytest.raises(NotFittedError, match=r"call \.fit\(data\) first"):
                call()
        with pytest.raises(NotFittedError):
            model.summary()
        with pytest.raises(AttributeError):
            _ = model.params_
        assert not model.is_fitted

    def test_summary_has_one_row_per_parameter(self, case: Any) -> None:
        """The summary table lists the parameters in order with positive intervals around them."""
        _, _, fitted = case
        table = fitted.summary()
        assert isinstance(table, pd.DataFrame)
        assert list(table["parameter"]) == list(fitted.params_)
        assert (table["lower_95"] > 0).all()
        assert (table["lower_95"] < table["estimate"]).all()
        assert (table["estimate"] < table["upper_95"]).all()


class TestParams:
    """relmark.clv.Params."""

    def test_is_a_read_only_mapping_with_aliases(self) -> None:
        """Aliases are looked up but not listed; nothing can be assigned."""
        params = Params({"p": 1.0, "v": 2.0}, aliases={"gamma": "v"})
        assert params["gamma"] == 2.0
        assert "gamma" in params
        assert list(params) == ["p", "v"]
        with pytest.raises(TypeError):
            params["p"] = 3.0  # type: ignore[index]

    def test_survives_pickling(self) -> None:
        """A fitted model's parameters pickle with their aliases."""
        import pickle

        params = Params({"p": 1.0, "v": 2.0}, aliases={"gamma": "v"})
        again = pickle.loads(pickle.dumps(params))
        assert again["gamma"] == 2.0
        assert dict(again) == dict(params)


class TestCompress:
    """relmark.clv._base.compress."""

    @pytest.mark.parametrize("whole", [True, False])
    def test_merges_identical_rows_and_sums_weights(self, whole: bool, rng: Any) -> None:
        """Whole-number and fractional rows merge to the distinct rows with their summed weights."""
        x = rng.integers(0, 5, 1000).astype(float)
        y = rng.integers(0, 7, 1000).astype(float) + (0.0 if whole else 0.5)
        weights = rng.random(1000)
        weights[::10] = 0.0
        fit = compress({"x": x, "y": y}, weights)
        keep = weights > 0
        expected = pd.DataFrame({"x": x[keep], "y": y[keep], "w": weights[keep]})
        expected = expected.groupby(["x", "y"], as_index=False)["w"].sum()
        got = pd.DataFrame({"x": fit.columns["x"], "y": fit.columns["y"], "w": fit.weights})
        got = got.sort_values(["x", "y"], ignore_index=True)
        np.testing.assert_array_equal(got["x"], expected["x"])
        np.testing.assert_array_equal(got["y"], expected["y"])
        np.testing.assert_allclose(got["w"], expected["w"], rtol=1e-12)
        assert fit.n_customers == pytest.approx(weights.sum())


class TestDistinctRows:
    """relmark.clv._base.distinct_rows."""

    def test_rows_map_back_exactly(self, rng: Any) -> None:
        """Every row is rebuilt from its distinct row, and distinct rows are distinct."""
        columns = [rng.integers(0, 4, 5000).astype(float), rng.integers(0, 3, 5000) / 2]
        distinct, inverse = distinct_rows(columns)
        for values, original in zip(distinct, columns, strict=True):
            np.testing.assert_array_equal(values[inverse], original)
        assert len(set(zip(*(values.tolist() for values in distinct), strict=True))) == 12
        assert len(distinct[0]) == 12

    def test_hash_collisions_fall_back_to_exact_matching(
        self, rng: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If every row hashed alike, rows would still be matched exactly."""
        monkeypatch.setattr(_base, "_MIX", (np.uint64(0),) * 4)
        columns = [rng.integers(0, 4, 500).astype(float), rng.random(500)]
        distinct, inverse = distinct_rows(columns)
        for values, original in zip(distinct, columns, strict=True):
            np.testing.assert_array_equal(values[inverse], original)


class TestReadWeights:
    """relmark.clv._base.read_weights."""

    @pytest.mark.parametrize(
        ("weights", "message"),
        [
            ([1.0, -1.0], "weights must be >= 0"),
            ([1.0], "weights has 1 entries but the data has 2 rows"),
            ([0.0, 0.0], "the weights sum to zero"),
            ([1.0, float("nan")], "weights is missing or NaN"),
        ],
    )
    def test_bad_weights_are_refused(self, weights: list[float], message: str) -> None:
        """Negative, misaligned, all-zero or NaN weights are a ValidationError."""
        with pytest.raises(ValidationError, match=message):
            read_weights(weights, {"x": [1, 2]}, 2)


class TestCheckSummary:
    """relmark.clv._base.check_summary."""

    def test_names_the_suffixed_column(self) -> None:
        """With a suffix, the error names the column the caller knows (e.g. recency_cal)."""
        columns = {
            "frequency_cal": np.array([1.0]),
            "recency_cal": np.array([9.0]),
            "T_cal": np.array([5.0]),
        }
        with pytest.raises(ValidationError, match="recency_cal must not exceed T_cal") as caught:
            check_summary(columns, suffix="_cal")
        assert caught.value.column == "recency_cal"
        assert caught.value.row == 0


class TestPenalty:
    """The L2 penalty does not depend on the time unit."""

    def test_days_and_weeks_give_the_same_penalised_fit(self) -> None:
        """Scaling T and recency by 7 scales alpha by 7 and nothing else, penalty included."""
        weeks = load_cdnow_summary(backend="pandas")
        days = weeks.assign(recency=weeks["recency"] * 7, T=weeks["T"] * 7)
        in_weeks = BetaGeoModel(penalizer=0.05).fit(weeks).params_
        in_days = BetaGeoModel(penalizer=0.05).fit(days).params_
        assert in_days["alpha"] == pytest.approx(7 * in_weeks["alpha"], rel=1e-6)
        for name in ("r", "a", "b"):
            assert in_days[name] == pytest.approx(in_weeks[name], rel=1e-6)
