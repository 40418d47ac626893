"""Every error and warning relmark raises, in one tree.

```text
RelmarkError                      anything relmark raises on purpose
├── ValidationError (ValueError)  bad input: names the column, row and value, suggests the fix
│   ├── SchemaError               a missing or mistyped column ("did you mean ...")
│   └── RuleSyntaxError           a rule that does not parse, with line and column
├── ModelError                    a model cannot do what was asked
│   ├── ConvergenceError          a fit did not converge
│   └── NotFittedError            a fitted attribute was read before fit()
├── ConsentError                  the consent ledger is inconsistent or tampered with
└── PolicyError                   a contact policy is contradictory or incomplete

RelmarkWarning (UserWarning)      something worth knowing that is not an error
```

Catch `RelmarkError` to handle anything relmark raises on purpose;
`ValidationError` is also a `ValueError`, so code that already catches
`ValueError` around input handling keeps working.

Examples:
    >>> from relmark.exceptions import SchemaError, ValidationError
    >>> issubclass(SchemaError, ValueError)
    True
    >>> err = ValidationError("amount is NaN", column="amount", row=3, hint="drop or fill it")
    >>> print(err)
    amount is NaN (column 'amount', row 3)
    Hint: drop or fill it
"""

from __future__ import annotations

__all__ = [
    "ConsentError",
    "ConvergenceError",
    "ModelError",
    "NotFittedError",
    "PolicyError",
    "RelmarkError",
    "RelmarkWarning",
    "RuleSyntaxError",
    "SchemaError",
    "ValidationError",
]


class RelmarkError(Exception):
    """Base class of every exception relmark raises on purpose."""


class ValidationError(RelmarkError, ValueError):
    """Raised when input is not what relmark can work with.

    The message says what is wrong; `column`, `row` and `value` say where,
    when they are known, and `hint` says how to fix it. It is raised before
    any work is done, and the caller's data is left as it was.

    Attributes:
        message: What is wrong, in one sentence.
        column: The offending column or argument, if any.
        row: The position (0-based) of the first offending row, if any.
        value: The offending value, if any.
        hint: How to fix it, if known.
    """

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        row: int | None = None,
        value: object = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.column = column
        self.row = row
        self.value = value
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.column is not None:
            where.append(f"column {self.column!r}")
        if self.row is not None:
            where.append(f"row {self.row}")
        text = self.message
        if where:
            text += f" ({', '.join(where)})"
        if self.hint:
            text += f"\nHint: {self.hint}"
        return text

    def __reduce__(self) -> tuple[object, ...]:
        # Keep keyword-only state through pickling (multiprocessing, joblib).
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[ValidationError], message: str, state: dict[str, object]) -> ValidationError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    err.args = (err._render(),)
    return err


class SchemaError(ValidationError):
    """Raised when a column is missing, misspelt or of the wrong type."""


class RuleSyntaxError(ValidationError):
    """Raised when a rule expression does not parse, or does not type-check against a schema.

    Given the rule's text, the message shows the line with a caret under
    the problem.

    Attributes:
        line: 1-based line of the error in the rule text.
        col: 1-based column of the error in the rule text.
    """

    def __init__(
        self, message: str, *, line: int, col: int, hint: str | None = None, text: str | None = None
    ) -> None:
        self.line = line
        self.col = col
        where = f"{message} at line {line}, column {col}"
        lines = text.splitlines() if text is not None else []
        if 0 < line <= len(lines):
            shown = lines[line - 1]
            start = max(0, col - 60)  # a long line is shown around the column
            where += f"\n  {shown[start : start + 100]}\n  {' ' * (col - 1 - start)}^"
        super().__init__(where, hint=hint)


class ModelError(RelmarkError):
    """Raised when a model cannot do what was asked of it."""


class ConvergenceError(ModelError):
    """Raised when a model fit does not converge; no parameters are set."""


class NotFittedError(ModelError, AttributeError):
    """Raised when a fitted attribute or prediction is asked for before `fit`."""


class ConsentError(RelmarkError):
    """Raised when a consent ledger is inconsistent, out of order or tampered with."""


class PolicyError(RelmarkError):
    """Raised when a contact policy is contradictory or cannot be evaluated."""


class RelmarkWarning(UserWarning):
    """Base class of relmark's warnings; a warning never stands in for an error."""
