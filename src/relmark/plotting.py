"""Figures of fitted lifetime-value models and of their holdout checks (matplotlib, optional).

Install the plotting extra with `pip install relmark[plot]`. matplotlib is
imported inside each function, on the first call, never by
`import relmark.plotting`.

Every function draws on the matplotlib `Axes` passed as `ax` (a new figure
when it is None) and returns that `Axes`, to be titled, saved or shown as
the caller likes:

- `plot_frequency_recency_matrix`: expected purchases in the next `t`
  periods of a customer of age `T`, for each frequency and recency;
- `plot_probability_alive_matrix`: the probability that such a customer is
  still active;
- `plot_calibration`: mean actual against mean predicted holdout purchases
  by calibration frequency, from `relmark.clv.evaluation.evaluate`.

In the two matrices frequency runs along the x axis and recency up the y
axis, so the most frequent and most recent customers sit top right. A
customer without repeat purchases has recency 0, so the cells of frequency
0 above recency 0 cannot happen and are left blank.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from relmark.exceptions import ValidationError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from relmark.clv.evaluation import Evaluation

__all__ = [
    "CustomerModel",
    "plot_calibration",
    "plot_frequency_recency_matrix",
    "plot_probability_alive_matrix",
]

Array = npt.NDArray[np.float64]

_QUANTILE = 0.99
_MOST_FREQUENCIES = 10_000


class CustomerModel(Protocol):
    """A fitted transaction model: `BetaGeoModel`, `ParetoNBDModel`, `ModifiedBetaGeoModel`, ..."""

    def expected_purchases(self, t: float | Array, data: object, /) -> Array:
        """Expected purchases in the next `t` periods of each customer in `data`."""
        ...

    def probability_alive(self, data: object, /) -> Array:
        """Probability that each customer in `data` is still active."""
        ...

    def probability_of_purchases(self, n: int | Array, t: float | Array, /) -> Array:
        """Probability that a new customer makes exactly `n` purchases in `t` periods."""
        ...


def plot_frequency_recency_matrix(
    model: CustomerModel,
    *,
    T: float,  # noqa: N803 - the BTYD name of the customer's age
    max_frequency: int | None = None,
    max_recency: float | None = None,
    t: float = 1,
    ax: Axes | None = None,
) -> Axes:
    """Heatmap of the purchases expected from each kind of customer in the next `t` periods.

    Cell (frequency x, recency t_x) holds `model.expected_purchases(t, data)`
    for a customer with x repeat purchases, the last at t_x, observed for
    `T` (E[Y(t) | x, t_x, T], e.g. FHL 2005 eq. 10 for the BG/NBD). The
    colour bar gives the scale.

    Args:
        model: A fitted transaction model.
        T: Age of the customers: time from their first purchase to now, in
            the time unit of the fitted data; a number > 0.
        max_frequency: Largest frequency shown. By default, the number of
            repeat purchases that 99% of new customers do not exceed by age
            `T` (from `model.probability_of_purchases`), at least 1.
        max_recency: Largest recency shown (<= `T`); by default `T`.
            Recency runs 0, 1, 2, ... up to it.
        t: Length of the coming period, > 0.
        ax: Axes to draw on; a new figure if None.

    Returns:
        The Axes, with the image (`ax.images[0]`, rows = recency, columns =
        frequency) and a colour bar.

    Raises:
        ImportError: if matplotlib is not installed.
        ValidationError: on invalid `T`, `t`, `max_frequency` or
            `max_recency`.
        NotFittedError: if the model is not fitted.

    Examples:
        >>> from relmark.clv.beta_geo import BetaGeoModel
        >>> from relmark.datasets import load_cdnow_summary
        >>> model = BetaGeoModel().fit(load_cdnow_summary())
        >>> ax = plot_frequency_recency_matrix(model, T=39, t=4)
        >>> ax.images[0].get_array().shape  # recency 0..39, frequency 0..max
        (40, ...)
        >>> ax.get_xlabel()
        'Frequency (repeat purchases)'
        >>> import matplotlib.pyplot as plt
        >>> plt.close(ax.figure)
    """
    horizon = _positive(t, "t")
    values = _matrix(
        model,
        T,
        max_frequency,
        max_recency,
        lambda data: model.expected_purchases(horizon, data),
    )
    return _draw_matrix(
        ax,
        values,
        label="Expected purchases",
        title=f"Expected purchases in the next {horizon:g} time units\n"
        f"of a customer of age T = {T:g}",
        limits=(0.0, None),
    )


def plot_probability_alive_matrix(
    model: CustomerModel,
    *,
    T: float,  # noqa: N803 - the BTYD name of the customer's age
    max_frequency: int | None = None,
    max_recency: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Heatmap of the probability that each kind of customer is still active.

    Cell (frequency x, recency t_x) holds `model.probability_alive(data)` for
    a customer with x repeat purchases, the last at t_x, observed for `T`
    (P(alive | x, t_x, T), e.g. FHL 2005 eq. 11 for the BG/NBD). The colour
    scale runs from 0 to 1.

    Args:
        model: A fitted transaction model.
        T: Age of the customers, in the time unit of the fitted data; > 0.
        max_frequency: Largest frequency shown; by default as in
            `plot_frequency_recency_matrix`.
        max_recency: Largest recency shown (<= `T`); by default `T`.
        ax: Axes to draw on; a new figure if None.

    Returns:
        The Axes, with the image (`ax.images[0]`, rows = recency, columns =
        frequency) and a colour bar.

    Raises:
        ImportError: if matplotlib is not installed.
        ValidationError: on invalid `T`, `max_frequency` or `max_recency`.
        NotFittedError: if the model is not fitted.

    Examples:
        >>> from relmark.clv.beta_geo import BetaGeoModel
        >>> from relmark.datasets import load_cdnow_summary
        >>> model = BetaGeoModel().fit(load_cdnow_summary())
        >>> ax = plot_probability_alive_matrix(model, T=39, max_frequency=10)
        >>> ax.images[0].get_array().shape
        (40, 11)
        >>> import matplotlib.pyplot as plt
        >>> plt.close(ax.figure)
    """
    values = _matrix(model, T, max_frequency, max_recency, model.probability_alive)
    return _draw_matrix(
        ax,
        values,
        label="P(alive)",
        title=f"Probability that a customer of age T = {T:g} is alive",
        limits=(0.0, 1.0),
    )


def plot_calibration(evaluation: Evaluation, *, ax: Axes | None = None) -> Axes:
    """Mean actual and mean predicted holdout purchases by calibration frequency.

    The conditional-expectation plot of Fader, Hardie and Lee (2005):
    customers grouped by their repeat purchases in the calibration
    period (the last group censored, "7+"), and for each group the mean
    number of purchases they made in the holdout period against the mean the
    model predicted, from `relmark.clv.evaluation.evaluate`.

    Args:
        evaluation: The result of `evaluate(model, split)`.
        ax: Axes to draw on; a new figure if None.

    Returns:
        The Axes, with two lines: "Actual" and "Predicted".

    Raises:
        ImportError: if matplotlib is not installed.
        ValidationError: if `evaluation` is not an `Evaluation`.

    Examples:
        >>> from relmark.clv.evaluation import evaluate
        >>> from relmark.clv.beta_geo import BetaGeoModel
        >>> split = {"frequency_cal": [0, 1, 3], "recency_cal": [0.0, 2.0, 5.0],
        ...          "T_cal": [8.0, 9.0, 9.0], "frequency_holdout": [0, 1, 2],
        ...          "duration_holdout": [10.0, 10.0, 10.0]}
        >>> from relmark.datasets import load_cdnow_summary
        >>> model = BetaGeoModel().fit(load_cdnow_summary())
        >>> ax = plot_calibration(evaluate(model, split))
        >>> [line.get_label() for line in ax.get_lines()]
        ['Actual', 'Predicted']
        >>> [tick.get_text() for tick in ax.get_xticklabels()]
        ['0', '1', '3']
        >>> import matplotlib.pyplot as plt
        >>> plt.close(ax.figure)
    """
    from relmark._frames import eager_frame, numeric_columns
    from relmark.clv.evaluation import Evaluation

    if not isinstance(evaluation, Evaluation):
        raise ValidationError(
            f"plot_calibration needs an Evaluation, got {type(evaluation).__name__}",
            column="evaluation",
            hint="pass the result of relmark.clv.evaluation.evaluate(model, split)",
        )
    table, _ = numeric_columns(
        evaluation.by_frequency, ["frequency_cal", "mean_actual", "mean_predicted"]
    )
    labels = [str(label) for label in eager_frame(evaluation.by_frequency)["label"].to_list()]
    ax = _axes(ax)
    x = table["frequency_cal"]
    ax.plot(x, table["mean_actual"], marker="o", label="Actual")
    ax.plot(x, table["mean_predicted"], marker="s", linestyle="--", label="Predicted")
    ax.set_xticks(x, labels)
    ax.set_xlabel("Repeat purchases in the calibration period")
    ax.set_ylabel("Mean purchases in the holdout period")
    ax.set_title("Actual vs predicted holdout purchases\nby calibration-period frequency")
    ax.set_ylim(bottom=0)
    ax.legend()
    return ax


# -- helpers ------------------------------------------------------------------------------


def _axes(ax: Axes | None) -> Axes:
    """`ax`, or the Axes of a new pyplot figure; the one place matplotlib is imported."""
    if ax is not None:
        return ax
    try:
        from matplotlib import pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "relmark's plots need matplotlib, which is not installed"
            "\nHint: pip install relmark[plot]",
            name="matplotlib",
        ) from exc
    _, new = plt.subplots()
    return new


def _positive(value: object, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.integer | np.floating)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValidationError(
            f"{name} must be a finite number > 0, got {value!r}",
            column=name,
            value=value,
            hint=f"{name} is a length of time in the time unit of the fitted data",
        )
    return float(value)


def _frequency_limit(model: CustomerModel, age: float, max_frequency: object) -> int:
    """`max_frequency`, checked, or the 99% quantile of a new customer's purchases by `age`."""
    if max_frequency is not None:
        if (
            isinstance(max_frequency, bool)
            or not isinstance(max_frequency, int | np.integer)
            or max_frequency < 1
        ):
            raise ValidationError(
                f"max_frequency must be an integer >= 1 or None, got {max_frequency!r}",
                column="max_frequency",
                value=max_frequency,
                hint="None picks the frequency 99% of customers of age T stay under",
            )
        return int(max_frequency)
    size = 64
    while True:
        n = np.arange(size, dtype=np.float64)
        cumulative = np.cumsum(model.probability_of_purchases(n, age))
        reached = np.flatnonzero(cumulative >= _QUANTILE)
        if reached.size:
            return max(int(reached[0]), 1)
        if size >= _MOST_FREQUENCIES:
            return _MOST_FREQUENCIES
        size *= 4


def _recency_limit(age: float, max_recency: object) -> float:
    if max_recency is None:
        return age
    if (
        isinstance(max_recency, bool)
        or not isinstance(max_recency, int | float | np.integer | np.floating)
        or not 0 <= max_recency <= age
    ):
        raise ValidationError(
            f"max_recency must be a number from 0 to T = {age:g}, got {max_recency!r}",
            column="max_recency",
            value=max_recency,
            hint="recency is the age at the last purchase, so it cannot exceed T",
        )
    return float(max_recency)


def _matrix(
    model: CustomerModel,
    age: object,
    max_frequency: object,
    max_recency: object,
    predict: Callable[[dict[str, Array]], Array],
) -> np.ma.MaskedArray[tuple[int, int], np.dtype[np.float64]]:
    """The predictions on the grid of recency 0, 1, ... (rows) by frequency 0, 1, ... (columns)."""
    customer_age = _positive(age, "T")
    top_recency = _recency_limit(customer_age, max_recency)
    top_frequency = _frequency_limit(model, customer_age, max_frequency)
    frequency = np.arange(top_frequency + 1, dtype=np.float64)
    recency = np.arange(math.floor(top_recency) + 1, dtype=np.float64)
    grid_f, grid_r = np.meshgrid(frequency, recency)
    possible = ~((grid_f == 0) & (grid_r > 0))
    data = {
        "frequency": grid_f[possible],
        "recency": grid_r[possible],
        "T": np.full(int(possible.sum()), customer_age),
    }
    values = np.full(grid_f.shape, np.nan)
    values[possible] = np.asarray(predict(data), dtype=np.float64)
    return np.ma.masked_invalid(values)


def _draw_matrix(
    ax: Axes | None,
    values: np.ma.MaskedArray[tuple[int, int], np.dtype[np.float64]],
    *,
    label: str,
    title: str,
    limits: tuple[float, float | None],
) -> Axes:
    ax = _axes(ax)
    # Pixel centres sit at the integer positions, which are the grid's values.
    image = ax.imshow(
        values,
        origin="lower",
        aspect="auto",
        interpolation="none",
        cmap="viridis",
        vmin=limits[0],
        vmax=limits[1],
    )
    ax.figure.colorbar(image, ax=ax, label=label)
    ax.set_xlabel("Frequency (repeat purchases)")
    ax.set_ylabel("Recency (age at last purchase)")
    ax.set_title(title)
    return ax
