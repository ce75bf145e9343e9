"""Runs the agent's load_people.py from scratch (people.db removed first) and queries the people table it makes."""

import json
import os
import sqlite3
import subprocess
import sys

people = json.load(open(os.path.join(os.environ["VERIFY_DIR"], "people.json")))
checks = {"load_people.py exists": os.path.isfile("load_people.py")}
if os.path.exists("people.db"):
    os.remove("people.db")
ran = subprocess.run([sys.executable, "load_people.py"], capture_output=True, text=True, timeout=60) if checks["load_people.py exists"] else None
checks["it runs"] = ran is not None and ran.returncode == 0
db = sqlite3.connect("file:people.db?mode=ro", uri=True) if os.path.isfile("people.db") else None
rows = db.execute("select name, age, city from people").fetchall() if db and db.execute(
    "select count(*) from sqlite_master where name = 'people'").fetchone()[0] else []
checks[f"{len(people)} people"] = len(rows) == len(people)
checks["the same records"] = sorted(rows) == sorted((p["name"], p["age"], p["city"]) for p in people)
over = sum(1 for r in rows if isinstance(r[1], int) and r[1] > 40)
checks["ages are numbers (7 over 40)"] = over == sum(1 for p in people if p["age"] > 40)
if ran is not None and ran.returncode:
    print(ran.stderr[-500:])
print(json.dumps({"score": sum(checks.values()) / len(checks), "checks": [{"name": k, "passed": v} for k, v in checks.items()]}))
sys.exit(0 if all(checks.values()) else 1)
