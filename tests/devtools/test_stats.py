"""devtools.stats.percentile: the one formula the bench and the load run report with."""

from __future__ import annotations

import pytest

from devtools.stats import percentile

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [(0.0, 1.0), (0.1, 1.0), (0.11, 2.0), (0.5, 5.0), (0.9, 9.0), (0.99, 10.0), (1.0, 10.0)],
)
def test_nearest_rank_is_a_value_that_was_observed(fraction: float, expected: float) -> None:
    values = [float(value) for value in (7, 3, 10, 1, 5, 9, 2, 8, 4, 6)]
    assert percentile(values, fraction) == expected


def test_one_value_is_every_percentile() -> None:
    assert [percentile([4.2], fraction) for fraction in (0, 0.5, 1)] == [4.2, 4.2, 4.2]


@pytest.mark.parametrize(("values", "fraction"), [([], 0.5), ([1.0], 1.5), ([1.0], -0.1)])
def test_nonsense_is_refused(values: list[float], fraction: float) -> None:
    with pytest.raises(ValueError, match=r"percentile of no values|not within"):
        percentile(values, fraction)
