"""Grades a transcript by its word error rate against our reference sentence (reference.txt here):
WER = (substituted + deleted + inserted words) / words of the reference, after both are lowercased
and stripped of punctuation. Passes when WER is at most the threshold (argument 2, default 0.25);
partial credit is 1 - WER, at least 0. Usage: wer.py TRANSCRIPT_FILE [THRESHOLD]. Standard library
only: it runs with the revision's Python."""

import json
import os
import re
import sys


def words(text: str) -> list[str]:
    """Lowercased words, punctuation dropped (an apostrophe inside a word kept: "don't")."""
    return re.findall(r"[a-z0-9]+(?:'[a-z0-9]+)*", text.lower())


def distance(reference: list[str], hypothesis: list[str]) -> int:
    """The fewest word substitutions, deletions and insertions that turn the reference into the hypothesis."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def wer(reference: str, hypothesis: str) -> float:
    ref = words(reference)
    if not ref:
        raise ValueError("the reference has no words")
    return distance(ref, words(hypothesis)) / len(ref)


def main(args: list[str]) -> int:
    path, threshold = args[0], float(args[1]) if len(args) > 1 else 0.25
    with open(os.path.join(os.environ.get("VERIFY_DIR", os.path.dirname(os.path.abspath(__file__))), "reference.txt")) as f:
        reference = f.read()
    found = os.path.isfile(path)
    hypothesis = open(path, errors="replace").read() if found else ""
    rate = wer(reference, hypothesis)
    passed = found and rate <= threshold
    print(f"WER {rate:.4f} against {len(words(reference))} reference words (passes at most {threshold:g})")
    checks = [{"name": f"{path} exists", "passed": found}, {"name": f"word error rate at most {threshold:g}", "passed": passed}]
    print(json.dumps({"score": round(max(0.0, 1.0 - rate), 4), "checks": checks, "wer": round(rate, 4)}))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
