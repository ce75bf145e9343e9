"""The transformers Skill is generated, not stored: from the CLI + Skill commit on, the revision
ships src/transformers/cli/agentic/ (the commands, one module per modality) and _skill_derive.py.
The study's harness imported the installed library to derive the Skill; this renders one (our own
text) from the sources alone, so it needs neither torch nor the revision's environment: the
commands are the public functions of the agentic modules, each with its docstring's first line."""

from __future__ import annotations

import ast
from pathlib import Path

HEADER = """---
name: transformers
description: Run Hugging Face transformers models from the shell with the `transformers` command (classify, ner, qa, fill-mask, summarize, transcribe, caption, detect, vqa, tokenize, generate…). Use for any one-off inference task that names a model.
---
# transformers CLI

For one inference task, run one `transformers` command in bash rather than writing Python. Every
input is a named flag (`--text`, `--image`, `--audio`, `--question`, `--context`, `--labels`,
`--model`); `transformers COMMAND --help` lists a command's flags. Add `--format json` before the
command for machine-readable output. `transformers` is a shell command, not a tool you can call.

When no single command fits (chaining models, custom post-processing), write Python: the command
sources in src/transformers/cli/agentic/ show how each task loads its model with the Auto classes.

## Commands at this revision
"""


def build_skill(source: Path, dest: Path) -> None:
    """`source` is _skill_derive.py in the revision's tree; the commands are its siblings."""
    lines = [HEADER]
    for module in sorted(source.parent.glob("*.py")):
        if module.name.startswith("_") or module.name == "app.py":
            continue
        for node in ast.parse(module.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                doc = (ast.get_docstring(node) or "").strip().splitlines()
                lines.append(f"- `transformers {node.name.replace('_', '-')}` — {doc[0] if doc else '(no description)'}")
    dest.mkdir(parents=True)
    (dest / "SKILL.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
