"""The recorded requests nearest to one that replay did not find: what a miss report names."""
from __future__ import annotations

import difflib
from typing import Any, Sequence

from .._core.daemon import split_version
from .keys import Key, describe_key

__all__ = ["nearest"]


def _jaccard(a: set[Any], b: set[Any]) -> float:
    return 1.0 if not a and not b else len(a & b) / len(a | b)


def _query_similarity(a: tuple[Any, ...], b: tuple[Any, ...]) -> float:
    """0..1: same filter keys count most, then same filter values, then the other parameters."""
    da, db = dict(a), dict(b)
    fa, fb = dict(da.pop("filters", ()) or ()), dict(db.pop("filters", ()) or ())
    keys = _jaccard(set(fa), set(fb))
    pairs = _jaccard({(k, v) for k, vs in fa.items() for v in vs}, {(k, v) for k, vs in fb.items() for v in vs})
    rest = _jaccard(set(da.items()), set(db.items()))
    return (3 * keys + 2 * pairs + rest) / 6


def nearest(keys: Sequence[Key], wanted: Key, limit: int = 3) -> list[Key]:
    """The recorded keys closest to ``wanted``: same method and route first, then the most alike query."""
    w_method, w_path, w_query, _ = wanted
    w_route = split_version(w_path)[1]
    w_text = describe_key(wanted)

    def score(key: Key) -> float:
        method, path, query, _ = key
        s = 2.0 * _query_similarity(w_query, query)
        s += 0.2 * difflib.SequenceMatcher(None, w_text, describe_key(key)).ratio()
        if method == w_method:
            s += 1.0
        if split_version(path)[1] == w_route:
            s += 1.0
        if path == w_path:
            s += 0.5
        return s

    return sorted(keys, key=score, reverse=True)[:limit]
