"""Checks search.db: a copy of notes.db with a full-text index on notes(title, body) that finds the 3 lighthouse notes."""

import json
import os
import sqlite3
import sys

checks = {}
db = sqlite3.connect("file:search.db?mode=ro", uri=True) if os.path.isfile("search.db") else None
checks["search.db exists"] = db is not None
checks["notes has its 7 rows"] = bool(db) and db.execute("select count(*) from sqlite_master where name = 'notes'").fetchone()[0] == 1 \
    and db.execute("select count(*) from notes").fetchone()[0] == 7
fts = [r[0] for r in db.execute("select name from sqlite_master where type = 'table' and sql like '%VIRTUAL TABLE%USING FTS%'")] if db else []
checks["a full-text table"] = bool(fts)
found = None
for table in fts:
    try:
        found = db.execute(f'select count(*) from "{table}" where "{table}" match ?', ["lighthouse"]).fetchone()[0]
        break
    except sqlite3.Error:
        continue
checks["lighthouse finds 3 notes"] = found == 3
print(json.dumps({"score": sum(checks.values()) / len(checks), "checks": [{"name": k, "passed": v} for k, v in checks.items()]}))
sys.exit(0 if all(checks.values()) else 1)
