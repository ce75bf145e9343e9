"""The package's folders are the pipeline's stages, and imports between them run one way (README: Layout)."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import CHECKOUT

PACKAGE = Path(CHECKOUT) / "agent_eval"
STAGES = ["suite", "store", "grade", "run", "read", "hub", "cli"]  # lowest floor first
FLOOR = {stage: n for n, stage in enumerate(STAGES)}
FROM_THE_TOP = {"__version__"}  # all a stage may take from agent_eval/__init__.py


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imports(name: str, path: Path, top_level_only: bool = False) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import in a module, resolved to absolute names."""
    package = name.rsplit(".", 1)[0] if path.name != "__init__.py" else name
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            found.append((module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
    return [(m, names) for m, names in found if m == "agent_eval" or m.startswith("agent_eval.")]


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FLOOR else None


def test_the_package_folders_are_the_stages():
    entries = {p.name for p in PACKAGE.iterdir() if p.name != "__pycache__"}
    assert entries == {"__init__.py", "__main__.py", *STAGES}
    for stage in STAGES:
        doc = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text()))
        assert doc and "may import" in doc.lower(), f"agent_eval/{stage}/__init__.py opens with what it does and what it may import"


def test_imports_between_stages_run_one_way():
    wrong = []
    for name, path in modules().items():
        here = stage_of(name)
        if here is None:
            continue  # agent_eval/__init__.py and __main__.py sit above every stage
        for module, names in imports(name, path):
            there = stage_of(module)
            if there is None:
                taken = set(names) - FROM_THE_TOP
                # `from agent_eval import run` names a subpackage: check it as that stage
                for sub in taken & set(STAGES):
                    if FLOOR[sub] > FLOOR[here]:
                        wrong.append(f"{name} imports agent_eval.{sub}")
                if taken - set(STAGES):
                    wrong.append(f"{name} takes {sorted(taken - set(STAGES))} from agent_eval/__init__.py")
            elif FLOOR[there] > FLOOR[here]:
                wrong.append(f"{name} ({here}) imports {module} ({there}), a floor above it")
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_itself_back():
    known = modules()
    # `from . import index` imports the module agent_eval.store.index, not only the package
    graph = {name: {m for module, names in imports(name, path) for m in (module, *(f"{module}.{n}" for n in names))}
             for name, path in known.items()}
    graph = {name: {m for m in targets if m in known and m != name} for name, targets in graph.items()}

    def circle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return trail + [start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, trail + [nxt]))
        return None

    circles = [c for c in map(circle_from, graph) if c]
    assert not circles, "\n".join(" -> ".join(c) for c in circles)


def test_the_check_itself_sees_an_upward_import(tmp_path):
    # A module of store/ that imports run/ must be caught: the rule above is not vacuous.
    fake = tmp_path / "agent_eval" / "store" / "bad.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from agent_eval.run import worker\nfrom ..read.compare import compare\n")
    found = imports("agent_eval.store.bad", fake)
    assert [stage_of(m) for m, _ in found] == ["run", "read"]
    assert all(FLOOR[stage_of(m)] > FLOOR["store"] for m, _ in found)
