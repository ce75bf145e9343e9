"""Reads: the files an agent opened and the help it asked for, each named by where it belongs, so
that runs line up across tiers and revisions (the `reads` command, compare's context, the report's
"Where agents look").

A file counts as read when a call that showed it succeeded: pi's read tool, a reader command (`cat`,
`head`, `sed -n` …, trace.READERS), or `open(...)`/`Path(...).read_text()` in Python the agent ran
(inline, or a file it wrote and then ran). A failed call (no such file) showed nothing. Help is a
command with `--help`/`-h`, `man`, `pydoc`/`python -m pydoc`, or `help(...)` in Python it ran, kept
as a pseudo-path: `wfl top --help` is `help: wfl top`.

Paths are normalised: the library's checkout in the working dir (`library: docs/cli.md`), the installed
package by its path inside site-packages with any dist-info's version dropped (`installed:
minilib/cli.py`: every revision's environment lines up), the Skill folder (`skill: SKILL.md`), the
task's input files (`inputs: notes.txt`), and anything else (`other:`, relative to the working dir
when inside it). The cell's scratch folder is recognised sandboxed (/cell) or not (agent-eval-*).
"""

from __future__ import annotations

import posixpath
import re
import shlex

from agent_eval.store.records import Read, Step

from .trace import INLINE_CODE, READERS, Call, Trace

SCRATCH = re.compile(r"^(?:/cell|/.*?/agent-eval-[0-9a-f]{8}-[a-z0-9_]+)(?=/|$)")
DIST_INFO = re.compile(r"^([A-Za-z0-9_.]+?)-\d[^/]*?\.(dist-info|egg-info)(?=/|$)")
OPENED = re.compile(r"""\bopen\(\s*[rbuf]*(['"])(.+?)\1|\bPath\(\s*[rbuf]*(['"])(.+?)\3\s*\)\s*\.\s*(?:read_text|read_bytes|open)\(""")
HELP_CALL = re.compile(r"\bhelp\(\s*([^()\s][^()]*?)\s*\)")
RUNS_FILE = re.compile(r"(?:^|\s)python[\d.]*\s+(?:-\S+\s+)*([^\s-][^\s;|&]*\.py)\b")
PYTHON = re.compile(r"python[\d.]*$")
SHORT_H_IS_NOT_HELP = {"ls", "du", "df", "free", "sort", "grep", "rg", "uniq", "cut", "ps", "head", "tail", "nl"}  # -h: human-readable, no file names…


class Places:
    """Where a path belongs, for one run: its working dir, the task's inputs and the profile's name
    (the clone tier checks the library out in `<workdir>/<profile>`)."""

    def __init__(self, cwd: str, inputs: list[str], profile: str):
        self.cwd = cwd or "/cell/work"
        self.inputs, self.profile = set(inputs), profile
        self.home = posixpath.join(posixpath.dirname(self.cwd), "home")

    def absolute(self, path: str, cwd: str | None = None) -> str:
        if path == "~" or path.startswith("~/"):
            path = self.home + path[1:]
        return posixpath.normpath(posixpath.join(cwd or self.cwd, path))

    def place(self, path: str, cwd: str | None = None) -> tuple[str, str]:
        full = self.absolute(path, cwd)
        if "/site-packages/" in full:
            return "installed", DIST_INFO.sub(r"\1.\2", full.rsplit("/site-packages/", 1)[1])
        canonical = SCRATCH.sub("<cell>", full)
        work = SCRATCH.sub("<cell>", self.cwd).rstrip("/") + "/"
        if canonical.startswith(work):
            inside = canonical[len(work):]
            if inside.startswith(self.profile + "/"):
                return "library", inside[len(self.profile) + 1:]
            if inside in self.inputs or any(inside.startswith(name.rstrip("/") + "/") for name in self.inputs):
                return "inputs", inside
            return "other", inside
        if canonical.startswith("<cell>/skills/") and canonical.count("/") >= 3:
            return "skill", canonical.split("/", 3)[3]
        return "other", canonical


def reads(trace: Trace, inputs: list[str], profile: str) -> list[Read]:
    """What one run read, each file or help page once: its first turn, lines shown (summed where
    known) and how many times."""
    places = Places(trace.cwd, inputs, profile)
    written: dict[str, str] = {}  # what the agent wrote, by absolute path: the code a later `python x.py` runs
    seen: dict[tuple[str, str], Read] = {}
    for call in trace.calls:
        if call.tool == "write":
            written[places.absolute(str(call.args.get("path", "")))] = str(call.args.get("content", ""))
            continue
        if call.error:
            continue
        for where, path, lines in in_call(call, places, written):
            known = seen.get((where, path))
            if known is None:
                seen[where, path] = Read(where=where, path=path, turn=call.turn or None, lines=lines)
            else:
                known.times += 1
                known.lines = lines if known.lines is None else known.lines + (lines or 0)
    return list(seen.values())  # in the order first read


def from_steps(steps: list[Step], inputs: list[str], profile: str) -> list[Read]:
    """Reads of a run whose trace is gone, from its stored steps: no turns, no lines, inputs cut at 300 characters."""
    calls = [Call(tool=s.tool, args={"path": s.input, "command": s.input}, turn=0, error=s.error) for s in steps if s.tool != "write"]
    return reads(Trace(calls=calls), inputs, profile)


def in_call(call: Call, places: Places, written: dict[str, str]) -> list[tuple[str, str, int | None]]:
    if call.tool == "read":
        return [(*places.place(str(call.args.get("path", ""))), _lines(call.output))]
    if call.tool != "bash":
        return []
    found = in_command(str(call.args.get("command", "")), places, written)
    if len(found) == 1 and call.output:  # one thing shown by the whole command: its output is what was read
        return [(*found[0][:2], _lines(call.output))]
    return found


def in_command(command: str, places: Places, written: dict[str, str]) -> list[tuple[str, str, int | None]]:
    found, cwd = [], places.cwd
    for segment in re.split(r"\|\||&&|[|;\n]", _without_heredocs(command)):
        words = _words(segment)
        if not words:
            continue
        program = posixpath.basename(words[0])
        if program == "cd" and len(words) > 1:
            cwd = places.absolute(words[1], cwd)
        elif program in READERS and not (program == "sed" and any(w.startswith("-i") or w == "--in-place" for w in words)):  # sed -i edits
            found += [(*places.place(path, cwd), None) for path in _reader_files(program, words[1:])]
        elif topic := _help(program, words):
            found.append(("help", topic, None))
        if (ran := RUNS_FILE.search(segment)) and (source := written.get(places.absolute(ran.group(1), cwd))):
            found += in_code(source, places, cwd)
    return found + (in_code(command, places, cwd) if INLINE_CODE.search(command) else [])


def in_code(source: str, places: Places, cwd: str) -> list[tuple[str, str, int | None]]:
    """open(...) and help(...) in Python the agent ran."""
    found = [(*places.place(m.group(2) or m.group(4), cwd), None) for m in OPENED.finditer(source)]
    return found + [("help", f"help({m.group(1)})", None) for m in HELP_CALL.finditer(source)]


def _help(program: str, words: list[str]) -> str | None:
    if PYTHON.match(program):
        program, words = "python", ["python", *words[1:]]
    if program in ("pydoc", "pydoc3") or words[1:3] == ["-m", "pydoc"]:
        rest = words[3:] if program == "python" else words[1:]
        return " ".join(["pydoc", *[w for w in rest if not w.startswith("-")]])
    if program == "man" and len(words) > 1:
        return " ".join(["man", *words[1:]])
    for k, word in enumerate(words):
        if word in ("--help", "-help") or (word == "-h" and program not in SHORT_H_IS_NOT_HELP):
            topic = [program] + [w for w in words[1:k] if not w.startswith("-") or (program == "python" and w == "-m")]
            return " ".join(topic)
    return None


def _reader_files(reader: str, args: list[str]) -> list[str]:
    files, skip = [], False
    for word in args:
        if skip:
            skip = False
        elif (reader in ("head", "tail") and word in ("-n", "-c")) or word in (">", ">>", "2>", "&>", "<<", "<<-"):
            skip = True  # the option's value, or where output goes: not a file read
        elif not word.startswith(("-", ">", "2>", "&>", "<<")) and word != "<":
            files.append(word.removeprefix("<"))
    files = [f for f in files if f and f != "/dev/null"]
    return files[1:] if reader == "sed" else files  # sed's first argument is its script


HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1[^\n]*\n(?:.*?\n)??[ \t]*\2[ \t]*(?=\n|$)", re.S)


def _without_heredocs(command: str) -> str:
    """A here-document's body is data (a file being written, code fed to python), not commands."""
    return HEREDOC.sub(lambda m: m.group(0).split("\n", 1)[0], command)


def _words(segment: str) -> list[str]:
    try:
        return shlex.split(segment)
    except ValueError:
        return segment.split()


def _lines(text: str) -> int | None:
    return text.count("\n") + (not text.endswith("\n")) if text else None
