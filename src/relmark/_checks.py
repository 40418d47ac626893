"""Checks of scalar arguments shared across relmark (private).

Each returns the value in its plain Python type or raises `ValidationError`
naming the argument.
"""

from __future__ import annotations

import operator

from relmark.exceptions import ValidationError

__all__ = ["integer"]


def integer(value: object, name: str, *, minimum: int) -> int:
    """An integer argument (numpy integers too, never a bool) of at least `minimum`.

    Examples:
        >>> integer(3, "k", minimum=1)
        3
        >>> integer(0, "k", minimum=1)
        Traceback (most recent call last):
        ...
        relmark.exceptions.ValidationError: k must be at least 1, got 0 (column 'k')
    """
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValidationError(
            f"{name} must be an integer, got {type(value).__name__}", column=name, value=value
        ) from None
    if number < minimum:
        raise ValidationError(
            f"{name} must be at least {minimum}, got {number}", column=name, value=value
        )
    return number
