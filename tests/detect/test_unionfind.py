"""DisjointSets against a brute-force transitive closure."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.detect.unionfind import DisjointSets


def _closure(items: list[int], pairs: list[tuple[int, int]]) -> set[frozenset[int]]:
    comp = {x: {x} for x in items}
    for a, b in pairs:
        if comp[a] is not comp[b]:
            merged = comp[a] | comp[b]
            for x in merged:
                comp[x] = merged
    return {frozenset(c) for c in comp.values()}


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=30).flatmap(
        lambda n: st.tuples(
            st.just(list(range(n))),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60),
        )
    )
)
def test_groups_are_the_transitive_closure(case: tuple[list[int], list[tuple[int, int]]]) -> None:
    items, pairs = case
    sets = DisjointSets(items)
    for a, b in pairs:
        sets.union(a, b)
    groups = sets.groups(items)
    assert {frozenset(g) for g in groups.values()} == _closure(items, pairs)
    for root, members in groups.items():
        assert sets.find(root) == root and all(sets.find(m) == root for m in members)
        assert members == sorted(members)  # in the order given


def test_union_keeps_the_second_root_and_link_the_chosen_one() -> None:
    sets: DisjointSets[str] = DisjointSets()
    assert sets.union("a", "b") == "b" and sets.find("a") == "b"
    assert "a" in sets and "z" not in sets
    sets.find("c")
    sets.link(sets.find("b"), "c")
    assert {sets.find(x) for x in "abc"} == {"c"}
