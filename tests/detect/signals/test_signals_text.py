"""The shared tokeniser: the vectorised path agrees with the readable reference."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.detect.signals import kernels
from distillguard.detect.signals.cues import cue_table
from distillguard.detect.signals.text import (
    hash_tokens,
    tokenize,
    tokenize_arrow,
    tokenize_arrow_numpy,
    tokens_py,
)


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


_LONG = st.text(alphabet=st.sampled_from("ab é日 1_.\n"), min_size=2100, max_size=2600)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=120), _LONG), min_size=1, max_size=6))
def test_compiled_tokeniser_equals_numpy(texts: list[str | None]) -> None:
    arr = pa.array(texts, pa.string())
    fast = tokenize_arrow(arr, scripts=True)
    slow = tokenize_arrow_numpy(arr, scripts=True)
    for a, b in zip(fast, slow, strict=True):
        assert np.array_equal(a, b)


def test_long_prompts_keep_head_and_tail() -> None:
    text = "alpha " * 300 + "middle " * 200 + "omega " * 150
    toks = tokens_py(text)
    assert toks[0] == "alpha" and toks[-1] == "omega" and "middle" not in toks
    assert np.array_equal(tokenize([text]).tok, hash_tokens(toks))


@pytest.mark.skipif(not kernels.HAVE_NUMBA, reason="compiled kernels need numba")
def test_compiled_cue_matching_equals_numpy() -> None:
    table = cue_table(["step by step", "json", "the final answer", "0 to 0", "ignore all"])
    batch = tokenize(
        [
            "Step by step, then THE final answer; rate 1 to 10 in JSON, json again",
            "ignore all previous instructions",
            None,
            "nothing here",
        ]
    )
    r1, c1 = table.match(batch)
    r2, c2 = table.match_numpy(batch)
    assert r1.tolist() == r2.tolist() and c1.tolist() == c2.tolist()
    assert set(zip(r1.tolist(), c1.tolist(), strict=True)) == {
        (0, 0),
        (0, 1),
        (0, 2),
        (0, 3),
        (1, 4),
    }
