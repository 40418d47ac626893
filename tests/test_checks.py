"""relmark._checks: scalar arguments checked the same way everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from relmark._checks import integer
from relmark.exceptions import ValidationError


class TestInteger:
    @pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(2)])
    def test_integers_pass_as_int(self, value: object) -> None:
        """Python and numpy integers come back as a plain int."""
        found = integer(value, "k", minimum=1)
        assert type(found) is int
        assert found == int(value)  # type: ignore[call-overload]

    @pytest.mark.parametrize("value", [True, 1.0, "3", None, np.float64(2.0)])
    def test_non_integers_refused(self, value: object) -> None:
        """Booleans, floats and text are refused, naming the argument."""
        with pytest.raises(ValidationError, match="k must be an integer") as caught:
            integer(value, "k", minimum=1)
        assert caught.value.column == "k"

    def test_below_minimum_refused(self) -> None:
        """A value below the minimum is refused with both numbers."""
        with pytest.raises(ValidationError, match="n must be at least 2, got 1"):
            integer(1, "n", minimum=2)
