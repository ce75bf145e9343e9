"""Activation: did the agent read a Skill's SKILL.md, and at which turn — whatever tool it used.

pi lists a Skill (its name, description and path) in the system prompt; the agent *activates* it by
reading its SKILL.md. That read can be pi's `read` tool, a shell reader (cat, head, sed -n, less…),
a search through it (grep, awk) or Python opening it (`open(".../SKILL.md")`, `Path(...).read_text()`),
at any turn; a call that failed (no such file) read nothing. The Agent Skills guide counts a query
as triggering when the agent read the file, so that is the whole rule: a mention in a `find` or
`ls` is not a read.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from .trace import Call, Trace, files_in_command

NAME = "SKILL.md"
SEARCHERS = re.compile(r"(?:^|[\s|;&(])(?:grep|egrep|rg|awk|wc|diff|strings)\b[^|;&\n]*SKILL\.md\b")
PYTHON_OPEN = re.compile(r"""(?:open\(|read_text\(|read_bytes\(|Path\()[^)\n]*SKILL\.md\b""")


def first_read(trace: Trace) -> int | None:
    """The turn of the first call that read a SKILL.md; None: it never did."""
    return next((call.turn for call in trace.calls if not call.error and reads_skill(call)), None)


def reads_skill(call: Call) -> bool:
    if call.tool == "read":
        return PurePosixPath(str(call.args.get("path", ""))).name == NAME
    if call.tool != "bash":
        return False
    command = str(call.args.get("command", ""))
    if NAME not in command:
        return False
    named = any(PurePosixPath(path).name == NAME for path in files_in_command(command))
    return named or bool(SEARCHERS.search(command) or PYTHON_OPEN.search(command))
