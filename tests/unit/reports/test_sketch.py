"""The log-bucket sketch: any quantile within its documented relative error, merging is adding."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.reports.sketch import RELATIVE_ACCURACY, bucket_of, exact_quantile, merge, quantile

values = st.lists(st.floats(min_value=0.01, max_value=1e7, allow_nan=False), min_size=1, max_size=300)
quantiles = st.sampled_from([0.0, 0.1, 0.5, 0.9, 0.99, 1.0])


def sketch_of(numbers: list[float]) -> dict[str, int]:
    return dict(Counter(bucket_of(n) for n in numbers))


@given(values, quantiles)
def test_a_quantile_is_within_the_relative_accuracy(numbers: list[float], q: float) -> None:
    estimate, exact = quantile(sketch_of(numbers), q), exact_quantile(numbers, q)
    assert estimate is not None and exact is not None
    assert abs(estimate - exact) <= RELATIVE_ACCURACY * exact * (1 + 1e-9)


@given(values, values, quantiles)
def test_merged_sketches_answer_for_all_their_values(left: list[float], right: list[float], q: float) -> None:
    merged = merge([sketch_of(left), sketch_of(right)])
    assert merged == sketch_of(left + right)
    estimate, exact = quantile(merged, q), exact_quantile(left + right, q)
    assert estimate is not None and exact is not None
    assert abs(estimate - exact) <= RELATIVE_ACCURACY * exact * (1 + 1e-9)


def test_zero_and_empty() -> None:
    assert quantile({}, 0.5) is None
    assert quantile(sketch_of([0.0, 0.0, 5.0]), 0.5) == 0.0
    assert bucket_of(-3) == bucket_of(0) == bucket_of(float("nan")) == "z"
