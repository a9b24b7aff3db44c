from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distillguard.detect.expr import ExprError, evaluate, names, parse


def ev(text: str, **features: object) -> object:
    return evaluate(parse(text), features)


def test_precedence_and_arithmetic() -> None:
    assert ev("a + b * 2 >= 7", a=1, b=3) is True
    assert ev("(a + b) * 2 == 8", a=1, b=3) is True
    assert ev("not a > 1 or b < 0", a=0, b=5) is True
    assert ev("a > 1 and b > 1 or c == 'x'", a=0, b=0, c="x") is True


def test_missing_feature_never_fires() -> None:
    assert ev("x > 0.5", y=1) is False
    assert ev("not x > 0.5") is True  # the negation of "cannot tell" is allowed to fire
    assert ev("x + 1 > 0") is False
    assert ev("coalesce(x, 0) + 1 > 0") is True
    assert ev("present(x)", x=None) is False


def test_in_functions_and_division_by_zero() -> None:
    assert ev("tier in ['free', 'tier1']", tier="free") is True
    assert ev("max(a, b) >= 3 and min(a, b) == 1 and abs(c) == 2", a=1, b=3, c=-2) is True
    assert ev("a / b > 1", a=1, b=0) is False


@pytest.mark.parametrize(
    ("text", "column"),
    [("a >", 4), ("a > 1 and", 10), ("a ! b", 3), ("foo(a)", 1), ("(a > 1", 7), ("", 1)],
)
def test_errors_name_the_column(text: str, column: int) -> None:
    with pytest.raises(ExprError) as exc:
        parse(text)
    assert exc.value.column == column


def test_names() -> None:
    assert names(parse("a > 1 and max(b, c) < coalesce(d, 2)")) == {"a", "b", "c", "d"}


@given(st.floats(-1e6, 1e6, allow_nan=False), st.floats(-1e6, 1e6, allow_nan=False))
def test_comparison_agrees_with_python(a: float, b: float) -> None:
    assert ev("a < b", a=a, b=b) is (a < b)
    assert ev("a >= b", a=a, b=b) is (a >= b)
