"""The shared tokeniser: the vectorised path agrees with the readable reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.detect.signals.text import hash_tokens, tokenize, tokens_py


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=80), min_size=1, max_size=6))
def test_vectorised_tokens_equal_reference(texts: list[str]) -> None:
    batch = tokenize(texts)
    for i, text in enumerate(texts):
        assert np.array_equal(batch.tok[batch.parent == i], hash_tokens(tokens_py(text)))


def test_numbers_and_case_are_normalised() -> None:
    a, b = tokenize(["Rate it 1 to 10!", "rate IT 7 to 99"]).tok.reshape(2, -1)
    assert np.array_equal(a, b)


def test_wide_characters_are_tokens_of_their_own() -> None:
    assert tokens_py("日本語 text") == ["日", "本", "語", "text"]


def test_none_prompt_has_no_text_and_no_tokens() -> None:
    batch = tokenize([None, "hello world"], [None, None], [None, 3])
    assert batch.has_text.tolist() == [False, True]
    assert set(batch.parent.tolist()) == {1}
    assert batch.tool_count.tolist() == [0, 3]
