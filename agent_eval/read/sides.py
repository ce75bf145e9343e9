"""The two sides of a comparison by what they are: a revision is its SHA, and every name it was
stored under (a display name and a ref, from any number of suites) finds it; a model is its id
(or any of its names), a tier its name, an agent version "pi 1.6.0" or "1.6.0"."""

from __future__ import annotations

from collections import defaultdict

SIDES = {"revision": ("sha", "revision", "ref"), "model": ("model", "model_name", "model"), "tier": ("tier", "tier", "tier"),
         "agent": ("agent_version", "agent", "agent_version")}  # the columns of an axis value's key, name, other name

Aliases = dict[str, set[str]]  # one axis: each key -> every name it is stored under


class CompareError(Exception):
    """Bad input: one line for the user."""


def side_name(axis: str, key: str, name: str, other: str) -> tuple[str, str]:
    """(display name, other name) of an axis value: an agent is "pi 1.6.0"."""
    return (f"{name} {key}", other) if axis == "agent" else (name, other)


def aliases(axis: str, triples) -> Aliases:
    """Every name of each key, from (key, name, other name) triples as the rows hold them."""
    out: Aliases = defaultdict(set)
    for key, name, other in triples:
        out[key].update(side_name(axis, key, name, other))
    return dict(out)


def resolve(known: Aliases, axis: str, ref: str) -> str:
    """The key (SHA, model id, tier, agent version) that `ref` — any name it is stored under, its
    key, or for a revision a SHA prefix of 4 or more — names among `known`."""
    found = {key for key, names in known.items() if ref == key or ref in names or (axis == "revision" and len(ref) >= 4 and key.startswith(ref))}
    if not found:
        listed = sorted(set().union(*known.values())) if known else []
        raise CompareError(f"no {axis} {ref!r} in the store; it has: {', '.join(listed[:12])}" + (" …" if len(listed) > 12 else ""))
    if len(found) > 1:
        each = "; ".join(f"{key[:12] if axis == 'revision' else key} (give {working(known, axis, key)!r})" for key in sorted(found))
        raise CompareError(f"{axis} {ref!r} is ambiguous: it names {len(found)}: {each}")
    return found.pop()


def working(known: Aliases, axis: str, key: str) -> str:
    """A name that finds `key` alone: one of its names no other key has, else its SHA prefix."""
    unique = sorted(n for n in known[key] if not any(n == k or n in names for k, names in known.items() if k != key))
    return unique[0] if unique else key[:12] if axis == "revision" else key
