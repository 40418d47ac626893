"""Group characterisation: recommend what customers with the same tastes bought.

`ItemKNNRecommender` is item-to-item collaborative filtering (Sarwar et al.
2001; Linden, Smith and York 2003) on a sparse customer x item matrix:

1. `fit` reads interactions (one row per purchase, view or click) into a
   `scipy.sparse` CSR matrix X with one row per customer and one column per
   item. Without `weight_col` the matrix is binary: X[u, i] = 1 when customer
   u interacted with item i at least once, however often (implicit feedback;
   repeat purchases say little about what else a customer likes). With
   `weight_col` the weights of a customer's rows for an item are summed.
2. It computes the similarity of every pair of items with sparse matrix
   products, C = X'X:

   - "cosine": s(i, j) = C[i, j] / (|x_i| |x_j| + shrinkage), where |x_i| is
     the Euclidean norm of item i's column;
   - "jaccard": s(i, j) = c / (n_i + n_j - c + shrinkage) on the binary
     matrix (the weights are ignored), with c the customers of both items and
     n_i those of item i.

   `shrinkage` > 0 damps the similarity of items few customers share. An
   item is not its own neighbour. Each item keeps its `k` most similar items
   (ties broken as below); `similarity_` holds them, as float32.
3. `recommend` scores every item for a customer u as the sum, over the items
   i that u interacted with, of X[u, i] s(i, j) (one sparse product for a
   block of customers), and returns the `n` best. Items the customer has
   seen are left out with `exclude_seen`.

Ties, and every item without a score, are ranked by popularity (the number
of distinct customers who interacted with the item), then by id: so a
customer whose items have few neighbours still gets `n` items, and a
customer the model never saw gets the most popular items, with score 0.
Results never depend on the order of the input rows.

`segment_popularity` is the baseline to beat: each customer gets the items
most popular among the customers of their segment. `holdout_split` splits
interactions by time, and `evaluate_recommender` measures precision@k and
recall@k of any recommendations against the holdout.

Scores are ranked and returned at float32 precision (about seven digits).

Examples:
    >>> import pandas as pd
    >>> from relmark.personalise.recommend import ItemKNNRecommender
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 2, 2, 2, 3, 3, 4],
    ...     "item_id": ["tea", "mug", "tea", "mug", "honey", "tea", "honey", "mug"]})
    >>> model = ItemKNNRecommender(k=5).fit(log)
    >>> model.recommend([1, 4, 99], n=2)
       customer_id  rank item_id     score
    0            1     1   honey  1.224745
    1            4     1     tea  0.666667
    2            4     2   honey  0.408248
    3           99     1     mug  0.000000
    4           99     2     tea  0.000000

    Customer 1 bought tea and a mug: honey scores s(tea, honey) + s(mug,
    honey) = 2/sqrt(6) + 1/sqrt(6). Customer 99 is unknown and gets the most
    popular items (tea and mug tie with three customers each: by id).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final, Literal, Self, TypeAlias

import attrs
import narwhals.stable.v2 as nw
import numpy as np
import numpy.typing as npt
from scipy import sparse

from relmark._backends import Backend, Column, Text, backend_of, build_frame
from relmark._checks import integer
from relmark._frames import (
    Frame,
    column,
    eager_frame,
    float_column,
    key_column,
    text_codes,
    utc_column,
)
from relmark._time import to_datetime, utc_micros
from relmark.exceptions import NotFittedError, ValidationError

__all__ = [
    "SIMILARITIES",
    "ItemKNNRecommender",
    "RecommenderScores",
    "evaluate_recommender",
    "holdout_split",
    "segment_popularity",
]

SIMILARITIES: Final[tuple[str, ...]] = ("cosine", "jaccard")
"""The item similarities `ItemKNNRecommender` knows."""

Similarity: TypeAlias = Literal["cosine", "jaccard"]
Ids: TypeAlias = "npt.NDArray[Any]"  # sorted distinct ids: int64, or numpy unicode
_Part: TypeAlias = tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]
]  # row, column, rank, score

_CELLS: Final[int] = 1 << 23  # customers x items per block: at most 64 MiB of int64 keys


# ----------------------------------------------------------------------------- reading


def _ids(frame: nw.DataFrame[Any], name: str, *, argument: str) -> tuple[Any, Ids]:
    """Codes of an id column into its sorted distinct values (int64 or unicode).

    Integer columns keep their values; any other column must hold strings.
    Missing values are refused, naming the row.
    """
    series = column(frame, name, argument=argument)
    if series.dtype.is_integer():
        _, keys = key_column(frame, name, argument=argument)
        values, codes = np.unique(keys, return_inverse=True)
        return codes.astype(np.int64).reshape(-1), values.astype(np.int64)
    codes, found = text_codes(frame, name, argument=argument, required=True)
    distinct = np.array(found, dtype=np.str_) if found else np.array([], dtype="<U1")
    order = np.argsort(distinct, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], distinct[order]


def _same_kind(left: Ids, right: Ids, *, what: str, argument: str) -> None:
    """Refuse to match integer ids with string ids."""
    if (left.dtype.kind == "U") != (right.dtype.kind == "U"):
        kinds = ["strings" if v.dtype.kind == "U" else "integers" for v in (left, right)]
        raise ValidationError(
            f"{argument} holds {kinds[1]} but the {what} are {kinds[0]}",
            column=argument,
            hint="use one type of id everywhere, e.g. cast both to strings",
        )


def _lookup(sorted_values: Ids, wanted: Ids) -> npt.NDArray[np.int64]:
    """Position of each wanted id in `sorted_values`, -1 where absent."""
    if not len(sorted_values):
        return np.full(len(wanted), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(sorted_values, wanted), len(sorted_values) - 1)
    return np.where(sorted_values[at] == wanted, at, -1).astype(np.int64)


def _requested(ids: object, *, like: Ids, argument: str) -> Ids:
    """The ids a caller asks about, as an array of the fitted ids' kind."""
    if isinstance(ids, str | bytes) or not hasattr(ids, "__iter__"):
        raise ValidationError(
            f"{argument} must be a sequence of ids, got {type(ids).__name__}",
            column=argument,
            value=ids,
            hint=f"wrap a single id in a list: {argument}=[{ids!r}]",
        )
    native = ids.to_native() if isinstance(ids, nw.Series) else ids
    array = np.asarray(native if hasattr(native, "__array__") else list(native))
    if array.ndim != 1:
        raise ValidationError(
            f"{argument} must be one-dimensional, got shape {array.shape}", column=argument
        )
    text = like.dtype.kind == "U"
    if not len(array):
        return np.empty(0, dtype=like.dtype if text else np.int64)
    if array.dtype.kind == "O" or (text and array.dtype.kind != "U"):
        values = array.tolist()
        wanted_type = str if text else int
        for row, value in enumerate(values if set(map(type, values)) - {wanted_type} else ()):
            if not isinstance(value, wanted_type) or isinstance(value, bool):
                raise ValidationError(
                    f"{argument} must hold {'strings' if text else 'integers'} like the fitted"
                    f" ids, got {value!r}",
                    column=argument,
                    row=row,
                    value=value,
                    hint="drop missing ids and use the id type of the fitted interactions",
                )
        return np.array(values, dtype=np.str_ if text else np.int64).reshape(-1)
    if text:
        return array
    if array.dtype.kind not in "iu" or array.dtype == np.bool_:
        raise ValidationError(
            f"{argument} must hold integers like the fitted ids, got dtype {array.dtype}",
            column=argument,
            hint="use the id type of the fitted interactions",
        )
    return array.astype(np.int64)


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ValidationError(
            f"{name} must be True or False, got {value!r}", column=name, value=value
        )
    return bool(value)


@attrs.frozen(eq=False)
class _Matrix:
    """Interactions as a CSR customer x item matrix, items in popularity order."""

    matrix: sparse.csr_array  # float64; binary unless weighted
    customers: Ids  # sorted distinct customer ids, one per row
    items: Ids  # item ids, one per column: most popular first, then by id
    popularity: npt.NDArray[np.int64]  # distinct customers per column
    backend: Backend


def _read_interactions(
    interactions: Frame,
    *,
    customer_col: str,
    item_col: str,
    weight_col: str | None,
    argument: str = "interactions",
) -> _Matrix:
    """Read and check the interactions, then build the matrix (pairs summed or binarised)."""
    frame = eager_frame(interactions, argument=argument)
    customer, customers = _ids(frame, customer_col, argument="customer_col")
    item, items = _ids(frame, item_col, argument="item_col")
    weights = None
    if weight_col is not None:
        weights = float_column(frame, weight_col, argument="weight_col")
        bad = weights <= 0
        if bad.any():
            row = int(np.argmax(bad))
            raise ValidationError(
                f"weights must be positive, got {weights[row]}",
                column=weight_col,
                row=row,
                value=float(weights[row]),
                hint="drop the rows with no weight, or fit without weight_col",
            )
    if not len(customer):
        raise ValidationError(
            f"{argument} has no rows", column=argument, hint="pass at least one interaction"
        )
    n_items = len(items)
    key = customer * n_items + item  # < rows**2: no overflow below 3e9 rows
    if weights is None:
        pairs = np.unique(key)
        data = np.ones(len(pairs))
    else:  # sum in an order fixed by the data, so the sums never depend on row order
        order = np.lexsort((weights, key))
        sorted_key = key[order]
        start = np.flatnonzero(np.concatenate(([True], sorted_key[1:] != sorted_key[:-1])))
        pairs = sorted_key[start]
        data = np.add.reduceat(weights[order], start)
    rows, cols = pairs // n_items, pairs % n_items
    popularity = np.bincount(cols, minlength=n_items).astype(np.int64)
    by_popularity = np.lexsort((np.arange(n_items), -popularity))
    position = np.empty(n_items, dtype=np.int64)
    position[by_popularity] = np.arange(n_items)
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=len(customers)))))
    matrix = sparse.csr_array(
        (data, position[cols], indptr), shape=(len(customers), n_items), dtype=np.float64
    )
    matrix.sort_indices()
    return _Matrix(
        matrix, customers, items[by_popularity], popularity[by_popularity], backend_of(frame)
    )


# ----------------------------------------------------------------------------- kernels


_Picks: TypeAlias = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]


def _rank_keys(scores: npt.NDArray[np.float32], cols: npt.NDArray[np.int64], width: int) -> Any:
    """One int64 per entry, larger is better: score, then column (lower first).

    A non-negative float32's bits sort as the float does, so the score goes
    in the high 32 bits and the reversed column in the low ones: the keys of
    a row are distinct, and one partition finds its exact top n.
    """
    return (scores.view(np.int32).astype(np.int64) << 32) | (width - 1 - cols)


def _best_scored(
    scores: sparse.csr_array, n: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], Any]:
    """The `n` best stored entries of each row: row, column, slot (0 is the best) and score.

    The rows' entries go in a rectangle as wide as the longest row, so the
    work follows the stored entries, not the number of columns.
    """
    rows, width = scores.shape
    lengths = np.diff(scores.indptr)
    widest = int(lengths.max(initial=0))
    if not widest:
        none = np.empty(0, dtype=np.int64)
        return none, none, none, np.empty(0, dtype=np.float32)
    owner = np.repeat(np.arange(rows), lengths)
    # Padding is negative and distinct: selection slows down tenfold on many equal values.
    keys = np.broadcast_to(-1 - np.arange(widest, dtype=np.int64), (rows, widest)).copy()
    cols = scores.indices.astype(np.int64)
    keys[owner, np.arange(len(owner)) - scores.indptr[owner]] = _rank_keys(scores.data, cols, width)
    take = min(n, widest)
    best = np.argpartition(keys, widest - take, axis=1)[:, widest - take :]
    best_keys = np.take_along_axis(keys, best, axis=1)
    best_keys = -np.sort(-best_keys, axis=1)  # distinct keys: no tie to break
    row, slot = np.nonzero(best_keys >= 0)
    found = best_keys[row, slot]
    col = width - 1 - (found & 0xFFFFFFFF)
    score = (found >> 32).astype(np.int32).view(np.float32)
    return row.astype(np.int64), col.astype(np.int64), slot.astype(np.int64), score


def _first_free(
    ranking: npt.NDArray[np.int64],
    place: npt.NDArray[np.int64],
    group: npt.NDArray[np.int64],
    taken: sparse.csr_array,
    need: npt.NDArray[np.int64],
) -> _Picks:
    """For each row r, the first `need[r]` columns of `ranking[group[r]]` not in `taken`'s row r.

    `place[g, c]` is column c's position in `ranking[g]`. Only the first
    need + (taken in the row) positions can hold them, so the work is a
    rectangle that wide. Returns row, column and slot (0 is the first).
    """
    width = ranking.shape[1]
    wanted = np.flatnonzero(need > 0)
    if not len(wanted):
        none = np.empty(0, dtype=np.int64)
        return none, none, none
    lengths = np.diff(taken.indptr)
    window = int(min(width, (need[wanted] + lengths[wanted]).max()))
    sub = sparse.csr_array(taken[wanted])
    owner = np.repeat(np.arange(len(wanted)), np.diff(sub.indptr))
    at = place[group[wanted][owner], sub.indices]
    blocked = np.zeros((len(wanted), window), dtype=bool)
    inside = at < window
    blocked[owner[inside], at[inside]] = True
    free = ~blocked
    counted = np.cumsum(free, axis=1)
    row, position = np.nonzero(free & (counted <= need[wanted][:, None]))
    col = ranking[group[wanted][row], position]
    return wanted[row].astype(np.int64), col.astype(np.int64), counted[row, position] - 1


def _merge(
    scored: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], Any],
    filled: _Picks,
    filled_scores: Any,
) -> _Part:
    """Scored picks, then the filled ones after them: rows, columns, ranks (1-based), scores."""
    s_row, s_col, s_slot, scores = scored
    f_row, f_col, f_slot = filled
    counts = np.bincount(s_row, minlength=int(f_row.max(initial=-1)) + 1)
    row = np.concatenate((s_row, f_row))
    col = np.concatenate((s_col, f_col))
    rank = np.concatenate((s_slot, counts[f_row] + f_slot)) + 1
    score = np.concatenate((scores, filled_scores)).astype(np.float32)
    order = np.lexsort((rank, row))
    return row[order], col[order], rank[order], score[order]


def _similarity(matrix: sparse.csr_array, kind: str, shrinkage: float, k: int) -> sparse.csr_array:
    """Item x item similarity, each row cut to its k best neighbours (float32)."""
    n_items = matrix.shape[1]
    if kind == "jaccard":
        matrix = sparse.csr_array(
            (np.ones(matrix.nnz), matrix.indices, matrix.indptr), shape=matrix.shape
        )
    transposed = matrix.T.tocsr()
    products = sparse.csr_array(transposed @ matrix)
    products.sum_duplicates()
    products.sort_indices()
    row = np.repeat(np.arange(n_items), np.diff(products.indptr))
    col = products.indices
    diagonal = products.diagonal()
    if kind == "cosine":
        norm = np.sqrt(diagonal)
        values = products.data / (norm[row] * norm[col] + shrinkage)
    else:
        values = products.data / (diagonal[row] + diagonal[col] - products.data + shrinkage)
    values32 = np.minimum(values, 1.0).astype(np.float32)
    keep = (row != col) & (values32 > 0)
    row = row[keep]
    indptr = np.concatenate(([0], np.cumsum(np.bincount(row, minlength=n_items))))
    full = sparse.csr_array((values32[keep], col[keep], indptr), shape=(n_items, n_items))
    # The k best of each row, a block of rows at a time.
    parts: list[_Part] = []
    step = _block(n_items)
    for low in range(0, n_items, step):
        got, neighbour, slot, value = _best_scored(sparse.csr_array(full[low : low + step]), k)
        parts.append((got + low, neighbour, slot, value))
    got, neighbour, _, value = _concat(parts)  # by row, best first
    indptr = np.concatenate(([0], np.cumsum(np.bincount(got, minlength=n_items))))
    similarity = sparse.csr_array(
        (value, neighbour, indptr), shape=(n_items, n_items), dtype=np.float32
    )
    similarity.sort_indices()
    return similarity


def _ids_column(values: Ids, codes: npt.NDArray[np.int64]) -> Column:
    """`values[codes]` as a frame column (strings stay codes into the distinct values)."""
    if values.dtype.kind == "U":
        return Text(codes, values if len(values) else np.array([""]))
    return values[codes]


def _recommendation_frame(
    customers: Ids,
    row: npt.NDArray[np.int64],
    items: Ids,
    col: npt.NDArray[np.int64],
    rank: npt.NDArray[np.int64],
    score: npt.NDArray[np.float32],
    *,
    customer_col: str,
    item_col: str,
    backend: Backend,
) -> Frame:
    return build_frame(
        {
            customer_col: _ids_column(customers, row),
            "rank": rank.astype(np.int64),
            item_col: _ids_column(items, col),
            "score": score.astype(np.float64),
        },
        backend,
    )


def _pattern(matrix: sparse.csr_array) -> sparse.csr_array:
    """The matrix with every stored entry set to 1."""
    return sparse.csr_array(
        (np.ones(matrix.nnz, dtype=np.float32), matrix.indices, matrix.indptr), shape=matrix.shape
    )


def _block(width: int) -> int:
    return max(1, _CELLS // max(width, 1))


# ----------------------------------------------------------------------------- the recommender


class ItemKNNRecommender:
    """Item-to-item collaborative filtering with the k nearest neighbours of each item.

    The method, the similarities and how ties are ranked are in the module
    docstring. Options are only stored here; `fit` checks them.

    Args:
        k: Neighbours kept per item (an integer >= 1).
        similarity: "cosine" or "jaccard".
        shrinkage: Added to the similarity's denominator (>= 0): damps
            items few customers share.

    Attributes:
        customers_: The fitted customers' ids, sorted (numpy array).
        items_: The fitted items' ids, most popular first, then by id.
        item_popularity_: Distinct customers of each item of `items_` (int64).
        customer_items_: The customer x item matrix (`scipy.sparse.csr_array`,
            rows in `customers_` order, columns in `items_` order, float32:
            1 for an interaction, or the summed weights).
        similarity_: Item x item similarities, each row holding the item's
            `k` nearest neighbours (`scipy.sparse.csr_array`, float32, rows
            and columns in `items_` order; zero on the diagonal).

    Examples:
        >>> import polars as pl
        >>> log = pl.DataFrame({"customer_id": ["a", "a", "b", "b", "c"],
        ...                     "item_id": [10, 20, 10, 20, 30]})
        >>> model = ItemKNNRecommender(k=10, similarity="jaccard").fit(log)
        >>> model
        ItemKNNRecommender(k=10, similarity='jaccard', shrinkage=0.0)
        >>> model.similar_items(10)
        shape: (1, 3)
        ┌──────┬─────────┬────────────┐
        │ rank ┆ item_id ┆ similarity │
        │ ---  ┆ ---     ┆ ---        │
        │ i64  ┆ i64     ┆ f64        │
        ╞══════╪═════════╪════════════╡
        │ 1    ┆ 20      ┆ 1.0        │
        └──────┴─────────┴────────────┘
        >>> ItemKNNRecommender().recommend(["a"])
        Traceback (most recent call last):
        ...
        relmark.exceptions.NotFittedError: ItemKNNRecommender is not fitted yet, so it cannot recommend
        Hint: call .fit(interactions) first
    """

    customers_: Ids
    items_: Ids
    item_popularity_: npt.NDArray[np.int64]
    customer_items_: sparse.csr_array
    similarity_: sparse.csr_array

    def __init__(
        self, k: int = 50, similarity: Similarity = "cosine", *, shrinkage: float = 0.0
    ) -> None:
        self.k = k
        self.similarity = similarity
        self.shrinkage = shrinkage

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(k={self.k!r}, similarity={self.similarity!r},"
            f" shrinkage={self.shrinkage!r})"
        )

    def _check_options(self) -> tuple[int, str, float]:
        k = integer(self.k, "k", minimum=1)
        if self.similarity not in SIMILARITIES:
            raise ValidationError(
                f"unknown similarity {self.similarity!r}",
                column="similarity",
                value=self.similarity,
                hint=f"use one of {', '.join(map(repr, SIMILARITIES))}",
            )
        shrinkage = self.shrinkage
        if (
            isinstance(shrinkage, bool)
            or not isinstance(shrinkage, int | float | np.integer | np.floating)
            or not math.isfinite(shrinkage)
            or shrinkage < 0
        ):
            raise ValidationError(
                f"shrinkage must be a finite number >= 0, got {shrinkage!r}",
                column="shrinkage",
                value=shrinkage,
                hint="0 for plain similarities; 10 to 100 damps rarely shared items",
            )
        return k, str(self.similarity), float(shrinkage)

    def fit(
        self,
        interactions: Frame,
        *,
        customer_col: str = "customer_id",
        item_col: str = "item_id",
        weight_col: str | None = None,
    ) -> Self:
        """Learn the items' nearest neighbours from interactions.

        Args:
            interactions: One row per interaction (purchase, view, click), in
                any order; ids are integers or strings, never missing.
            customer_col: Customer id column.
            item_col: Item id column.
            weight_col: A column of positive weights (quantity, spend) summed
                per customer and item; None counts each customer and item
                once, however many rows they share.

        Returns:
            The fitted model, `self`.

        Raises:
            ValidationError: if an option is bad (k < 1, an unknown
                similarity, a negative shrinkage), a value is missing, a
                weight is not positive, or there are no rows.
            SchemaError: if a column is missing.
        """
        k, kind, shrinkage = self._check_options()
        read = _read_interactions(
            interactions, customer_col=customer_col, item_col=item_col, weight_col=weight_col
        )
        similarity = _similarity(read.matrix, kind, shrinkage, k)
        self.customers_ = read.customers
        self.items_ = read.items
        self.item_popularity_ = read.popularity
        self.customer_items_ = read.matrix.astype(np.float32)
        self.similarity_ = similarity
        self._columns = (customer_col, item_col)
        self._backend = read.backend
        return self

    def _fitted(self, action: str) -> None:
        if "similarity_" not in self.__dict__:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet, so it cannot {action}"
                "\nHint: call .fit(interactions) first"
            )

    def recommend(
        self, customer_ids: Sequence[Any] | npt.ArrayLike, n: int = 10, exclude_seen: bool = True
    ) -> Frame:
        """The `n` best items for each customer, best first.

        Args:
            customer_ids: The customers to recommend for: a list, numpy array
                or series of ids of the fitted type. A customer the model was
                not fitted on gets the most popular items, with score 0.
            n: Items per customer (an integer >= 1); fewer when fewer items
                are left to recommend.
            exclude_seen: Leave out the items the customer interacted with.

        Returns:
            A frame of the fitted interactions' kind, one block of rows per
            entry of `customer_ids`, in that order: the customer column,
            `rank` (1, 2, ...), the item column and `score` (float64, never
            increasing with rank).

        Raises:
            NotFittedError: before `fit`.
            ValidationError: if `n` < 1, or an id is missing or of another
                type than the fitted ids.
        """
        self._fitted("recommend")
        count = integer(n, "n", minimum=1)
        exclude = _flag(exclude_seen, "exclude_seen")
        wanted = _requested(customer_ids, like=self.customers_, argument="customer_ids")
        rows = _lookup(self.customers_, wanted)
        matrix = self.customer_items_
        width = matrix.shape[1]
        empty = sparse.csr_array((1, width), dtype=np.float32)
        padded = sparse.csr_array(sparse.vstack([matrix, empty], format="csr"))
        rows = np.where(rows < 0, matrix.shape[0], rows)
        ranking = np.arange(width, dtype=np.int64)[None, :]  # the columns are by popularity
        parts: list[_Part] = []
        step = _block(width)
        for low in range(0, len(rows), step):
            block = sparse.csr_array(padded[rows[low : low + step]])
            scores = sparse.csr_array(block @ self.similarity_)
            scores.eliminate_zeros()
            if exclude:
                seen = _pattern(block)
                scores = sparse.csr_array(scores - scores.multiply(seen))
                scores.eliminate_zeros()
                taken = sparse.csr_array(_pattern(scores) + seen)
            else:
                taken = _pattern(scores)
            scored = _best_scored(scores, count)
            need = count - np.bincount(scored[0], minlength=block.shape[0])
            group = np.zeros(block.shape[0], dtype=np.int64)
            filled = _first_free(ranking, ranking, group, taken, need)
            row, col, rank, score = _merge(scored, filled, np.zeros(len(filled[0])))
            parts.append((row + low, col, rank, score))
        row, col, rank, score = _concat(parts)
        customer_col, item_col = self._columns
        return _recommendation_frame(
            wanted, row, self.items_, col, rank, score,
            customer_col=customer_col, item_col=item_col, backend=self._backend,
        )  # fmt: skip

    def similar_items(self, item_id: object, n: int = 10) -> Frame:
        """The `n` items most similar to one item, most similar first.

        Only the item's `k` kept neighbours can be listed, and only those
        with a similarity above 0.

        Args:
            item_id: A fitted item's id.
            n: How many (an integer >= 1).

        Returns:
            A frame of the fitted interactions' kind: `rank` (1, 2, ...),
            the item column and `similarity` (float64).

        Raises:
            NotFittedError: before `fit`.
            ValidationError: if `n` < 1 or the item is unknown.
        """
        self._fitted("list similar items")
        count = integer(n, "n", minimum=1)
        wanted = _requested([item_id], like=self.items_, argument="item_id")
        order = np.argsort(self.items_, kind="stable")
        found = _lookup(self.items_[order], wanted)
        if found[0] < 0:
            raise ValidationError(
                f"unknown item {item_id!r}",
                column="item_id",
                value=item_id,
                hint="pass the id of an item in the fitted interactions",
            )
        code = int(order[found[0]])
        start, stop = self.similarity_.indptr[code], self.similarity_.indptr[code + 1]
        cols = self.similarity_.indices[start:stop].astype(np.int64)
        values = self.similarity_.data[start:stop].astype(np.float32)
        keys = (values.view(np.int32).astype(np.int64) << 32) | (len(self.items_) - 1 - cols)
        best = np.argsort(-keys)[:count]  # keys are distinct
        _, item_col = self._columns
        return build_frame(
            {
                "rank": np.arange(1, len(best) + 1, dtype=np.int64),
                item_col: _ids_column(self.items_, cols[best]),
                "similarity": values[best].astype(np.float64),
            },
            self._backend,
        )


def _concat(
    parts: list[_Part],
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]
]:
    if not parts:
        none = np.empty(0, dtype=np.int64)
        return none, none, none, np.empty(0, dtype=np.float32)
    row, col, rank, score = (np.concatenate(p) for p in zip(*parts, strict=True))
    return row, col, rank, score.astype(np.float32)


# ----------------------------------------------------------------------------- the baseline


def segment_popularity(
    interactions: Frame,
    segments: Frame,
    *,
    n: int = 10,
    exclude_seen: bool = True,
    customer_col: str = "customer_id",
    item_col: str = "item_id",
    segment_col: str = "segment",
) -> Frame:
    """Recommend each customer the items most popular in their segment: the baseline.

    An item's score in a segment is the share of the segment's customers (its
    rows in `segments`) who interacted with it. Ties, and items no one in the
    segment chose, are ranked by popularity over all interactions, then by
    id, as `ItemKNNRecommender` ranks them. Interactions of customers
    without a segment count only for that overall popularity.

    Args:
        interactions: One row per interaction, as for `ItemKNNRecommender.fit`.
        segments: One row per customer to recommend for, with its segment
            (a string or integer label, e.g. the `segment` column of
            `relmark.rfm_segments`, or a jurisdiction).
        n: Items per customer (an integer >= 1).
        exclude_seen: Leave out the items the customer interacted with.
        customer_col: Customer id column, in both frames.
        item_col: Item id column of `interactions`.
        segment_col: Segment column of `segments`.

    Returns:
        A frame like `interactions`, customers in id order, with the
        customer column, `rank`, the item column and `score` (the share).

    Raises:
        SchemaError: if a column is missing.
        ValidationError: if `n` < 1, a value is missing, a customer has two
            rows in `segments`, or the two frames' ids are of different types.

    Examples:
        >>> import pandas as pd
        >>> log = pd.DataFrame({"customer_id": [1, 2, 2, 3],
        ...                     "item_id": ["tea", "tea", "mug", "honey"]})
        >>> who = pd.DataFrame({"customer_id": [1, 2, 3], "segment": ["A", "A", "B"]})
        >>> segment_popularity(log, who, n=1)
           customer_id  rank item_id  score
        0            1     1     mug    0.5
        1            2     1   honey    0.0
        2            3     1     tea    0.0
    """
    count = integer(n, "n", minimum=1)
    exclude = _flag(exclude_seen, "exclude_seen")
    read = _read_interactions(
        interactions, customer_col=customer_col, item_col=item_col, weight_col=None
    )
    people = eager_frame(segments, argument="segments")
    member, members = _ids(people, customer_col, argument="customer_col")
    _same_kind(read.customers, members, what="interactions' customers", argument="segments")
    group, _ = _ids(people, segment_col, argument="segment_col")
    if len(members) < len(member):
        by_id = np.argsort(member, kind="stable")
        again = np.flatnonzero(member[by_id][1:] == member[by_id][:-1])
        row = int(by_id[again + 1].min())  # the first row whose customer came before
        raise ValidationError(
            "a customer has two rows in segments",
            column=customer_col,
            row=row,
            value=members[member[row]].item(),
            hint="give each customer one segment",
        )
    segment_of = np.empty(len(members), dtype=np.int64)
    segment_of[member] = group  # by customer, in id order
    n_segments = int(group.max(initial=-1)) + 1
    # Each interaction matrix row belongs to a segment customer, or to no one (-1).
    row_member = _lookup(members, read.customers)
    matrix = read.matrix
    owner = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    counted = row_member[owner] >= 0
    width = matrix.shape[1]
    cell = segment_of[row_member[owner[counted]]] * width + matrix.indices[counted]
    chosen = np.bincount(cell, minlength=n_segments * width).reshape(n_segments, width)
    size = np.bincount(group, minlength=n_segments).astype(np.float64)
    share = (chosen / size[:, None]).astype(np.float32)
    # Each segment's items, best first, and where each item stands in that order.
    keys = _rank_keys(share, np.arange(width, dtype=np.int64)[None, :], width)
    ranking = np.argsort(-keys, axis=1)
    place = np.empty_like(ranking)
    np.put_along_axis(place, ranking, np.arange(width, dtype=np.int64)[None, :], axis=1)
    # The customers' own items, as rows in id order.
    present = np.flatnonzero(row_member >= 0)
    mine = sparse.csr_array(
        (np.ones(len(present)), (row_member[present], present)),
        shape=(len(members), matrix.shape[0]),
    )
    seen = _pattern(sparse.csr_array(mine @ matrix))
    if not exclude:
        seen = sparse.csr_array((len(members), width), dtype=np.float64)
    parts: list[_Part] = []
    step = _block(width)
    for low in range(0, len(members), step):
        high = min(low + step, len(members))
        group_of = segment_of[low:high]
        need = np.full(high - low, count, dtype=np.int64)
        got, col, slot = _first_free(ranking, place, group_of, seen[low:high], need)
        parts.append((got + low, col, slot + 1, share[group_of[got], col]))
    who, col, rank, score = _concat(parts)
    return _recommendation_frame(
        members, who, read.items, col, rank, score,
        customer_col=customer_col, item_col=item_col, backend=read.backend,
    )  # fmt: skip


# ----------------------------------------------------------------------------- evaluation


def holdout_split(
    interactions: Frame,
    *,
    at: object,
    customer_col: str = "customer_id",
    item_col: str = "item_id",
    datetime_col: str = "datetime",
) -> tuple[Frame, Frame]:
    """Split interactions in time: learn from before `at`, check what came after.

    `train` is every row before `at`. `holdout` is what a recommender fitted
    on `train` could have predicted: the rows at or after `at` of customers
    who have a row in `train`, for items those customers had not interacted
    with before `at` (new customers and repeat purchases are left out; the
    same new item bought twice after `at` keeps both rows).

    Args:
        interactions: One row per interaction with an aware timestamp.
        at: The moment to split at (aware).
        customer_col: Customer id column.
        item_col: Item id column.
        datetime_col: Timestamp column (timezone-aware).

    Returns:
        `(train, holdout)`, two frames like `interactions` with its columns
        (pandas frames keep their index).

    Raises:
        SchemaError: if a column is missing.
        ValidationError: if `at` or the timestamps are naive, or a value is
            missing.

    Examples:
        >>> import pandas as pd
        >>> log = pd.DataFrame({
        ...     "customer_id": [1, 1, 1, 1, 2],
        ...     "item_id": ["tea", "mug", "tea", "honey", "mug"],
        ...     "datetime": pd.to_datetime(
        ...         ["2024-01-05", "2024-02-01", "2024-03-01", "2024-03-02", "2024-03-03"], utc=True)})
        >>> train, holdout = holdout_split(log, at="2024-03-01T00:00:00Z")
        >>> holdout
           customer_id item_id                  datetime
        3            1   honey 2024-03-02 00:00:00+00:00
    """
    moment = utc_micros(to_datetime(at, argument="at"))
    frame = eager_frame(interactions, argument="interactions")
    customer, customers = _ids(frame, customer_col, argument="customer_col")
    item, items = _ids(frame, item_col, argument="item_col")
    when = utc_column(frame, datetime_col, argument="datetime_col")
    before = when < moment
    known = np.zeros(len(customers), dtype=bool)
    known[customer[before]] = True
    key = customer * len(items) + item
    fresh = ~np.isin(key, np.unique(key[before]))
    after = ~before & known[customer] & fresh
    split = [
        frame.filter(nw.new_series("_keep", mask, nw.Boolean(), backend=frame.implementation))
        for mask in (before, after)
    ]
    return split[0].to_native(), split[1].to_native()


@attrs.frozen
class RecommenderScores:
    """How well recommendations predicted a holdout (see `evaluate_recommender`).

    Attributes:
        precision: Mean over the customers of hits / k.
        recall: Mean over the customers of hits / (their holdout items).
        hit_rate: Share of the customers with at least one hit.
        customers: How many customers were measured (those with holdout items).
        k: The cut-off: recommendations of rank <= k count.
    """

    precision: float
    recall: float
    hit_rate: float
    customers: int
    k: int


def evaluate_recommender(
    recommendations: Frame,
    holdout: Frame,
    *,
    k: int = 10,
    customer_col: str = "customer_id",
    item_col: str = "item_id",
    rank_col: str = "rank",
) -> RecommenderScores:
    """Precision@k and recall@k of recommendations against a holdout.

    For each customer with at least one item in `holdout` (distinct items;
    a repeat counts once), the hits are their distinct recommended items of
    rank <= k that are among those holdout items. Then:

    - precision@k = mean over those customers of hits / k (dividing by k
      even when fewer than k items were recommended);
    - recall@k = mean over those customers of hits / holdout items;
    - hit rate = share of those customers with at least one hit.

    A holdout customer with no recommendation counts with no hit, so
    recommend for every holdout customer (`holdout_split` keeps only
    customers seen before the split).

    Args:
        recommendations: Customer, item and rank columns, as returned by
            `ItemKNNRecommender.recommend` or `segment_popularity`.
        holdout: Customer and item columns, e.g. `holdout_split`'s second frame.
        k: The cut-off (an integer >= 1).
        customer_col: Customer id column, in both frames.
        item_col: Item id column, in both frames.
        rank_col: Rank column of `recommendations` (1 is the best).

    Returns:
        A `RecommenderScores`.

    Raises:
        SchemaError: if a column is missing.
        ValidationError: if `k` < 1, a value is missing, the two frames' ids
            are of different types, or the holdout is empty.

    Examples:
        >>> import pandas as pd
        >>> recs = pd.DataFrame({"customer_id": [1, 1, 2, 2], "rank": [1, 2, 1, 2],
        ...                      "item_id": ["tea", "mug", "tea", "mug"]})
        >>> holdout = pd.DataFrame({"customer_id": [1, 2, 2], "item_id": ["mug", "honey", "jam"]})
        >>> evaluate_recommender(recs, holdout, k=2)
        RecommenderScores(precision=0.25, recall=0.5, hit_rate=0.5, customers=2, k=2)
    """
    cut = integer(k, "k", minimum=1)
    recs = eager_frame(recommendations, argument="recommendations")
    truth = eager_frame(holdout, argument="holdout")
    r_customer, r_customers = _ids(recs, customer_col, argument="customer_col")
    r_item, r_items = _ids(recs, item_col, argument="item_col")
    rank = float_column(recs, rank_col, argument="rank_col")
    h_customer, h_customers = _ids(truth, customer_col, argument="customer_col")
    h_item, h_items = _ids(truth, item_col, argument="item_col")
    _same_kind(h_customers, r_customers, what="holdout's customers", argument="recommendations")
    _same_kind(h_items, r_items, what="holdout's items", argument="recommendations")
    if not len(h_customer):
        raise ValidationError(
            "holdout has no rows, so there is nothing to measure",
            column="holdout",
            hint="split later, or over a longer period",
        )
    # Recommendations in the holdout's id spaces (-1: a customer or item not in the holdout).
    top = rank <= cut
    customer = _lookup(h_customers, r_customers)[r_customer[top]]
    item = _lookup(h_items, r_items)[r_item[top]]
    width = len(h_items) + 1
    truth_keys = np.unique(h_customer * width + h_item)
    found = (customer >= 0) & (item >= 0)
    guesses = np.unique(customer[found] * width + item[found])
    hit = guesses[np.isin(guesses, truth_keys)] // width
    holdout_items = np.bincount(truth_keys // width, minlength=len(h_customers))
    hits = np.bincount(hit, minlength=len(h_customers)).astype(np.float64)
    return RecommenderScores(
        precision=float(np.mean(hits / cut)),
        recall=float(np.mean(hits / holdout_items)),
        hit_rate=float(np.mean(hits > 0)),
        customers=len(h_customers),
        k=cut,
    )
