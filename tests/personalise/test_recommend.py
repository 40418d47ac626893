"""relmark.personalise.recommend: ItemKNNRecommender, segment_popularity and the evaluation.

One class per public name: ItemKNNRecommender (with its bad input and properties),
segment_popularity, holdout_split, evaluate_recommender and RecommenderScores.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from relmark import rfm_segments
from relmark.datasets import SyntheticData, make_synthetic
from relmark.exceptions import NotFittedError, SchemaError, ValidationError
from relmark.personalise.recommend import (
    SIMILARITIES,
    ItemKNNRecommender,
    RecommenderScores,
    evaluate_recommender,
    holdout_split,
    segment_popularity,
)

BACKENDS = ["pandas", "polars", "pyarrow"]
SPLIT = "2024-10-01T00:00:00Z"
OUTPUT = ["customer_id", "rank", "item_id", "score"]


def native(data: Mapping[str, Sequence[Any]], backend: str) -> Any:
    """A frame of `backend` from columns of Python values."""
    if backend == "polars":
        return pl.DataFrame(dict(data), strict=False)
    if backend == "pyarrow":
        return pa.table({name: pa.array(list(values)) for name, values in data.items()})
    return pd.DataFrame({name: list(values) for name, values in data.items()})


def rows(frame: Any) -> list[tuple[Any, ...]]:
    """The rows of a native frame as tuples of Python values."""
    return list(nw.from_native(frame, eager_only=True).iter_rows())


def by_customer(frame: Any) -> dict[Any, list[tuple[Any, float]]]:
    """Recommendations as customer -> [(item, score), ...] in rank order (ranks checked)."""
    out: dict[Any, list[tuple[Any, float]]] = {}
    for customer, rank, item, score in rows(frame):
        listed = out.setdefault(customer, [])
        assert rank == len(listed) + 1
        listed.append((item, score))
    return out


TEA = {
    "customer_id": [1, 1, 2, 2, 2, 3, 3, 4],
    "item_id": ["tea", "mug", "tea", "mug", "honey", "tea", "honey", "mug"],
}


@st.composite
def logs(draw: st.DrawFn, *, weighted: bool = False) -> pd.DataFrame:
    """A small interaction log: up to 10 customers, 15 items, 60 rows (weights if asked)."""
    size = draw(st.integers(1, 60))
    ints = st.lists(st.integers(0, 9), min_size=size, max_size=size)
    data: dict[str, Any] = {
        "customer_id": draw(ints),
        "item_id": draw(st.lists(st.integers(0, 14), min_size=size, max_size=size)),
    }
    if weighted:
        data["weight"] = draw(st.lists(st.integers(1, 5), min_size=size, max_size=size))
    return pd.DataFrame(data)


def dense(log: pd.DataFrame, weight_col: str | None = None) -> tuple[Any, Any, Any]:
    """The customer x item matrix of a log by hand: customers sorted, items by popularity, id."""
    customers = np.unique(log["customer_id"])
    items = np.unique(log["item_id"])
    matrix = np.zeros((len(customers), len(items)))
    weights = np.ones(len(log)) if weight_col is None else log[weight_col].to_numpy(float)
    row = np.searchsorted(customers, log["customer_id"])
    col = np.searchsorted(items, log["item_id"])
    np.add.at(matrix, (row, col), weights)
    if weight_col is None:
        matrix = (matrix > 0).astype(float)
    popularity = (matrix > 0).sum(axis=0)
    order = np.lexsort((np.arange(len(items)), -popularity))
    return customers, items[order], matrix[:, order]


def similarity_by_hand(matrix: Any, kind: str, shrinkage: float) -> Any:
    """Every item pair's similarity from the definitions (float64, zero diagonal)."""
    if kind == "jaccard":
        matrix = (matrix > 0).astype(float)
    products = matrix.T @ matrix
    diagonal = np.diag(products)
    if kind == "cosine":
        norm = np.sqrt(diagonal)
        out = products / (np.outer(norm, norm) + shrinkage)
    else:
        out = products / (diagonal[:, None] + diagonal[None, :] - products + shrinkage)
    np.fill_diagonal(out, 0.0)
    return out


# ----------------------------------------------------------------------------- ItemKNNRecommender


@pytest.fixture(scope="module")
def synthetic() -> SyntheticData:
    """5,000 customers over 2024 buying from 200 items in 8 taste groups (polars)."""
    return make_synthetic(
        5_000, seed=6, start="2024-01-01T00:00:00Z", end="2025-01-01T00:00:00Z", backend="polars"
    )


@pytest.fixture(scope="module")
def split(synthetic: SyntheticData) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The synthetic interactions split at 2024-10-01."""
    return holdout_split(synthetic.interactions, at=SPLIT)  # type: ignore[no-any-return]


class TestItemKNNRecommender:
    def test_worked_example(self) -> None:
        """Cosine scores are sums of neighbours' similarities; unknown customers get the popular."""
        model = ItemKNNRecommender(k=5).fit(pd.DataFrame(TEA))
        got = by_customer(model.recommend([1, 4, 99], n=2))
        assert [item for item, _ in got[1]] == ["honey"]
        assert got[1][0][1] == pytest.approx(3 / np.sqrt(6), rel=1e-6)
        assert [item for item, _ in got[4]] == ["tea", "honey"]
        assert got[4][0][1] == pytest.approx(2 / 3, rel=1e-6)
        assert got[4][1][1] == pytest.approx(1 / np.sqrt(6), rel=1e-6)
        assert got[99] == [("mug", 0.0), ("tea", 0.0)]  # 3 customers each: by id

    def test_fitted_state(self) -> None:
        """Fitted attributes end in _ and describe customers, items, matrix and neighbours."""
        model = ItemKNNRecommender(k=1).fit(pd.DataFrame(TEA))
        assert model.customers_.tolist() == [1, 2, 3, 4]
        assert model.items_.tolist() == ["mug", "tea", "honey"]
        assert model.item_popularity_.tolist() == [3, 3, 2]
        assert isinstance(model.customer_items_, sparse.csr_array)
        assert model.customer_items_.shape == (4, 3)
        assert model.customer_items_.dtype == np.float32
        assert model.similarity_.dtype == np.float32
        assert np.diff(model.similarity_.indptr).tolist() == [1, 1, 1]
        assert repr(model) == "ItemKNNRecommender(k=1, similarity='cosine', shrinkage=0.0)"

    def test_options_are_only_stored_until_fit(self) -> None:
        """A bad option is accepted by the constructor and refused by fit, by name."""
        model = ItemKNNRecommender(k=0, similarity="pearson", shrinkage=-1)
        assert (model.k, model.similarity, model.shrinkage) == (0, "pearson", -1)
        with pytest.raises(ValidationError) as info:
            model.fit(pd.DataFrame(TEA))
        assert info.value.column == "k"
        assert "customers_" not in vars(model)

    def test_fit_returns_self(self) -> None:
        """Fitting returns the model itself, so calls chain."""
        model = ItemKNNRecommender()
        assert model.fit(pd.DataFrame(TEA)) is model

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_each_backend_returns_its_frame_type(self, backend: str) -> None:
        """pandas, polars and pyarrow interactions give their own frame type, same values."""
        model = ItemKNNRecommender().fit(native(TEA, backend))
        out = model.recommend([1, 2, 3, 4, 5], n=3)
        assert nw.get_native_namespace(nw.from_native(out)).__name__ == backend
        assert nw.from_native(out, eager_only=True).columns == OUTPUT
        reference = ItemKNNRecommender().fit(pd.DataFrame(TEA)).recommend([1, 2, 3, 4, 5], n=3)
        assert rows(out) == rows(reference)
        similar = model.similar_items("tea")
        assert nw.get_native_namespace(nw.from_native(similar)).__name__ == backend

    def test_output_names_follow_the_fitted_columns(self) -> None:
        """The id columns of the output carry the names the interactions used."""
        log = pd.DataFrame(TEA).rename(columns={"customer_id": "who", "item_id": "sku"})
        model = ItemKNNRecommender().fit(log, customer_col="who", item_col="sku")
        assert list(model.recommend([1])) == ["who", "rank", "sku", "score"]
        assert list(model.similar_items("tea")) == ["rank", "sku", "similarity"]

    def test_exclude_seen_false_can_recommend_bought_items(self) -> None:
        """Without exclude_seen, a customer's own items are ranked with the rest."""
        model = ItemKNNRecommender().fit(pd.DataFrame(TEA))
        got = by_customer(model.recommend([1], n=3, exclude_seen=False))[1]
        assert {item for item, _ in got} == {"tea", "mug", "honey"}
        assert got[0][1] >= got[1][1] >= got[2][1]

    def test_customers_run_out_of_items(self) -> None:
        """A customer who saw every item gets no row; n beyond the catalogue gives what is left."""
        model = ItemKNNRecommender().fit(pd.DataFrame(TEA))
        out = by_customer(model.recommend([2, 3], n=50))
        assert 2 not in out
        assert [item for item, _ in out[3]] == ["mug"]

    def test_recommend_keeps_the_order_and_repeats_of_the_request(self) -> None:
        """One block of rows per requested id, in the order asked, repeats included."""
        model = ItemKNNRecommender().fit(pd.DataFrame(TEA))
        out = rows(model.recommend(np.array([4, 1, 4]), n=1))
        assert [r[0] for r in out] == [4, 1, 4]
        assert rows(model.recommend([])) == []

    def test_ids_may_come_as_any_sequence(self) -> None:
        """Lists, numpy arrays, and pandas, polars and pyarrow series of ids all work."""
        model = ItemKNNRecommender().fit(pl.DataFrame(TEA).with_columns(pl.col("customer_id")))
        expected = rows(model.recommend([1, 4]))
        for ids in (np.array([1, 4]), pd.Series([1, 4]), pl.Series([1, 4]), pa.array([1, 4])):
            assert rows(model.recommend(ids)) == expected
        text = ItemKNNRecommender().fit(pd.DataFrame(TEA).astype({"customer_id": str}))
        assert rows(text.recommend(pl.Series(["1", "4"])))[0][0] == "1"

    def test_weights_are_summed_per_customer_and_item(self) -> None:
        """With weight_col, a customer's rows for one item add up in the matrix."""
        log = pd.DataFrame({"customer_id": [1, 1, 2], "item_id": [7, 7, 8], "qty": [2.0, 3.0, 1.0]})
        model = ItemKNNRecommender().fit(log, weight_col="qty")
        assert model.customer_items_.toarray().tolist() == [[5.0, 0.0], [0.0, 1.0]]
        binary = ItemKNNRecommender().fit(log)
        assert binary.customer_items_.toarray().tolist() == [[1.0, 0.0], [0.0, 1.0]]

    def test_jaccard_is_shared_over_either(self) -> None:
        """Jaccard similarity is customers of both items over customers of either."""
        model = ItemKNNRecommender(similarity="jaccard").fit(pd.DataFrame(TEA))
        similar = {item: value for _, item, value in rows(model.similar_items("tea"))}
        assert similar == {"mug": pytest.approx(0.5), "honey": pytest.approx(2 / 3)}

    def test_shrinkage_damps_similarity(self) -> None:
        """A shrinkage adds to the denominator: cosine 2 / (3 + 1) for tea and mug."""
        model = ItemKNNRecommender(shrinkage=1.0).fit(pd.DataFrame(TEA))
        similar = {item: value for _, item, value in rows(model.similar_items("tea"))}
        assert similar["mug"] == pytest.approx(2 / 4)

    def test_similar_items_lists_the_kept_neighbours_best_first(self) -> None:
        """similar_items gives at most k neighbours, most similar first, n at most."""
        model = ItemKNNRecommender(k=1).fit(pd.DataFrame(TEA))
        assert rows(model.similar_items("mug", n=5)) == [(1, "tea", pytest.approx(2 / 3))]
        full = ItemKNNRecommender().fit(pd.DataFrame(TEA))
        assert [r[1] for r in rows(full.similar_items("mug"))] == ["tea", "honey"]
        assert len(rows(full.similar_items("mug", n=1))) == 1

    def test_caller_data_is_not_changed(self) -> None:
        """Fitting and recommending leave the interactions and the requested ids as they were."""
        log = pd.DataFrame(TEA)
        before = log.copy()
        ids = np.array([4, 1])
        ItemKNNRecommender().fit(log).recommend(ids)
        pd.testing.assert_frame_equal(log, before)
        assert ids.tolist() == [4, 1]

    def test_beats_segment_popularity_on_the_synthetic_holdout(
        self, synthetic: SyntheticData, split: tuple[pl.DataFrame, pl.DataFrame]
    ) -> None:
        """On the synthetic holdout, item kNN has over twice the precision@10 of the baselines."""
        train, holdout = split
        who = holdout["customer_id"].unique().sort()
        knn = ItemKNNRecommender(k=50).fit(train).recommend(who, n=10)
        knn_score = evaluate_recommender(knn, holdout, k=10)
        by_jurisdiction = segment_popularity(
            train,
            synthetic.customers.select("customer_id", "jurisdiction"),
            segment_col="jurisdiction",
        )
        cut = dt.datetime(2024, 10, 1, tzinfo=dt.UTC)
        bought = synthetic.transactions.filter(pl.col("datetime") < cut)
        rfm = rfm_segments(bought, monetary_col="amount", observation_end=SPLIT)
        by_rfm = segment_popularity(train, rfm.select("customer_id", "segment"))
        jurisdiction_score = evaluate_recommender(by_jurisdiction, holdout, k=10)
        rfm_score = evaluate_recommender(by_rfm, holdout, k=10)
        assert knn_score.customers == jurisdiction_score.customers == 841
        assert knn_score.precision == pytest.approx(0.1762, abs=5e-4)
        assert knn_score.recall == pytest.approx(0.5143, abs=5e-4)
        assert jurisdiction_score.precision == pytest.approx(0.0766, abs=5e-4)
        assert rfm_score.precision == pytest.approx(0.0771, abs=5e-4)
        assert knn_score.precision > 2 * max(jurisdiction_score.precision, rfm_score.precision)
        # The ceiling: the most popular items of each customer's true taste group.
        taste = pl.DataFrame(
            {"customer_id": np.arange(5_000), "segment": synthetic.truth.taste_group}
        )
        oracle = evaluate_recommender(segment_popularity(train, taste), holdout, k=10)
        assert knn_score.precision < oracle.precision == pytest.approx(0.1999, abs=5e-4)


class TestItemKNNRecommenderBadInput:
    @pytest.mark.parametrize(
        ("options", "argument"),
        [
            ({"k": 0}, "k"),
            ({"k": 2.5}, "k"),
            ({"k": True}, "k"),
            ({"similarity": "pearson"}, "similarity"),
            ({"shrinkage": -1.0}, "shrinkage"),
            ({"shrinkage": float("nan")}, "shrinkage"),
            ({"shrinkage": "10"}, "shrinkage"),
        ],
    )
    def test_bad_options_are_refused_by_fit(self, options: dict[str, Any], argument: str) -> None:
        """A k < 1, an unknown similarity or a bad shrinkage fail in fit, naming the option."""
        with pytest.raises(ValidationError) as info:
            ItemKNNRecommender(**options).fit(pd.DataFrame(TEA))
        assert info.value.column == argument

    def test_missing_columns_are_schema_errors(self) -> None:
        """A missing id or weight column is a SchemaError suggesting the closest name."""
        log = pd.DataFrame(TEA)
        with pytest.raises(SchemaError, match="did you mean 'item_id'"):
            ItemKNNRecommender().fit(log, item_col="item")
        with pytest.raises(SchemaError):
            ItemKNNRecommender().fit(log, weight_col="qty")

    @pytest.mark.parametrize("name", ["customer_id", "item_id"])
    def test_missing_ids_are_refused_with_their_row(self, name: str) -> None:
        """A null customer or item id is a ValidationError naming the row."""
        log = pl.DataFrame(TEA).with_columns(
            pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise(pl.col(name)).alias(name)
        )
        with pytest.raises(ValidationError) as info:
            ItemKNNRecommender().fit(log)
        assert (info.value.column, info.value.row) == (name, 3)

    @pytest.mark.parametrize("weight", [0.0, -1.0, float("nan"), float("inf")])
    def test_bad_weights_are_refused(self, weight: float) -> None:
        """Weights must be positive and finite."""
        log = pd.DataFrame(TEA).assign(qty=1.0)
        log.loc[2, "qty"] = weight
        with pytest.raises(ValidationError) as info:
            ItemKNNRecommender().fit(log, weight_col="qty")
        assert info.value.row == 2

    def test_an_empty_log_is_refused(self) -> None:
        """A frame with no rows has nothing to learn from."""
        with pytest.raises(ValidationError, match="no rows"):
            ItemKNNRecommender().fit(pd.DataFrame({"customer_id": [], "item_id": []}))

    def test_ids_must_be_integers_or_strings(self) -> None:
        """Float ids are refused (a customer id is a key, not a number)."""
        with pytest.raises(ValidationError, match="strings"):
            ItemKNNRecommender().fit(pd.DataFrame({"customer_id": [1.5], "item_id": [1]}))

    def test_not_fitted(self) -> None:
        """Calling recommend or similar_items before fit raises NotFittedError."""
        with pytest.raises(NotFittedError, match="fit"):
            ItemKNNRecommender().recommend([1])
        with pytest.raises(NotFittedError):
            ItemKNNRecommender().similar_items("tea")

    @pytest.mark.parametrize("n", [0, -3, 1.5, True])
    def test_bad_n_is_refused(self, n: Any) -> None:
        """The n of recommend and of similar_items must be an integer >= 1."""
        model = ItemKNNRecommender().fit(pd.DataFrame(TEA))
        with pytest.raises(ValidationError) as info:
            model.recommend([1], n=n)
        assert info.value.column == "n"
        with pytest.raises(ValidationError):
            model.similar_items("tea", n=n)

    @pytest.mark.parametrize(
        "ids", [1, "1", ["1", "2"], [1.5], [1, None], np.array([[1, 2]]), [True]]
    )
    def test_bad_customer_ids_are_refused(self, ids: Any) -> None:
        """A single id, ids of another type, missing ids or a 2-D array are refused."""
        model = ItemKNNRecommender().fit(pd.DataFrame(TEA))
        with pytest.raises(ValidationError) as info:
            model.recommend(ids)
        assert info.value.column == "customer_ids"

    def test_exclude_seen_must_be_a_flag(self) -> None:
        """exclude_seen must be True or False."""
        model = ItemKNNRecommender().fit(pd.DataFrame(TEA))
        with pytest.raises(ValidationError):
            model.recommend([1], exclude_seen="yes")  # type: ignore[arg-type]

    def test_unknown_item_is_refused(self) -> None:
        """similar_items of an item the model never saw names it."""
        model = ItemKNNRecommender().fit(pd.DataFrame(TEA))
        with pytest.raises(ValidationError, match="unknown item 'jam'"):
            model.similar_items("jam")
        with pytest.raises(ValidationError):
            model.similar_items(3)


class TestItemKNNRecommenderProperties:
    @settings(max_examples=60, deadline=None)
    @given(
        log=logs(), kind=st.sampled_from(SIMILARITIES), shrinkage=st.sampled_from([0.0, 0.5, 5.0])
    )
    def test_similarity_is_the_definition_symmetric_and_in_0_1(
        self, log: pd.DataFrame, kind: str, shrinkage: float
    ) -> None:
        """Unpruned, the similarity equals its definition, is symmetric and lies in [0, 1]."""
        model = ItemKNNRecommender(k=100, similarity=kind, shrinkage=shrinkage).fit(log)
        got = model.similarity_.toarray()
        _, items, matrix = dense(log)
        assert model.items_.tolist() == items.tolist()
        np.testing.assert_allclose(got, similarity_by_hand(matrix, kind, shrinkage), atol=1e-6)
        assert np.array_equal(got, got.T)
        assert got.min(initial=0) >= 0
        assert got.max(initial=0) <= 1
        assert not np.diag(got).any()

    @settings(max_examples=60, deadline=None)
    @given(log=logs(), k=st.integers(1, 6))
    def test_each_item_keeps_its_k_best_neighbours(self, log: pd.DataFrame, k: int) -> None:
        """A row of the pruned similarity is the k best of the full row (ties: popular first)."""
        full = ItemKNNRecommender(k=100).fit(log).similarity_.toarray()
        pruned = ItemKNNRecommender(k=k).fit(log).similarity_.toarray()
        for row_full, row_pruned in zip(full, pruned, strict=True):
            positive = np.flatnonzero(row_full > 0)
            best = sorted(positive, key=lambda j: (-row_full[j], j))[:k]
            assert np.flatnonzero(row_pruned).tolist() == sorted(best)
            assert np.array_equal(row_pruned[best], row_full[best])

    @settings(max_examples=60, deadline=None)
    @given(
        log=logs(),
        k=st.integers(1, 6),
        n=st.integers(1, 16),
        exclude=st.booleans(),
        kind=st.sampled_from(SIMILARITIES),
    )
    def test_recommendations_are_the_best_scored_items(
        self, log: pd.DataFrame, k: int, n: int, exclude: bool, kind: str
    ) -> None:
        """Scores are X S; each list is the n best (never seen ones if asked), sorted by rank."""
        model = ItemKNNRecommender(k=k, similarity=kind).fit(log)
        customers, items, matrix = dense(log)
        scores = matrix @ model.similarity_.toarray().astype(np.float64)
        asked = [*customers.tolist(), 99]
        got = by_customer(model.recommend(asked, n=n, exclude_seen=exclude))
        for row, customer in enumerate(asked):
            known = row < len(customers)
            seen = matrix[row] > 0 if known else np.zeros(len(items), bool)
            expected_scores = scores[row] if known else np.zeros(len(items))
            allowed = ~seen if exclude else np.ones(len(items), bool)
            listed = got.get(customer, [])
            assert len(listed) == min(n, int(allowed.sum()))
            position = {item: j for j, item in enumerate(items.tolist())}
            chosen = [position[item] for item, _ in listed]
            assert all(allowed[chosen])
            values = [score for _, score in listed]
            assert values == sorted(values, reverse=True)
            np.testing.assert_allclose(values, expected_scores[chosen], rtol=1e-5, atol=1e-6)
            left = np.setdiff1d(np.flatnonzero(allowed), chosen)
            if len(left) and listed:
                assert expected_scores[left].max() <= min(values) + 1e-5

    @settings(max_examples=40, deadline=None)
    @given(log=logs(weighted=True), shuffle=st.randoms(use_true_random=False))
    def test_results_do_not_depend_on_row_order(
        self, log: pd.DataFrame, shuffle: random.Random
    ) -> None:
        """Shuffling the interactions changes no similarity, recommendation or score."""
        order = list(range(len(log)))
        shuffle.shuffle(order)
        shuffled = log.iloc[order].reset_index(drop=True)
        for weight_col in (None, "weight"):
            one = ItemKNNRecommender(k=3).fit(log, weight_col=weight_col)
            two = ItemKNNRecommender(k=3).fit(shuffled, weight_col=weight_col)
            assert np.array_equal(one.similarity_.toarray(), two.similarity_.toarray())
            asked = list(range(11))
            assert rows(one.recommend(asked, n=5)) == rows(two.recommend(asked, n=5))

    @settings(max_examples=40, deadline=None)
    @given(log=logs(weighted=True), factor=st.sampled_from([2.0, 0.5, 3.0]))
    def test_cosine_ignores_the_scale_of_the_weights(
        self, log: pd.DataFrame, factor: float
    ) -> None:
        """Multiplying every weight by one factor leaves the cosine similarity as it was."""
        one = ItemKNNRecommender(k=100).fit(log, weight_col="weight")
        scaled = log.assign(weight=log["weight"] * factor)
        two = ItemKNNRecommender(k=100).fit(scaled, weight_col="weight")
        np.testing.assert_allclose(
            one.similarity_.toarray(), two.similarity_.toarray(), rtol=1e-6, atol=1e-7
        )

    @settings(max_examples=30, deadline=None)
    @given(log=logs())
    def test_string_ids_give_the_same_lists(self, log: pd.DataFrame) -> None:
        """Ids as zero-padded strings give the same recommendations as the integers."""
        as_text = log.assign(
            customer_id=log["customer_id"].map("c{:02d}".format),
            item_id=log["item_id"].map("i{:02d}".format),
        )
        ints = ItemKNNRecommender(k=4).fit(log).recommend(list(range(10)), n=4)
        text = ItemKNNRecommender(k=4).fit(as_text).recommend([f"c{i:02d}" for i in range(10)], n=4)
        assert [(c, r, i, s) for c, r, i, s in rows(ints)] == [
            (int(c[1:]), r, int(i[1:]), s) for c, r, i, s in rows(text)
        ]


# ----------------------------------------------------------------------------- segment_popularity


SEGMENTS = {"customer_id": [1, 2, 3, 4], "segment": ["A", "A", "B", "B"]}


class TestSegmentPopularity:
    def test_worked_example(self) -> None:
        """Scores are the share of the segment's customers who chose the item."""
        out = by_customer(segment_popularity(pd.DataFrame(TEA), pd.DataFrame(SEGMENTS), n=3))
        # Segment A (1, 2): tea 2/2, mug 2/2, honey 1/2; B (3, 4): tea, mug, honey 1/2 each.
        assert out[1] == [("honey", 0.5)]
        assert 2 not in out
        assert out[3] == [("mug", 0.5)]
        assert out[4] == [("tea", 0.5), ("honey", 0.5)]

    def test_without_exclude_seen_everyone_in_a_segment_gets_the_same(self) -> None:
        """With exclude_seen=False the list depends only on the segment."""
        out = by_customer(
            segment_popularity(pd.DataFrame(TEA), pd.DataFrame(SEGMENTS), n=3, exclude_seen=False)
        )
        assert out[1] == out[2] == [("mug", 1.0), ("tea", 1.0), ("honey", 0.5)]
        assert out[3] == out[4] == [("mug", 0.5), ("tea", 0.5), ("honey", 0.5)]

    def test_customers_without_interactions_get_their_segments_favourites(self) -> None:
        """A segment customer with no interactions still gets the segment's popular items."""
        people = pd.DataFrame({"customer_id": [1, 2, 9], "segment": [0, 0, 0]})
        out = by_customer(segment_popularity(pd.DataFrame(TEA), people, n=2))
        assert [item for item, _ in out[9]] == ["mug", "tea"]
        assert out[9][0][1] == pytest.approx(2 / 3)

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_each_backend_returns_its_frame_type(self, backend: str) -> None:
        """The result is a frame of the interactions' kind, customers in id order."""
        out = segment_popularity(native(TEA, backend), native(SEGMENTS, "pandas"))
        assert nw.get_native_namespace(nw.from_native(out)).__name__ == backend
        assert nw.from_native(out, eager_only=True).columns == OUTPUT
        reference = segment_popularity(pd.DataFrame(TEA), pd.DataFrame(SEGMENTS))
        assert rows(out) == rows(reference)

    def test_bad_input_is_refused(self) -> None:
        """A repeated customer, a missing segment column or mixed id types are errors."""
        log = pd.DataFrame(TEA)
        twice = pd.DataFrame({"customer_id": [1, 2, 1], "segment": ["A", "B", "C"]})
        with pytest.raises(ValidationError, match="two rows") as info:
            segment_popularity(log, twice)
        assert info.value.row == 2
        with pytest.raises(SchemaError):
            segment_popularity(log, pd.DataFrame(SEGMENTS), segment_col="tier")
        with pytest.raises(ValidationError, match="integers"):
            segment_popularity(log, pd.DataFrame(SEGMENTS).astype({"customer_id": str}))
        with pytest.raises(ValidationError):
            segment_popularity(log, pd.DataFrame(SEGMENTS), n=0)
        missing = pd.DataFrame({"customer_id": [1, 2], "segment": ["A", None]})
        with pytest.raises(ValidationError, match="missing"):
            segment_popularity(log, missing)

    @settings(max_examples=50, deadline=None)
    @given(
        log=logs(),
        groups=st.lists(st.integers(0, 2), min_size=12, max_size=12),
        n=st.integers(1, 16),
        shuffle=st.randoms(use_true_random=False),
    )
    def test_scores_are_segment_shares_of_unseen_items(
        self, log: pd.DataFrame, groups: list[int], n: int, shuffle: random.Random
    ) -> None:
        """Each list is the n best unseen items by segment share, and row order does not matter."""
        people = pd.DataFrame({"customer_id": range(12), "segment": groups})
        out = segment_popularity(log, people, n=n)
        customers, items, matrix = dense(log)
        index = {c: i for i, c in enumerate(customers.tolist())}
        position = {item: j for j, item in enumerate(items.tolist())}
        share = np.zeros((3, len(items)))
        for c, g in enumerate(groups):
            if c in index:
                share[g] += matrix[index[c]] > 0
        share /= np.maximum(np.bincount(groups, minlength=3), 1)[:, None]
        got = by_customer(out)
        for c, g in enumerate(groups):
            seen = matrix[index[c]] > 0 if c in index else np.zeros(len(items), bool)
            listed = got.get(c, [])
            assert len(listed) == min(n, int((~seen).sum()))
            chosen = [position[item] for item, _ in listed]
            assert not seen[chosen].any()
            expected = sorted(np.flatnonzero(~seen), key=lambda j: (-share[g, j], j))[:n]
            assert chosen == expected
            np.testing.assert_allclose([s for _, s in listed], share[g, chosen], rtol=1e-6)
        order = list(range(len(log)))
        shuffle.shuffle(order)
        people_order = list(range(12))
        shuffle.shuffle(people_order)
        again = segment_popularity(log.iloc[order], people.iloc[people_order], n=n)
        assert rows(again) == rows(out)


# ----------------------------------------------------------------------------- holdout_split


def timed_log() -> pd.DataFrame:
    """Two customers before and after 2024-03-01, with a repeat and a newcomer."""
    return pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 1, 1, 2, 3],
            "item_id": ["tea", "mug", "tea", "honey", "honey", "mug", "jam"],
            "datetime": pd.to_datetime(
                [
                    "2024-01-05",
                    "2024-02-01",
                    "2024-03-01",
                    "2024-03-02",
                    "2024-03-05",
                    "2024-03-03",
                    "2024-03-04",
                ],
                utc=True,
            ),
        }
    )


class TestHoldoutSplit:
    def test_worked_example(self) -> None:
        """Train is before `at`; holdout is known customers' new items from `at` on."""
        train, holdout = holdout_split(timed_log(), at="2024-03-01T00:00:00Z")
        assert train.index.tolist() == [0, 1]
        assert holdout.index.tolist() == [3, 4]  # repeat tea, newcomers 2 and 3 left out
        assert holdout["item_id"].tolist() == ["honey", "honey"]

    @pytest.mark.parametrize("backend", ["polars", "pyarrow"])
    def test_each_backend_returns_its_frame_type(self, backend: str) -> None:
        """Polars and pyarrow frames split into frames of their own kind."""
        frame = pl.from_pandas(timed_log())
        data = frame if backend == "polars" else frame.to_arrow()
        train, holdout = holdout_split(data, at="2024-03-01T00:00:00+00:00")
        for part in (train, holdout):
            assert nw.get_native_namespace(nw.from_native(part)).__name__ == backend
        assert len(train) == 2
        assert len(holdout) == 2

    def test_at_must_be_aware(self) -> None:
        """A naive `at` is refused."""
        with pytest.raises(ValidationError):
            holdout_split(timed_log(), at="2024-03-01 00:00")

    def test_timestamps_must_be_aware(self) -> None:
        """A naive timestamp column is refused."""
        log = timed_log().assign(datetime=lambda f: f["datetime"].dt.tz_localize(None))
        with pytest.raises(ValidationError, match="naive"):
            holdout_split(log, at="2024-03-01T00:00:00Z")

    def test_missing_column_is_a_schema_error(self) -> None:
        """A missing time column is a SchemaError."""
        with pytest.raises(SchemaError):
            holdout_split(timed_log(), at="2024-03-01T00:00:00Z", datetime_col="time")

    @settings(max_examples=50, deadline=None)
    @given(
        log=logs(),
        days=st.data(),
        cut=st.integers(0, 30),
    )
    def test_split_laws(self, log: pd.DataFrame, days: st.DataObject, cut: int) -> None:
        """Train is before the cut; holdout pairs are new and their customers known."""
        day = days.draw(st.lists(st.integers(0, 30), min_size=len(log), max_size=len(log)))
        log = log.assign(datetime=pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(day, "D"))
        at = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=cut)
        train, holdout = holdout_split(log, at=at.to_pydatetime())
        assert (train["datetime"] < at).all()
        assert (holdout["datetime"] >= at).all()
        assert len(train) == int((log["datetime"] < at).sum())
        before = set(zip(train["customer_id"], train["item_id"], strict=True))
        assert not before & set(zip(holdout["customer_id"], holdout["item_id"], strict=True))
        assert set(holdout["customer_id"]) <= set(train["customer_id"])
        pd.testing.assert_frame_equal(holdout, log.loc[holdout.index])


# ----------------------------------------------------------------------------- evaluate_recommender


class TestEvaluateRecommender:
    def test_worked_example(self) -> None:
        """Precision divides the hits by k; recall by the customer's holdout items."""
        recs = pd.DataFrame(
            {
                "customer_id": [1, 1, 1, 2, 2],
                "rank": [1, 2, 3, 1, 2],
                "item_id": ["tea", "mug", "jam", "tea", "jam"],
            }
        )
        holdout = pd.DataFrame(
            {"customer_id": [1, 1, 2, 2, 3], "item_id": ["jam", "mug", "honey", "honey", "tea"]}
        )
        got = evaluate_recommender(recs, holdout, k=2)
        # 1: mug hit in the top 2 (jam is rank 3); 2: no hit; 3: no recommendation at all.
        assert got == RecommenderScores(
            precision=pytest.approx((1 / 2) / 3),  # type: ignore[arg-type]
            recall=pytest.approx((1 / 2) / 3),  # type: ignore[arg-type]
            hit_rate=pytest.approx(1 / 3),  # type: ignore[arg-type]
            customers=3,
            k=2,
        )
        assert evaluate_recommender(recs, holdout, k=3).recall == pytest.approx((2 / 2) / 3)

    def test_perfect_recommendations_have_full_recall(self) -> None:
        """Recommending exactly the holdout items gives recall 1 and precision hits / k."""
        holdout = pd.DataFrame({"customer_id": [1, 1, 2], "item_id": [5, 6, 7]})
        recs = holdout.assign(rank=[1, 2, 1])
        got = evaluate_recommender(recs, holdout, k=2)
        assert (got.recall, got.hit_rate, got.precision) == (1.0, 1.0, pytest.approx(0.75))

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_any_backend_is_read(self, backend: str) -> None:
        """Frames of any kind are read (here the two frames of one kind)."""
        recs = {"customer_id": ["a", "b"], "rank": [1, 1], "item_id": ["x", "y"]}
        holdout = {"customer_id": ["a", "b"], "item_id": ["x", "z"]}
        got = evaluate_recommender(native(recs, backend), native(holdout, backend), k=1)
        assert (got.precision, got.recall, got.customers) == (0.5, 0.5, 2)

    def test_bad_input_is_refused(self) -> None:
        """A k < 1, an empty holdout, a missing rank column or mixed id types are errors."""
        recs = pd.DataFrame({"customer_id": [1], "rank": [1], "item_id": [2]})
        holdout = pd.DataFrame({"customer_id": [1], "item_id": [2]})
        with pytest.raises(ValidationError) as info:
            evaluate_recommender(recs, holdout, k=0)
        assert info.value.column == "k"
        with pytest.raises(ValidationError, match="no rows"):
            evaluate_recommender(recs, holdout.iloc[:0])
        with pytest.raises(SchemaError):
            evaluate_recommender(recs.drop(columns="rank"), holdout)
        with pytest.raises(ValidationError, match="strings"):
            evaluate_recommender(recs, holdout.astype({"item_id": str}))

    @settings(max_examples=50, deadline=None)
    @given(recs=logs(), holdout=logs(), k=st.integers(1, 12))
    def test_scores_lie_in_0_1_and_follow_k(
        self, recs: pd.DataFrame, holdout: pd.DataFrame, k: int
    ) -> None:
        """Precision, recall and hit rate lie in [0, 1]; recall never falls as k grows."""
        ranked = recs.assign(rank=recs.groupby("customer_id").cumcount() + 1)
        got = evaluate_recommender(ranked, holdout, k=k)
        more = evaluate_recommender(ranked, holdout, k=k + 1)
        for value in (got.precision, got.recall, got.hit_rate):
            assert 0 <= value <= 1
        assert more.recall >= got.recall
        assert got.customers == holdout["customer_id"].nunique()


class TestRecommenderScores:
    def test_is_a_frozen_record(self) -> None:
        """The scores are an immutable attrs record with a readable repr."""
        scores = RecommenderScores(precision=0.5, recall=0.25, hit_rate=1.0, customers=2, k=2)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            scores.k = 3  # type: ignore[misc]
        assert repr(scores) == (
            "RecommenderScores(precision=0.5, recall=0.25, hit_rate=1.0, customers=2, k=2)"
        )
