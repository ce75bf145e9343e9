"""Checks the sales.db the agent built from sales.csv: the table, its columns, its rows, amounts as numbers."""

import csv
import json
import os
import sqlite3
import sys

expected = list(csv.DictReader(open(os.path.join(os.environ["VERIFY_DIR"], "sales.csv"))))
checks = {}
db = sqlite3.connect("file:sales.db?mode=ro", uri=True) if os.path.isfile("sales.db") else None
checks["sales.db exists"] = db is not None
tables = {r[0] for r in db.execute("select name from sqlite_master where type = 'table'")} if db else set()
checks["table sales"] = "sales" in tables
columns = {r[1]: (r[2] or "").upper() for r in db.execute("pragma table_info(sales)")} if checks["table sales"] else {}
checks["columns region, month, amount"] = {"region", "month", "amount"} <= set(columns)
checks["amount is numeric"] = columns.get("amount") in ("REAL", "INTEGER", "FLOAT", "NUMERIC")
rows = db.execute("select region, month, amount from sales").fetchall() if checks["columns region, month, amount"] else []
checks[f"{len(expected)} rows"] = len(rows) == len(expected)
total = sum(float(r["amount"]) for r in expected)
checks[f"amounts sum to {total}"] = bool(rows) and all(isinstance(r[2], (int, float)) for r in rows) and abs(sum(r[2] for r in rows) - total) < 1e-6
print(json.dumps({"score": sum(checks.values()) / len(checks), "checks": [{"name": k, "passed": v} for k, v in checks.items()]}))
sys.exit(0 if all(checks.values()) else 1)
