"""Orders: which tasks share a session, and in which orders they run.

The suite's tasks, as listed, are cut into groups of `sessions.tasks` (the last group may be
smaller). Each group runs in `sessions.orders` orders: rotations of one base order, the group
shuffled with the recorded seed. Rotations, not independent shuffles: within a group no task holds
the same position twice, and with as many orders as tasks every task holds every position exactly
once (a Latin square), so a position's cost is never one task's cost. The shuffle keeps the order
the suite lists its tasks in from deciding which task comes first. What rotations do not balance
is which task comes just before which (a Williams design would, for an even group size).
"""

from __future__ import annotations

import random

from .config import Sessions


def groups(task_ids: list[str], size: int) -> list[list[str]]:
    return [task_ids[start : start + size] for start in range(0, len(task_ids), size)]


def rotations(group: list[str], count: int, seed: int, index: int) -> list[list[str]]:
    """`count` orders of the group (at most one per task): evenly spaced rotations of its seeded shuffle."""
    base = list(group)
    random.Random(f"{seed}/{index}").shuffle(base)  # a str seed is hashed the same way by every Python
    count = min(count, len(base))
    offsets = [j * len(base) // count for j in range(count)]
    return [base[k:] + base[:k] for k in offsets]


def draw(task_ids: list[str], sessions: Sessions) -> list[list[list[str]]]:
    """For every group, its orders: each a list of task ids, the first runs first."""
    return [rotations(group, sessions.orders, sessions.seed, g) for g, group in enumerate(groups(task_ids, sessions.tasks))]
