"""Score: did the answer match, and which markers fired. It reads only the answer and the parsed
trace, so regrade can score a stored run again without the run (its status is run/outcome.py's)."""

from __future__ import annotations

import re

from agent_eval.store.records import MarkerHit
from agent_eval.suite.config import Marker
from agent_eval.suite.task import Task

from .trace import Trace


def matches(task: Task, answer: str) -> bool | None:
    if task.expected is None:
        return None  # behaviour-only: not counted in match %
    if task.match == "exact":
        return answer.strip() == task.expected.strip()
    if task.match == "regex":
        return re.search(task.expected, answer, re.IGNORECASE | re.MULTILINE) is not None
    return task.expected.casefold() in answer.casefold()


def fired(markers: list[Marker], trace: Trace) -> list[MarkerHit]:
    corpus = {"command": trace.commands, "code": trace.code, "file_read": trace.files_read, "answer": [trace.answer]}
    hits = []
    for marker in markers:
        pattern = re.compile(marker.pattern, re.MULTILINE)
        for text in corpus[marker.where]:
            found = pattern.search(text)
            if found:
                hits.append(MarkerHit(name=marker.name, where=marker.where, excerpt=_excerpt(text, found)))
                break
    return hits


def _excerpt(text: str, found: re.Match) -> str:
    start = text.rfind("\n", 0, found.start()) + 1
    end = text.find("\n", found.end())
    line = text[start : end if end != -1 else len(text)].strip()
    return line if len(line) <= 200 else line[:197] + "…"
