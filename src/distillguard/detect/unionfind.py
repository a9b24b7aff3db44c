"""Disjoint sets (union-find) over hashable items, shared by the campaign-membership steps.

Communities merged after Leiden (:mod:`~distillguard.detect.linking`), families grouped
through shared users (:mod:`~distillguard.detect.families`) and members grouped through
shared networks (:mod:`~distillguard.detect.membership`) all need the transitive closure of
a few thousand pairs (identity ties, millions at scale, go through a sparse matrix in
:mod:`~distillguard.detect.operators`); this is that, with path halving. Which root a union
keeps is the caller's choice (:meth:`DisjointSets.link`), so each step keeps its
deterministic group ids.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)


class DisjointSets(Generic[T]):
    """A forest of items; :meth:`find` adds an item it has not seen as its own set.

    Args:
        items: items to start with, each its own set.
    """

    def __init__(self, items: Iterable[T] = ()) -> None:
        self._parent: dict[T, T] = {x: x for x in items}

    def __contains__(self, item: object) -> bool:
        return item in self._parent

    def find(self, item: T) -> T:
        """The root of ``item``'s set (``item`` itself when it was unknown, now added)."""
        parent = self._parent
        parent.setdefault(item, item)
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def link(self, child_root: T, root: T) -> None:
        """Hang the set rooted at ``child_root`` under ``root`` (both must be roots)."""
        self._parent[child_root] = root

    def union(self, a: T, b: T) -> T:
        """Merge the sets of ``a`` and ``b``; ``b``'s root stays the root. Returns it."""
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self._parent[ra] = rb
        return rb

    def groups(self, items: Iterable[T]) -> dict[T, list[T]]:
        """``items`` by their root, each list in the order given."""
        out: dict[T, list[T]] = {}
        for x in items:
            out.setdefault(self.find(x), []).append(x)
        return out
