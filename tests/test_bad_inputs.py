"""The bad-input corpus (tests/bad_inputs/*.yaml): every malformed input gives one line naming the
file, the field and the fix, exit 2, no traceback — and leaves the store byte-for-byte as it was."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agent_eval.cli.main import app
from conftest import MODEL_KEY, Project

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = sorted(p.stem for p in CORPUS.glob("*.yaml"))


def merge(base: dict, change: dict) -> dict:
    out = dict(base)
    for key, value in change.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def build(project: Project, case: dict) -> Path:
    for relative, change in (("suite.yaml", case.get("suite")), ("profiles/minilib/profile.yaml", case.get("profile")),
                             ("tasks/minilib/checksum.yaml", case.get("task"))):
        if change:
            path = project.root / relative
            path.write_text(yaml.safe_dump(merge(yaml.safe_load(path.read_text()), change), sort_keys=False))
    for relative in case.get("mkdir", []):
        (project.root / relative).mkdir(parents=True)
    for relative, text in case.get("raw", {}).items():
        (project.root / relative).write_text(text)
    for relative, data in case.get("binary", {}).items():
        (project.root / relative).write_bytes(base64.b64decode(data))
    for relative, target in case.get("symlinks", {}).items():
        (project.root / relative).symlink_to(target)
    for relative in case.get("fifos", []):
        os.mkfifo(project.root / relative)
    for relative, size in case.get("sparse", {}).items():  # huge but costs no disk: only stat() may look at it
        with open(project.root / relative, "wb") as f:
            f.truncate(size)
    if case.get("store") == "file":
        project.store.rmdir() if project.store.is_dir() and not any(project.store.iterdir()) else None
        return project.root / "suite.yaml"
    return project.root / case.get("target", "suite.yaml")


def fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []
    for f in files:
        digest.update(str(f).encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def base(bare_project) -> Project:
    project = bare_project
    stored = project.store / "runs/x/result.json"  # something already stored, which must survive
    stored.parent.mkdir(parents=True)
    stored.write_text('{"status": "ok"}')
    return project


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_one_clear_line_and_touches_nothing(base, name):
    case = yaml.safe_load((CORPUS / f"{name}.yaml").read_text())
    assert case.get("why") and case.get("expect"), f"{name}: a case needs why and expect"
    if case.get("store") == "file":
        for child in sorted(base.store.rglob("*"), reverse=True):
            child.unlink() if child.is_file() else child.rmdir()
        base.store.rmdir()
        base.store.write_text("not a folder")
    suite = build(base, case)
    env = {"FAKE_MODEL_KEY": MODEL_KEY, **{k: v.format(root=base.root) if isinstance(v, str) else v for k, v in case.get("env", {}).items()}}
    before = fingerprint(base.store)
    for command in case.get("commands", ["validate", "run"]):  # validate installs nothing: a broken install shows at run
        if case.get("store") == "readonly":
            code, output = read_only_run(base, command, suite, env)
        else:
            result = CliRunner().invoke(app, [command, str(suite), *case.get("args", [])], env=env)
            assert result.exception is None or isinstance(result.exception, SystemExit), (name, command, repr(result.exception))
            code, output = result.exit_code, result.output
        lines = output.strip().splitlines()
        if case.get("progress") and command == "run":  # found once work began: the plan and progress come first
            assert lines and lines[-1].startswith("error: "), (name, output)
            lines = [line for line in lines if line.startswith("error: ")]
        assert code == 2, (name, command, output)
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, command, output)
        assert case["expect"] in lines[0] and case.get("expect_also", "") in lines[0], (name, command, lines[0])
        assert "Traceback" not in output
    assert fingerprint(base.store) == before, f"{name}: the store changed"
    assert not (base.store / "suites").exists() if base.store.is_dir() else True


def read_only_run(project: Project, command: str, suite: Path, env: dict) -> tuple[int, str]:
    """The CLI with the store on a read-only bind mount, in a mount namespace of its own (root
    ignores file permissions, a read-only mount it cannot)."""
    script = f'mount --bind "{project.store}" "{project.store}" && mount -o remount,ro,bind "{project.store}" && exec "$@"'
    done = subprocess.run(
        ["unshare", "--mount", "sh", "-c", script, "sh", sys.executable, "-m", "agent_eval", command, str(suite)],
        env={**project.env(), **env}, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    return done.returncode, done.stderr + done.stdout
