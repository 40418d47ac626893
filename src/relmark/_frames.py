"""The narwhals bridge: frames in, numpy columns to the kernels, frames of the same kind out.

Every frame-taking function converts through here, once, on the way in and
once on the way out. Checks happen here too, before any work is done: a
missing column is a `SchemaError` that suggests the closest name, a null, NaN
or infinite value is a `ValidationError` naming its row, and a naive
timestamp column is refused. The caller's frame is never modified.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping, Sequence
from importlib.util import find_spec
from typing import Any, TypeAlias

import narwhals.stable.v2 as nw
import numpy as np
import numpy.typing as npt

from relmark.exceptions import SchemaError, ValidationError

__all__ = [
    "Frame",
    "TimeColumn",
    "column",
    "eager_frame",
    "float_column",
    "frame_like",
    "key_column",
    "numeric_columns",
    "text_codes",
    "time_column",
    "utc_column",
]

Frame: TypeAlias = Any
"""Any eager dataframe narwhals accepts: pandas, polars, pyarrow, modin, cuDF ..."""


def eager_frame(data: object, *, argument: str = "data") -> nw.DataFrame[Any]:
    """Wrap `data` as an eager narwhals frame, or raise `ValidationError`.

    Examples:
        >>> import pandas as pd
        >>> eager_frame(pd.DataFrame({"a": [1]})).columns
        ['a']
    """
    if isinstance(data, nw.DataFrame):
        return data
    try:
        return nw.from_native(data, eager_only=True)
    except TypeError as exc:
        lazy = type(data).__name__.lower()
        hint = (
            "collect it first, e.g. lazy_frame.collect()"
            if "lazy" in lazy or "relation" in lazy
            else "pass a pandas or polars DataFrame or a pyarrow Table"
        )
        raise ValidationError(
            f"expected an eager dataframe, got {type(data).__module__}.{type(data).__name__}",
            column=argument,
            hint=hint,
        ) from exc


def column(frame: nw.DataFrame[Any], name: object, *, argument: str) -> nw.Series[Any]:
    """Return column `name` of `frame`, or raise `SchemaError` with the closest names.

    Examples:
        >>> import pandas as pd
        >>> column(eager_frame(pd.DataFrame({"amount": [1.0]})), "amuont", argument="monetary_col")
        Traceback (most recent call last):
        ...
        relmark.exceptions.SchemaError: monetary_col names no column of the frame; did you mean 'amount'? (column 'amuont')
        Hint: pass monetary_col= with one of the frame's columns: 'amount'
    """
    names = frame.columns
    if not isinstance(name, str) or name not in names:
        close = difflib.get_close_matches(str(name), names, n=3, cutoff=0.6)
        mean = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        shown = ", ".join(repr(c) for c in names[:20]) + (" ..." if len(names) > 20 else "")
        raise SchemaError(
            f"{argument} names no column of the frame{mean}",
            column=str(name),
            hint=f"pass {argument}= with one of the frame's columns: {shown}",
        )
    return frame.get_column(name)


def _first_true(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.argmax(mask))


def _check_nulls(series: nw.Series[Any], argument: str) -> None:
    if series.null_count():
        row = _first_true(series.is_null().to_numpy())
        raise ValidationError(
            f"missing value in {argument}",
            column=series.name,
            row=row,
            hint="drop or fill the rows with missing values before calling",
        )


def key_column(
    frame: nw.DataFrame[Any], name: object, *, argument: str
) -> tuple[nw.Series[Any], npt.NDArray[np.int64]]:
    """A grouping column and int64 keys with one value per distinct entry.

    Integer columns are used as they are (no copy for int64); any other
    column is factorised. Either way the keys sort as the ids do.

    Examples:
        >>> import polars as pl
        >>> series, keys = key_column(eager_frame(pl.DataFrame({"c": ["b", "a", "b"]})), "c", argument="c")
        >>> keys[0] == keys[2] != keys[1]
        np.True_
    """
    series = column(frame, name, argument=argument)
    _check_nulls(series, argument)
    if series.dtype.is_integer():
        return series, np.asarray(series.to_numpy(), dtype=np.int64)
    return series, _factorize(series)


def _factorize(series: nw.Series[Any]) -> npt.NDArray[np.int64]:
    native = series.to_native()
    if nw.dependencies.is_pandas_like_series(native):
        codes = native.factorize(sort=True)[0]  # hash-based; codes follow sorted ids
        return np.asarray(codes, dtype=np.int64)
    values = series.to_numpy()
    _, codes = np.unique(values, return_inverse=True)
    return np.asarray(codes, dtype=np.int64).reshape(-1)


def text_codes(
    frame: nw.DataFrame[Any], name: object, *, argument: str, required: bool = False
) -> tuple[npt.NDArray[np.int64], list[str]]:
    """A string column as codes into its distinct values; -1 for a missing value.

    Hash-based (pandas' `factorize`, or pyarrow's dictionary encoding for
    other backends), so a million rows with a hundred thousand distinct
    strings cost one pass, not a sort; `values` is in order of appearance.

    Raises:
        ValidationError: if a value is not a string, or is missing and
            `required` is set; the error names the row.

    Examples:
        >>> import polars as pl
        >>> text_codes(eager_frame(pl.DataFrame({"c": ["b", None, "b", "a"]})), "c", argument="c")
        (array([ 0, -1,  0,  1]), ['b', 'a'])
    """
    series = column(frame, name, argument=argument)
    native = series.to_native()
    if len(series) and series.null_count() == len(series):  # polars and pyarrow type it Null
        codes, values = np.full(len(series), -1, dtype=np.int64), []
    elif nw.dependencies.is_pandas_like_series(native):
        raw, found = native.factorize(use_na_sentinel=True)
        codes = np.asarray(raw, dtype=np.int64)
        values = np.asarray(found, dtype=object).tolist()  # list(found) is 10x slower
    elif find_spec("pyarrow") is not None:
        pa = importlib.import_module("pyarrow")
        encoded = series.to_arrow().dictionary_encode()  # a categorical column is one already,
        indices = encoded.indices.cast(pa.int64())  # possibly with unsigned indices
        codes = np.asarray(indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
        values = encoded.dictionary.to_pylist()
    else:  # no pyarrow: one dict lookup per row
        seen: dict[object, int] = {}
        raw_values = series.to_list()
        codes = np.fromiter(
            (-1 if v is None else seen.setdefault(v, len(seen)) for v in raw_values),
            dtype=np.int64,
            count=len(raw_values),
        )
        values = list(seen)
    kinds = set(map(type, values))  # one C-level pass; the loop below runs only on a misfit
    for code, value in enumerate(values if kinds - {str} else ()):
        if not isinstance(value, str):
            row = _first_true(codes == code)
            raise ValidationError(
                f"{argument} must hold strings, got {value!r}",
                column=str(name),
                row=row,
                value=value,
                hint="convert the column to strings first",
            )
    if required and (codes < 0).any():
        raise ValidationError(
            f"missing value in {argument}",
            column=str(name),
            row=_first_true(codes < 0),
            hint="drop or fill the rows with missing values before calling",
        )
    return codes, values


def float_column(
    frame: nw.DataFrame[Any], name: object, *, argument: str
) -> npt.NDArray[np.float64]:
    """A numeric column as float64, refusing nulls, NaN and infinities.

    Examples:
        >>> import pandas as pd
        >>> float_column(eager_frame(pd.DataFrame({"x": [1.0, float("nan")]})), "x", argument="x")
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: x is missing or NaN (column 'x', row 1)
        Hint: drop those rows or fill them (e.g. with 0) before calling
    """
    series = column(frame, name, argument=argument)
    if not series.dtype.is_numeric():
        raise SchemaError(
            f"{argument} must be numeric, but column {name!r} is {series.dtype}",
            column=str(name),
            hint="cast it to a float column first",
        )
    if not series.dtype.is_float():
        _check_nulls(series, argument)
    values = np.asarray(series.to_numpy(), dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = _first_true(bad)
        kind = "missing or NaN" if np.isnan(values[row]) else "infinite"
        raise ValidationError(
            f"{name} is {kind}",
            column=str(name),
            row=row,
            value=float(values[row]),
            hint="drop those rows or fill them (e.g. with 0) before calling",
        )
    return values


def numeric_columns(
    data: object, names: Sequence[str], *, argument: str = "data"
) -> tuple[dict[str, npt.NDArray[np.float64]], nw.DataFrame[Any] | None]:
    """Named numeric columns of a frame or of a mapping of arrays, as float64.

    Every value must be finite. A mapping (e.g. a dict of numpy arrays or
    lists) must hold one-dimensional columns of equal length. The frame is
    returned too (None for a mapping), so results can be built like it.

    Examples:
        >>> cols, frame = numeric_columns({"x": [1, 2], "y": [0.5, 1.5]}, ["x", "y"])
        >>> cols["x"], frame is None
        (array([1., 2.]), True)
        >>> numeric_columns({"x": [1, 2], "y": [0.5]}, ["x", "y"])
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: data has columns of different lengths: 'x' has 2 rows, 'y' has 1 (column 'y')
        Hint: pass columns of one length, one entry per customer
    """
    if not isinstance(data, Mapping):
        frame = eager_frame(data, argument=argument)
        return {name: float_column(frame, name, argument=name) for name in names}, frame
    present = [str(key) for key in data]
    out: dict[str, npt.NDArray[np.float64]] = {}
    for name in names:
        if name not in data:
            close = difflib.get_close_matches(name, present, n=3, cutoff=0.6)
            mean = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise SchemaError(
                f"{argument} has no column {name!r}{mean}",
                column=name,
                hint=f"pass a mapping with the keys {', '.join(repr(n) for n in names)}",
            )
        out[name] = _numeric_array(data[name], name)
    lengths = {name: len(values) for name, values in out.items()}
    first = names[0] if names else ""
    for name, length in lengths.items():
        if length != lengths[first]:
            raise ValidationError(
                f"{argument} has columns of different lengths: {first!r} has"
                f" {lengths[first]} rows, {name!r} has {length}",
                column=name,
                hint="pass columns of one length, one entry per customer",
            )
    return out, None


def _numeric_array(values: object, name: str) -> npt.NDArray[np.float64]:
    """One array-like column as a 1-D float64 array of finite values."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as exc:  # ragged nested sequences
        raise SchemaError(
            f"column {name!r} is not an array of numbers", column=name, hint="pass a 1-D array"
        ) from exc
    if array.ndim != 1:
        raise SchemaError(
            f"column {name!r} must be one-dimensional, got shape {array.shape}",
            column=name,
            hint="pass one value per customer, e.g. a 1-D numpy array or a list",
        )
    if array.dtype.kind not in "biuf":
        raise SchemaError(
            f"column {name!r} must be numeric, got {array.dtype}",
            column=name,
            hint="cast it to float first",
        )
    floats = np.asarray(array, dtype=np.float64)
    bad = ~np.isfinite(floats)
    if bad.any():
        row = _first_true(bad)
        kind = "missing or NaN" if np.isnan(floats[row]) else "infinite"
        raise ValidationError(
            f"{name} is {kind}",
            column=name,
            row=row,
            value=float(floats[row]),
            hint="drop those rows or fill them before calling",
        )
    return floats


class TimeColumn:
    """A timestamp column on the wall clock of its own time zone.

    Attributes:
        values: `datetime64` wall-clock times, in the column's own resolution.
        timezone: The column's IANA zone (or offset), None for a date column.
    """

    __slots__ = ("timezone", "values")

    def __init__(self, values: npt.NDArray[np.datetime64], timezone: str | None) -> None:
        self.values = values
        self.timezone = timezone


def time_column(
    frame: nw.DataFrame[Any], name: object, *, argument: str, nullable: bool = False
) -> TimeColumn:
    """A timestamp column as wall-clock `datetime64` in its own zone.

    Aware timestamp columns are read on the wall clock of their zone (so days
    are that zone's calendar days); date columns are read as calendar dates.
    Naive timestamps and strings are refused, and so are missing values
    unless `nullable` is set (they read as NaT).

    Examples:
        >>> import pandas as pd
        >>> naive = pd.DataFrame({"t": pd.to_datetime(["2024-01-01 10:00"])})
        >>> time_column(eager_frame(naive), "t", argument="datetime_col")
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: column 't' holds naive timestamps (no time zone) (column 't')
        Hint: attach the zone they were recorded in, e.g. df['t'].dt.tz_localize('UTC') in pandas or pl.col('t').dt.replace_time_zone('UTC') in polars
    """
    series = column(frame, name, argument=argument)
    dtype = series.dtype
    pandas_zone = _pandas_zone(series)
    if pandas_zone is not None:
        # narwhals reads some pandas zones (e.g. "America/New_York") as Unknown.
        if not nullable:
            _check_nulls(series, argument)
        native = series.to_native()
        if pandas_zone == "UTC":  # the wall clock is UTC: use pandas' own array, no copy
            return TimeColumn(np.asarray(native.dt.tz_convert(None).to_numpy()), pandas_zone)
        return TimeColumn(np.asarray(native.dt.tz_localize(None).to_numpy()), pandas_zone)
    if isinstance(dtype, nw.Datetime):
        if dtype.time_zone is None:
            raise ValidationError(
                f"column {name!r} holds naive timestamps (no time zone)",
                column=str(name),
                hint=f"attach the zone they were recorded in, e.g. df[{name!r}].dt.tz_localize('UTC')"
                f" in pandas or pl.col({name!r}).dt.replace_time_zone('UTC') in polars",
            )
        if not nullable:
            _check_nulls(series, argument)
        wall = series.dt.replace_time_zone(None)
        return TimeColumn(np.asarray(wall.to_numpy()), dtype.time_zone)
    if isinstance(dtype, nw.Date):
        if not nullable:
            _check_nulls(series, argument)
        values = series.to_numpy()
        return TimeColumn(np.asarray(values, dtype="datetime64[D]"), None)
    hint = (
        "parse it first, e.g. pd.to_datetime(df[col], utc=True) or pl.col(col).str.to_datetime()"
        if dtype == nw.String
        else "pass a timezone-aware timestamp column"
    )
    raise SchemaError(
        f"{argument} must be a timezone-aware timestamp column, but {name!r} is {dtype}",
        column=str(name),
        hint=hint,
    )


def utc_column(
    frame: nw.DataFrame[Any], name: object, *, argument: str, nullable: bool = False
) -> npt.NDArray[np.int64]:
    """An aware timestamp column as int64 microseconds since the epoch, UTC.

    Naive timestamps, strings, missing values and date columns are refused
    (dates are days, not instants). With `nullable`, a missing value is
    allowed and reads as the smallest int64 (numpy's NaT).

    Examples:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"t": pd.to_datetime(["1970-01-01T01:00+01:00"])})
        >>> utc_column(eager_frame(frame), "t", argument="at_col")
        array([0])
    """
    read = time_column(frame, name, argument=argument, nullable=nullable)
    if read.timezone is None:
        raise ValidationError(
            f"{argument} {name!r} holds dates; instants are needed",
            column=str(name),
            hint="pass timezone-aware timestamps",
        )
    series = column(frame, name, argument=argument)
    native = series.to_native()
    if nw.dependencies.is_pandas_like_series(native):
        utc = native.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    else:
        utc = series.dt.convert_time_zone("UTC").dt.replace_time_zone(None).to_numpy()
    return np.asarray(utc, dtype="datetime64[us]").astype(np.int64)


def _pandas_zone(series: nw.Series[Any]) -> str | None:
    native = series.to_native()
    if not nw.dependencies.is_pandas_like_series(native):
        return None
    zone = getattr(native.dtype, "tz", None)
    return None if zone is None else str(zone)


def frame_like(
    like: nw.DataFrame[Any],
    columns: Mapping[str, nw.Series[Any] | npt.NDArray[Any] | Sequence[Any]],
) -> Frame:
    """Build a native frame of the same backend as `like` from columns.

    Examples:
        >>> import polars as pl
        >>> import numpy as np
        >>> like = eager_frame(pl.DataFrame({"a": [1]}))
        >>> type(frame_like(like, {"x": np.array([1.5, 2.5])})).__name__
        'DataFrame'
    """
    return nw.from_dict(dict(columns), backend=like.implementation).to_native()
