"""Frames of a chosen backend from numpy columns, for results with no input frame to copy (private).

The dataset loaders and generator, and results such as a model's `summary()`
fitted from a mapping of arrays, hold their data as numpy arrays and build
the frame once, at the end, in the backend the caller asked for (`_frames`
builds frames like an input frame instead). The backend is
imported here, inside the functions, never at import time: pandas, polars and
pyarrow are optional.

Columns are numpy arrays (`int64`, `float64`, `bool`; `datetime64[us]` read
as UTC and returned timezone-aware) or `Text`, a string column held as codes
into a small array of distinct values, which every backend can expand without
creating one Python string per row.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from typing import Any, Final, Literal, TypeAlias

import attrs
import narwhals.stable.v2 as nw
import numpy as np
import numpy.typing as npt

from relmark._frames import Frame
from relmark.exceptions import ValidationError

__all__ = ["BACKENDS", "Backend", "Column", "Text", "backend_of", "build_frame", "resolve_backend"]

Backend: TypeAlias = Literal["pandas", "polars", "pyarrow"]
"""The dataframe libraries the dataset builders can return."""

BACKENDS: Final[tuple[Backend, ...]] = ("pandas", "polars", "pyarrow")
_EXTRAS: Final[dict[str, str]] = {"pandas": "pandas", "polars": "polars", "pyarrow": "arrow"}


@attrs.frozen(eq=False)
class Text:
    """A string column as `categories[codes]`; a negative code is a missing value.

    Attributes:
        codes: Integer position of each row's value in `categories`, or -1.
        categories: The distinct values, a numpy unicode array.
    """

    codes: npt.NDArray[np.integer[Any]]
    categories: npt.NDArray[np.str_]

    def __len__(self) -> int:
        return len(self.codes)


Column: TypeAlias = "npt.NDArray[Any] | Text"


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a broken install or a module set to None
        return False


def resolve_backend(backend: object, *, argument: str = "backend") -> Backend:
    """Return the backend to build frames with, or raise `ValidationError`.

    `None` picks pandas if it is installed, else polars, else pyarrow.

    Examples:
        >>> resolve_backend("polars")
        'polars'
        >>> resolve_backend("spark")
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: unknown backend 'spark' (column 'backend')
        Hint: use one of 'pandas', 'polars', 'pyarrow', or None for the first one installed
    """
    if backend is None:
        for name in BACKENDS:
            if _installed(name):
                return name
        raise ValidationError(
            "no dataframe library is installed (pandas, polars or pyarrow)",
            column=argument,
            hint="pip install relmark[pandas] (or relmark[polars], relmark[arrow])",
        )
    if backend not in BACKENDS:
        raise ValidationError(
            f"unknown backend {backend!r}",
            column=argument,
            value=backend,
            hint="use one of 'pandas', 'polars', 'pyarrow', or None for the first one installed",
        )
    if not _installed(str(backend)):
        raise ValidationError(
            f"backend {backend!r} is not installed",
            column=argument,
            value=backend,
            hint=f"pip install relmark[{_EXTRAS[str(backend)]}]",
        )
    return backend


def build_frame(columns: Mapping[str, Column], backend: Backend) -> Frame:
    """Build a native frame of `backend` from equal-length columns, in order.

    Examples:
        >>> import numpy as np
        >>> frame = build_frame(
        ...     {
        ...         "id": Text(np.array([1, 0]), np.array(["a", "b"])),
        ...         "at": np.array(["2024-01-01"], dtype="datetime64[us]").repeat(2),
        ...     },
        ...     "polars",
        ... )
        >>> frame.schema
        Schema([('id', String), ('at', Datetime(time_unit='us', time_zone='UTC'))])
    """
    if backend == "pandas":
        return _pandas(columns)
    if backend == "polars":
        return _polars(columns)
    return _pyarrow(columns)


def backend_of(frame: nw.DataFrame[Any]) -> Backend:
    """The backend to build a result like `frame` with (pandas for pandas-like frames)."""
    implementation = frame.implementation
    if implementation.is_polars():
        return "polars"
    if implementation.is_pyarrow():
        return "pyarrow"
    return "pandas"


def _is_time(values: npt.NDArray[Any]) -> bool:
    return values.dtype.kind == "M"


def _utc_us(values: npt.NDArray[Any]) -> npt.NDArray[np.datetime64]:
    return np.ascontiguousarray(values, dtype="datetime64[us]")


def _arrow_text(pa: Any, text: Text) -> Any:
    codes = np.asarray(text.codes, dtype=np.int64)
    missing = codes < 0
    index = pa.array(codes, mask=missing) if missing.any() else pa.array(codes)
    return pa.array(text.categories).take(index)


def _is_date(values: npt.NDArray[Any]) -> bool:
    return values.dtype == np.dtype("datetime64[D]")


def _pandas(columns: Mapping[str, Column]) -> Frame:
    pd = importlib.import_module("pandas")
    arrow = importlib.import_module("pyarrow") if _installed("pyarrow") else None
    data: dict[str, Any] = {}
    for name, values in columns.items():
        if isinstance(values, Text):
            if arrow is not None:
                data[name] = pd.array(_arrow_text(arrow, values), dtype="str")
            else:
                codes = np.asarray(values.codes, dtype=np.int64)
                expanded = values.categories.astype(object)[np.maximum(codes, 0)]
                expanded[codes < 0] = None
                data[name] = pd.array(expanded, dtype="str")
        elif _is_date(values):  # pandas has no date dtype: naive midnight timestamps
            data[name] = pd.array(values.astype("datetime64[s]"))
        elif _is_time(values):
            data[name] = pd.DatetimeIndex(_utc_us(values)).tz_localize("UTC").array
        else:
            data[name] = np.ascontiguousarray(values)
    return pd.DataFrame(data, copy=False)


def _polars(columns: Mapping[str, Column]) -> Frame:
    pl = importlib.import_module("polars")
    data: list[Any] = []
    for name, values in columns.items():
        if isinstance(values, Text):
            # Missing values gather a null appended to the categories: one gather, no scatter.
            codes = np.asarray(values.codes, dtype=np.int64)
            categories = pl.Series(name, [*values.categories.tolist(), None], dtype=pl.String)
            series = categories.gather(np.where(codes < 0, len(values.categories), codes))
        elif _is_date(values):
            series = pl.Series(name, values)
        elif _is_time(values):
            series = pl.Series(name, _utc_us(values)).dt.replace_time_zone("UTC")
        else:
            series = pl.Series(name, np.ascontiguousarray(values))
        data.append(series)
    return pl.DataFrame(data)


def _pyarrow(columns: Mapping[str, Column]) -> Frame:
    pa = importlib.import_module("pyarrow")
    data: dict[str, Any] = {}
    for name, values in columns.items():
        if isinstance(values, Text):
            data[name] = _arrow_text(pa, values)
        elif _is_date(values):
            data[name] = pa.array(values, from_pandas=True)
        elif _is_time(values):
            data[name] = pa.array(
                _utc_us(values), type=pa.timestamp("us", tz="UTC"), from_pandas=True
            )
        else:
            data[name] = pa.array(np.ascontiguousarray(values))
    return pa.table(data)
