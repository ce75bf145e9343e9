"""The transformers profile's transcription verifier (tasks/transformers/transcribe-audio/verify/wer.py):
exact word error rates on hand-made pairs, and the script as a verifier runs it — exit code, the
JSON line graders.py reads, the threshold — and every behaviour-only task of the study graded."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent_eval.grade import graders
from agent_eval.suite import load
from conftest import CHECKOUT

SHIPPED = Path(CHECKOUT)
VERIFY = SHIPPED / "tasks/transformers/transcribe-audio/verify"
spec = importlib.util.spec_from_file_location("wer", VERIFY / "wer.py")
wer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wer)

OURS = "I really enjoyed this sunny day at the beach with my friends."  # 12 words


@pytest.mark.parametrize("reference, hypothesis, rate", [
    ("the cat sat on the mat", "the cat sat on the mat", 0.0),
    ("the cat sat on the mat", "The cat, sat on the MAT!", 0.0),  # case and punctuation are not words
    ("the cat sat on the mat", "the cat sat on mat", 1 / 6),  # one deletion
    ("the cat sat on the mat", "the cat sat on the red mat", 1 / 6),  # one insertion
    ("the cat sat on the mat", "the dog sat on the mat", 1 / 6),  # one substitution
    ("the cat sat on the mat", "a cat sat on the mat today", 2 / 6),  # a substitution and an insertion
    ("the cat sat on the mat", "mat the on sat cat the", 4 / 6),  # reversed: +mat, the, cat→on, sat, on→cat, the, -mat
    ("the cat sat on the mat", "", 1.0),
    ("one two", "nine eight seven six", 4 / 2),  # more errors than reference words: above 1
    ("don't stop", "dont stop", 1 / 2),  # an apostrophe inside a word belongs to it
    (OURS, "i really enjoyed this sunny day at the beach with my friends", 0.0),
    (OURS, "I really enjoy the sunny day at a beach with my friend.", 4 / 12),
])
def test_word_error_rate_of_hand_made_pairs(reference, hypothesis, rate):
    assert wer.wer(reference, hypothesis) == pytest.approx(rate, abs=1e-12)


def test_the_reference_is_our_synthesised_sentence():
    assert (VERIFY / "reference.txt").read_text().strip() == OURS
    assert f'SPEECH = "{OURS}"' in (SHIPPED / "scripts/make_transformers_inputs.py").read_text()


def verify(tmp_path: Path, transcript: str | None, *args: str) -> graders.Grader:
    """wer.py as run/verifier.py runs it: a copy of verify/ at $VERIFY_DIR, the working dir as cwd."""
    checks, work = tmp_path / "checks", tmp_path / "work"
    shutil.copytree(VERIFY, checks)
    work.mkdir()
    if transcript is not None:
        (work / "transcript.txt").write_text(transcript)
    done = subprocess.run([sys.executable, str(checks / "wer.py"), "transcript.txt", *args], cwd=work, capture_output=True, text=True,
                          env={"VERIFY_DIR": str(checks), "PATH": os.environ["PATH"]})
    return graders.verdict(done.returncode, done.stdout, done.stderr, 0.1, python=True)


def test_a_close_transcript_passes_with_partial_credit(tmp_path):
    graded = verify(tmp_path, "I really enjoyed the sunny day at the beach with my friends.\n", "0.25")
    assert graded.status == "passed" and graded.score == pytest.approx(round(1 - 1 / 12, 4))
    assert [(c.name, c.passed) for c in graded.checks] == [("transcript.txt exists", True), ("word error rate at most 0.25", True)]
    assert "WER 0.0833" in graded.output


def test_the_threshold_is_inclusive_and_a_worse_transcript_fails_with_its_credit(tmp_path):
    three = verify(tmp_path / "a", "I really enjoy the sunny day at a beach with my friends.", "0.25")  # 3 of 12: WER 0.25
    assert three.status == "passed" and three.score == 0.75
    four = verify(tmp_path / "b", "I really enjoy the sunny day at a beach with my friend.", "0.25")  # 4 of 12
    assert four.status == "failed" and four.score == pytest.approx(0.6667)


def test_no_transcript_fails_with_no_credit_and_junk_never_scores_below_zero(tmp_path):
    missing = verify(tmp_path / "a", None)
    assert missing.status == "failed" and missing.score == 0.0 and not missing.checks[0].passed
    junk = verify(tmp_path / "b", " ".join(["noise"] * 30))  # 30 words against 12: WER 2.5
    assert junk.status == "failed" and junk.score == 0.0 and "WER 2.5000" in junk.output


@pytest.mark.parametrize("suite", ["revisions.yaml", "models.yaml"])
def test_every_behaviour_only_task_of_the_study_is_graded(suite):
    _, _, tasks = load.load(SHIPPED / "examples/transformers" / suite)
    by_id = {t.id: t for t in tasks}
    assert len(by_id) == 16 and all(t.expected or t.verify or t.judge for t in tasks)  # none is behaviour-only now
    for task in ("transcribe-audio", "compose-transcribe-sentiment"):
        assert by_id[task].verify.script == "wer.py" and by_id[task].verify_dir.resolve() == VERIFY.resolve()
    assert by_id["compose-transcribe-sentiment"].expected == "positive"
    for task in ("summarize-text", "generate-text", "compose-caption-translate", "audio-classify"):
        judge = by_id[task].judge
        assert judge.model == "grader" and judge.expectations and judge.threshold == 1.0
