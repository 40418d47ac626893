"""relmark.exceptions: the one error tree."""

from __future__ import annotations

import pickle

import pytest

from relmark import exceptions as ex


class TestTree:
    @pytest.mark.parametrize(
        ("child", "parent"),
        [
            (ex.ValidationError, ex.RelmarkError),
            (ex.ValidationError, ValueError),
            (ex.SchemaError, ex.ValidationError),
            (ex.RuleSyntaxError, ex.ValidationError),
            (ex.ConvergenceError, ex.ModelError),
            (ex.NotFittedError, ex.ModelError),
            (ex.ConsentError, ex.RelmarkError),
            (ex.PolicyError, ex.RelmarkError),
            (ex.RelmarkWarning, UserWarning),
        ],
    )
    def test_subclassing(self, child: type, parent: type) -> None:
        """Each error sits where DESIGN.md puts it."""
        assert issubclass(child, parent)


class TestValidationError:
    def test_message_names_where_and_how(self) -> None:
        """The message carries column, row and hint."""
        err = ex.SchemaError("no column 'x'", column="x", row=2, hint="rename it")
        assert str(err) == "no column 'x' (column 'x', row 2)\nHint: rename it"

    def test_pickles(self) -> None:
        """Errors survive pickling (multiprocessing) with their fields."""
        err = ex.SchemaError("bad", column="c", row=1, value=3, hint="fix")
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is ex.SchemaError
        assert (back.column, back.row, back.value, back.hint) == ("c", 1, 3, "fix")
        assert str(back) == str(err)

    def test_rule_syntax_error_position(self) -> None:
        """A rule syntax error says line and column."""
        err = ex.RuleSyntaxError("unexpected ')'", line=1, col=7)
        assert (err.line, err.col) == (1, 7)
        assert "line 1, column 7" in str(err)
