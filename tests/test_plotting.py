"""Tests of relmark.plotting: the data drawn, the labels and the lazy matplotlib import."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relmark.clv._base import Params
from relmark.clv.beta_geo import BetaGeoModel
from relmark.clv.evaluation import evaluate
from relmark.exceptions import NotFittedError, ValidationError
from relmark.plotting import (
    plot_calibration,
    plot_frequency_recency_matrix,
    plot_probability_alive_matrix,
)

Array = npt.NDArray[np.float64]


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    """Close every figure a test opened."""
    yield
    plt.close("all")


def published_model() -> BetaGeoModel:
    """BG/NBD at the CDNOW estimates of FHL 2005 (weeks), without fitting."""
    model = BetaGeoModel()
    model.params_ = Params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    return model


class Linear:
    """A stand-in model: frequency + recency / T purchases per unit of t, alive = recency / T."""

    def expected_purchases(self, t: float | Array, data: Any) -> Array:
        return (data["frequency"] + data["recency"] / data["T"]) * t

    def probability_alive(self, data: Any) -> Array:
        return np.asarray(data["recency"] / data["T"], dtype=np.float64)

    def probability_of_purchases(self, n: int | Array, t: float | Array) -> Array:
        return np.full(np.shape(n), 0.25)  # 0..3 holds 100%: the 99% point is n = 3


def grid(max_frequency: int, max_recency: int, age: float) -> dict[str, Array]:
    """The frequency-recency grid, recency by rows, as flat columns."""
    frequency, recency = np.meshgrid(np.arange(max_frequency + 1.0), np.arange(max_recency + 1.0))
    return {"frequency": frequency, "recency": recency, "T": np.full(frequency.shape, age)}


def impossible(cells: dict[str, Array]) -> npt.NDArray[np.bool_]:
    """Cells with no repeat purchase but a positive recency."""
    return (cells["frequency"] == 0) & (cells["recency"] > 0)


def predicted(model: Any, cells: dict[str, Array], method: str, *args: float) -> Array:
    """The model's predictions on the possible cells, NaN on the impossible ones."""
    keep = ~impossible(cells)
    flat = {name: values[keep] for name, values in cells.items()}
    out = np.full(cells["frequency"].shape, np.nan)
    out[keep] = getattr(model, method)(*args, flat)
    return out


def test_import_plotting_imports_no_matplotlib() -> None:
    """`import relmark.plotting` imports neither matplotlib nor a frame library."""
    code = (
        "import sys, relmark.plotting\n"
        "heavy = ('matplotlib', 'pandas', 'polars', 'pyarrow')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


class TestPlotFrequencyRecencyMatrix:
    def test_image_is_the_models_predictions_on_the_grid(self) -> None:
        """Each pixel is the expected purchases of its (frequency, recency) customer."""
        model = published_model()
        ax = plot_frequency_recency_matrix(model, T=39, max_frequency=10, t=4)
        image = ax.images[0].get_array()
        cells = grid(10, 39, 39.0)
        expected = predicted(model, cells, "expected_purchases", 4.0)
        assert image.shape == (40, 11)
        np.testing.assert_array_equal(np.ma.getmaskarray(image), impossible(cells))
        np.testing.assert_allclose(image.filled(np.nan), expected, rtol=1e-12)

    def test_labels_orientation_and_colour_bar(self) -> None:
        """Frequency runs along x, recency up y, with a titled colour bar."""
        ax = plot_frequency_recency_matrix(published_model(), T=39, max_frequency=5, t=39)
        assert ax.get_xlabel() == "Frequency (repeat purchases)"
        assert ax.get_ylabel() == "Recency (age at last purchase)"
        assert ax.get_title() == (
            "Expected purchases in the next 39 time units\nof a customer of age T = 39"
        )
        assert ax.images[0].origin == "lower"
        colour_bar = ax.figure.axes[1]
        assert colour_bar.get_ylabel() == "Expected purchases"
        # The most frequent, most recent customer is the top-right pixel and the best one.
        image = ax.images[0].get_array()
        assert image[-1, -1] == image.max()

    def test_default_limits(self) -> None:
        """Recency runs to floor(T); frequency to the 99% point of a new customer's purchases."""
        model = published_model()
        ax = plot_frequency_recency_matrix(model, T=38.86)
        rows, cols = ax.images[0].get_array().shape
        assert rows == 39
        cumulative = np.cumsum(model.probability_of_purchases(np.arange(cols), 38.86))
        assert cumulative[-2] < 0.99 <= cumulative[-1]

    def test_any_model_with_the_prediction_api(self) -> None:
        """A model of another family is drawn through the same three methods."""
        ax = plot_frequency_recency_matrix(Linear(), T=4, t=2)
        image = ax.images[0].get_array()
        cells = grid(3, 4, 4.0)
        expected = (cells["frequency"] + cells["recency"] / 4) * 2
        expected[impossible(cells)] = np.nan
        np.testing.assert_allclose(image.filled(np.nan), expected)

    def test_draws_on_the_axes_given(self) -> None:
        """With ax given it draws there and opens no figure."""
        fig, ax = plt.subplots()
        out = plot_frequency_recency_matrix(published_model(), T=10, max_frequency=3, ax=ax)
        assert out is ax
        assert plt.get_fignums() == [fig.number]

    def test_unfitted_model(self) -> None:
        """An unfitted model raises NotFittedError."""
        with pytest.raises(NotFittedError):
            plot_frequency_recency_matrix(BetaGeoModel(), T=10, max_frequency=3)

    @pytest.mark.parametrize(
        ("kwargs", "column"),
        [
            ({"T": 0}, "T"),
            ({"T": -1.0}, "T"),
            ({"T": math.nan}, "T"),
            ({"T": math.inf}, "T"),
            ({"T": "39"}, "T"),
            ({"T": True}, "T"),
            ({"T": 10, "t": 0}, "t"),
            ({"T": 10, "max_frequency": 0}, "max_frequency"),
            ({"T": 10, "max_frequency": 2.5}, "max_frequency"),
            ({"T": 10, "max_frequency": True}, "max_frequency"),
            ({"T": 10, "max_recency": 11}, "max_recency"),
            ({"T": 10, "max_recency": -1}, "max_recency"),
        ],
    )
    def test_bad_arguments(self, kwargs: dict[str, Any], column: str) -> None:
        """Invalid T, t or limits are a ValidationError naming the argument."""
        with pytest.raises(ValidationError) as info:
            plot_frequency_recency_matrix(published_model(), **kwargs)
        assert info.value.column == column

    def test_without_matplotlib(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without matplotlib it says to install the plot extra."""
        monkeypatch.setitem(sys.modules, "matplotlib", None)
        monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
        with pytest.raises(ImportError, match=r"pip install relmark\[plot\]"):
            plot_frequency_recency_matrix(published_model(), T=10, max_frequency=3)


class TestPlotProbabilityAliveMatrix:
    def test_image_is_the_models_probabilities_on_the_grid(self) -> None:
        """Each pixel is P(alive) of its (frequency, recency) customer, on a 0-1 scale."""
        model = published_model()
        ax = plot_probability_alive_matrix(model, T=39, max_frequency=8, max_recency=30)
        image = ax.images[0].get_array()
        cells = grid(8, 30, 39.0)
        expected = predicted(model, cells, "probability_alive")
        assert image.shape == (31, 9)
        np.testing.assert_allclose(image.filled(np.nan), expected, rtol=1e-12)
        assert ax.images[0].get_clim() == (0.0, 1.0)

    def test_labels(self) -> None:
        """Axis labels, title and colour bar say what is drawn."""
        ax = plot_probability_alive_matrix(published_model(), T=39, max_frequency=5)
        assert ax.get_xlabel() == "Frequency (repeat purchases)"
        assert ax.get_ylabel() == "Recency (age at last purchase)"
        assert ax.get_title() == "Probability that a customer of age T = 39 is alive"
        assert ax.figure.axes[1].get_ylabel() == "P(alive)"

    def test_default_frequency_limit_of_a_stand_in_model(self) -> None:
        """The default frequency limit comes from the model's probability_of_purchases."""
        ax = plot_probability_alive_matrix(Linear(), T=2)
        assert ax.images[0].get_array().shape == (3, 4)

    @settings(max_examples=20, deadline=None)
    @given(age=st.floats(0.5, 60), max_frequency=st.integers(1, 40))
    def test_probabilities_stay_in_0_1(self, age: float, max_frequency: int) -> None:
        """Every pixel is a probability, for any age and frequency range."""
        ax = plot_probability_alive_matrix(published_model(), T=age, max_frequency=max_frequency)
        image = ax.images[0].get_array()
        assert image.shape == (math.floor(age) + 1, max_frequency + 1)
        assert ((image >= 0) & (image <= 1)).all()
        plt.close(ax.figure)

    def test_bad_age(self) -> None:
        """A non-positive age is a ValidationError."""
        with pytest.raises(ValidationError, match="T must be"):
            plot_probability_alive_matrix(published_model(), T=-3)


def small_split() -> dict[str, list[float]]:
    """Six customers with calibration frequencies 0, 0, 1, 3, 4, 9."""
    return {
        "frequency_cal": [0, 0, 1, 3, 4, 9],
        "recency_cal": [0.0, 0.0, 2.0, 5.0, 6.0, 9.0],
        "T_cal": [10.0, 8.0, 10.0, 10.0, 10.0, 10.0],
        "frequency_holdout": [0, 1, 0, 2, 3, 5],
        "duration_holdout": [10.0] * 6,
    }


class TestPlotCalibration:
    def test_lines_are_the_group_means(self) -> None:
        """The two lines are the mean actual and mean predicted purchases of each group."""
        result = evaluate(published_model(), small_split(), max_frequency=3)
        ax = plot_calibration(result)
        actual, model_line = ax.get_lines()
        table = result.by_frequency
        np.testing.assert_array_equal(actual.get_xdata(), table["frequency_cal"])
        np.testing.assert_allclose(actual.get_ydata(), table["mean_actual"])
        np.testing.assert_allclose(model_line.get_ydata(), table["mean_predicted"])
        assert [tick.get_text() for tick in ax.get_xticklabels()] == ["0", "1", "3+"]

    def test_labels_and_legend(self) -> None:
        """Axis labels, title and legend say what is drawn."""
        ax = plot_calibration(evaluate(published_model(), small_split()))
        assert ax.get_xlabel() == "Repeat purchases in the calibration period"
        assert ax.get_ylabel() == "Mean purchases in the holdout period"
        assert ax.get_title() == (
            "Actual vs predicted holdout purchases\nby calibration-period frequency"
        )
        legend = ax.get_legend()
        assert [text.get_text() for text in legend.get_texts()] == ["Actual", "Predicted"]
        assert ax.get_ylim()[0] == 0

    def test_polars_evaluation(self) -> None:
        """An evaluation of a polars split is drawn the same way."""
        result = evaluate(published_model(), pl.DataFrame(small_split()))
        ax = plot_calibration(result)
        np.testing.assert_allclose(
            ax.get_lines()[1].get_ydata(), result.by_frequency["mean_predicted"].to_numpy()
        )

    def test_draws_on_the_axes_given(self) -> None:
        """With ax given it draws there and returns it."""
        _, ax = plt.subplots()
        assert plot_calibration(evaluate(published_model(), small_split()), ax=ax) is ax

    def test_refuses_anything_but_an_evaluation(self) -> None:
        """Passing something else is a ValidationError."""
        with pytest.raises(ValidationError, match="needs an Evaluation"):
            plot_calibration(small_split())  # type: ignore[arg-type]
