"""The study's profile and task suite: every task validates, the study's suite plans the right
cells, and each marker fires on (and only on) real pi traces of the paths the study contrasts —
against a small git repository laid out like transformers (tests/transformers_like.py)."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import orjson
import pytest
import yaml

import transformers_like
from conftest import CHECKOUT, MODEL_KEY
from fake_model import FakeModel, Reply, Rule

SHIPPED = Path(CHECKOUT)
GITHUB = "https://github.com/huggingface/transformers.git"
CHEAP = {"classify-sentiment", "extract-entities", "tokenize-count", "answer-question", "fill-mask", "zero-shot-classify"}


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    root = tmp_path_factory.mktemp("transformers-like")
    return root / "transformers", transformers_like.build(root / "transformers")


def test_the_study_suite_plans_the_right_cells(tmp_path, project, upstream):
    repo, shas = upstream
    # The shipped profile, verbatim: git fetches its GitHub URL from the local repository instead.
    (tmp_path / "gitconfig").write_text(f'[url "{repo}"]\n\tinsteadOf = {GITHUB}\n')
    suite = yaml.safe_load((SHIPPED / "examples/transformers/revisions.yaml").read_text())
    suite["revisions"] = ["v5.8.0", "v5.9.0", {"ref": "cli", "name": "w/ CLI"}, {"ref": shas["cli-skill"], "name": "w/ CLI + Skill"}]
    suite["store"] = str(tmp_path / "store")
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    env = {"GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"), "AGENT_EVAL_CACHE": str(tmp_path / "cache")}

    checked = project.cli("validate", str(tmp_path / "suite.yaml"), env=env)
    assert checked.returncode == 0, checked.stderr
    assert f"revision w/ CLI + Skill: {shas['cli-skill']} -> {shas['cli-skill']}" in checked.stderr
    shown = project.cli("run", str(tmp_path / "suite.yaml"), "--dry-run", env=env)
    assert shown.returncode == 0, shown.stderr
    for rev in ("v5.8.0", "v5.9.0", "w/ CLI"):
        assert f"not applicable: tier skill at {rev}: no Skill at src/transformers/cli/agentic/_skill_derive.py" in shown.stderr
    cells = re.findall(r"^  run   (.+?) · (?:pi [\w.]+ · )?(.+?) \(\w{10}\) · (\w+) · ([\w-]+) · r(\d+)$", shown.stdout, re.MULTILINE)
    runs = Counter((model, rev, tier, task) for model, rev, tier, task, _ in cells)
    tasks = {p.stem for p in (SHIPPED / "tasks/transformers").glob("*.yaml")}
    assert len(tasks) == 16 and CHEAP <= tasks
    pairs = [(rev, tier) for rev in ("v5.8.0", "v5.9.0", "w/ CLI") for tier in ("bare", "clone")] + [
        ("w/ CLI + Skill", tier) for tier in ("bare", "clone", "skill")]
    expected = {(model, rev, tier, task): 5 if task in CHEAP else 3 for model in suite["models"] for rev, tier in pairs for task in tasks}
    assert runs == expected  # 3 models × 9 (revision, tier) pairs × 16 tasks, 5 or 3 repeats each
    assert len(cells) == 3 * 9 * (6 * 5 + 10 * 3)


PROMPTS = {"sentiment": "find the sentiment of", "fill": "predict the masked word", "tokens": "how many tokens is the sentence"}
ANSWER = Reply(text="Result: {last_tool_output}", prompt_tokens=900, completion_tokens=7)
READ_SKILL = Reply(tool="read", args={"path": "{skill_location}"})
AUTO = Reply(tool="bash", args={"command": (
    "python - <<'PY'\nfrom transformers import AutoTokenizer, AutoModelForSequenceClassification\n"
    "name = 'distilbert/distilbert-base-uncased-finetuned-sst-2-english'\n"
    "tokenizer = AutoTokenizer.from_pretrained(name)\nmodel = AutoModelForSequenceClassification.from_pretrained(name)\n"
    "print(model.classify(tokenizer, 'I absolutely loved the movie, it was fantastic!'))\nPY")})
CLASSIFY = Reply(tool="bash", args={"command": 'transformers classify --model distilbert/distilbert-base-uncased-finetuned-sst-2-english --text "I absolutely loved the movie, it was fantastic!"'})
EXAMPLES = Reply(tool="bash", args={"command": "cat transformers/src/transformers/cli/agentic/text.py"})
PIPELINE = Reply(tool="bash", args={"command": "python - <<'PY'\nfrom transformers import pipeline\nfill = pipeline('fill-mask', model='distilbert/distilbert-base-uncased')\nprint(fill('The capital of France is [MASK].'))\nPY"})
HELP = Reply(tool="bash", args={"command": "transformers tokenize --help"})
TOKENIZE = Reply(tool="bash", args={"command": 'transformers tokenize --model HuggingFaceTB/SmolLM2-360M-Instruct --text "The quick brown fox jumps over the lazy dog."'})
SKILL = "<available_skills>"


def rules() -> list[Rule]:
    return [
        Rule(PROMPTS["sentiment"], [READ_SKILL, CLASSIFY, ANSWER], system_contains=SKILL),  # the study's one command
        Rule(PROMPTS["sentiment"], [AUTO, ANSWER]),  # the study's Python heredoc
        Rule(PROMPTS["fill"], [READ_SKILL, EXAMPLES, PIPELINE, ANSWER], system_contains=SKILL),
        Rule(PROMPTS["fill"], [EXAMPLES, PIPELINE, ANSWER]),
        Rule(PROMPTS["tokens"], [READ_SKILL, HELP, TOKENIZE, ANSWER], system_contains=SKILL),
        Rule(PROMPTS["tokens"], [HELP, TOKENIZE, ANSWER]),
    ]


def test_markers_fire_on_and_only_on_the_paths_the_study_contrasts(tmp_path, project, upstream):
    repo, shas = upstream
    # The shipped profile, but installed without the torch stack (the stand-in needs none).
    profile = yaml.safe_load((SHIPPED / "profiles/transformers/profile.yaml").read_text())
    profile.update(repo=str(repo), install={"spec": "{source}"})
    shutil.copy(SHIPPED / "profiles/transformers/plugin.py", project.write("profiles/transformers/profile.yaml", profile).parent)
    chosen = {"classify-sentiment": "sentiment", "fill-mask": "fill", "tokenize-count": "tokens"}
    for task in chosen:  # the shipped tasks, one run each here
        data = yaml.safe_load((SHIPPED / f"tasks/transformers/{task}.yaml").read_text())
        data.pop("repeats")
        project.write(f"tasks/transformers/{task}.yaml", data)
    fake = FakeModel(rules(), api_key=MODEL_KEY)
    try:
        project.suite(profile="transformers", revisions=["v5.9.0", {"ref": "cli-skill", "name": "CLI + Skill"}],
                      models=[{"id": "fake-coder", "base_url": fake.url, "api_key_env": "FAKE_MODEL_KEY"}])
        done = project.cli("run", "suite.yaml", "--jobs", "2", timeout=900)
        assert done.returncode == 0, done.stderr
        assert "15 to run" in done.stderr
    finally:
        fake.close()
    found = {}
    for path in project.store.glob("runs/*/*/*/*/*/result.json"):
        r = orjson.loads(path.read_bytes())
        found[r["cell"]["revision"]["name"], r["cell"]["tier"], r["cell"]["task"]["id"]] = r | {"dir": path.parent}
    assert len(found) == 15 and all(r["status"] == "ok" for r in found.values())

    paths = {"classify-sentiment": {"auto-classes"}, "fill-mask": {"agentic-examples", "pipeline"}, "tokenize-count": {"help", "cli"}}
    for (rev, tier, task), r in found.items():
        fired = {m["name"] for m in r["markers"]}
        if tier == "skill":
            want = {"skill-read", "cli"} if task == "classify-sentiment" else paths[task] | {"skill-read"}
        else:
            want = paths[task]
        assert fired == want, (rev, tier, task, fired)

    # The CLI exists only from its commit on: the same command fails before it.
    assert found["CLI + Skill", "bare", "tokenize-count"]["matched"] is True
    assert found["v5.9.0", "bare", "tokenize-count"]["matched"] is False
    assert found["CLI + Skill", "skill", "classify-sentiment"]["matched"] is True
    # The agentic examples are there to read in the clone tier only, and from the CLI commit on.
    reads = {(rev, tier): found[rev, tier, "fill-mask"]["steps"][0]["error"] for rev in ("v5.9.0", "CLI + Skill") for tier in ("bare", "clone")}
    assert reads == {("v5.9.0", "bare"): True, ("v5.9.0", "clone"): True, ("CLI + Skill", "bare"): True, ("CLI + Skill", "clone"): False}
    # The Skill the agent opened was generated from the revision's agentic sources.
    skill_trace = (found["CLI + Skill", "skill", "fill-mask"]["dir"] / "trace.jsonl").read_text()
    assert "`transformers fill-mask` — Predict the masked token of a text." in skill_trace


@pytest.mark.parametrize("command, fired", [
    ("transformers classify --text 'great'", {"cli"}),
    ("cd /tmp && transformers --format json classify --text x", {"cli"}),
    (".venv/bin/transformers fill-mask --help", {"cli", "help"}),
    ("pip install transformers", set()),
    ("ls transformers/src/transformers", set()),
    ("cd transformers && git log -1", set()),
    ("python -c 'import transformers; print(transformers.__version__)'", set()),
    ("grep -rn pipeline transformers/docs", set()),
])
def test_the_cli_and_help_markers_read_command_position_only(command, fired):
    from agent_eval.suite import profiles
    from agent_eval.grade import score
    from agent_eval.grade.trace import Trace

    profile = profiles.load(SHIPPED / "profiles/transformers")
    commands = [m for m in profile.markers if m.where == "command"]
    assert {h.name for h in score.fired(commands, Trace(commands=[command]))} == fired
