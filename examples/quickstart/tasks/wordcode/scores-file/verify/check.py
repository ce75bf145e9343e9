"""Checks scores.txt line by line against scores recomputed from the verifier's own copy of words.txt."""

import json
import os
import sys
from pathlib import Path

import wordcode  # the revision under test, as the agent had it

words = Path(os.environ["VERIFY_DIR"], "words.txt").read_text().split()
lines = Path("scores.txt").read_text().splitlines() if Path("scores.txt").is_file() else []
got = dict(line.split()[:2] for line in lines if len(line.split()) >= 2)
checks = [{"name": "scores.txt exists", "passed": bool(lines)}]
checks += [{"name": word, "passed": got.get(word) == str(wordcode.score(word))} for word in words]
print(json.dumps({"score": sum(c["passed"] for c in checks) / len(checks), "checks": checks}))
sys.exit(0 if all(c["passed"] for c in checks) else 1)
