"""Array versions of a few Python idioms the readers run over every run or cell, each giving exactly
what the idiom gives (the report's output must not change by a byte), without a Python call per item:
codes numbered in the order they first appear (what a dict's insertion order gives), ranks that sort
as the values do, and round(v, 2) of a column of floats."""

from __future__ import annotations

import numpy as np


def firsts(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The codes (below n) that `codes` holds in the order it first has them, and where it first does."""
    first = np.full(n, len(codes))
    np.minimum.at(first, codes, np.arange(len(codes)))
    held = np.flatnonzero(first < len(codes))
    order = held[np.argsort(first[held], kind="stable")]
    return order, first[order]


def first_had(codes: np.ndarray, n: int) -> np.ndarray:
    """The codes (below n) that `codes` holds, in the order it first has them: list(dict.fromkeys(codes))."""
    return firsts(codes, n)[0]


def numbered(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codes numbered 0, 1, … in the order they first appear, and where each first appears."""
    n = int(codes.max(initial=-1)) + 1
    order, first = firsts(codes, n)
    number = np.empty(n, dtype=np.intp)
    number[order] = np.arange(len(order))
    return number[codes], first


def sort_ranks(values: list) -> np.ndarray:
    """Each value's place among the values sorted (None, which only a whole column holds, last)."""
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[sorted(range(len(values)), key=lambda k: (values[k] is None, values[k] or ""))] = np.arange(len(values))
    return ranks


def hundredths(values: np.ndarray) -> list[float]:
    """[round(v, 2) for v in values.tolist()], bit for bit. round() takes the exact v * 100 to the
    nearest integer (half to even), then the nearest float to that / 100, which is what dividing the
    integer by 100.0 gives. v * 100 in floats differs from the exact product by at most its spacing,
    so its rint() is that same integer unless it lies within two spacings of a half: those few (and
    any too big to scale) go through round() itself. 100k calls of round() took 30 ms."""
    if np.isnan(values).any():  # an unknown value: round() of the None it stands for fails, and so does this
        raise TypeError("round() of an unknown value (NaN)")
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = values * 100.0
        whole = np.rint(scaled)
        sure = 0.5 - np.abs(scaled - whole) > 2 * np.spacing(np.abs(scaled))
    out = (whole / 100.0).tolist()
    for k in np.flatnonzero(~sure).tolist():
        out[k] = round(float(values[k]), 2)
    return out
