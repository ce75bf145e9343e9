"""Make the input files of tasks/sqlite-utils/ from the literal data below (ours, invented for
these tasks), and print the answer each task expects. Run from the repository root:

    python scripts/make_sqlite_utils_inputs.py

Uses only the standard library's sqlite3, so the files do not depend on the library under test.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

OUT = Path("tasks/sqlite-utils")

CUSTOMERS = [(1, "Ada Brook", "Leeds"), (2, "Bo Carver", "Hull"), (3, "Cyd Dunmore", "Leeds"), (4, "Dee Ellery", "York")]
PRODUCTS = [(1, "kettle", 24.5), (2, "teapot", 18.0), (3, "mug", 6.25), (4, "toaster", 39.99)]
# (customer_id, product_id, quantity), one per order, in order id order.
ORDERS = [
    (1, 3, 4), (2, 1, 1), (3, 4, 2), (1, 2, 1), (4, 3, 6), (2, 4, 1), (3, 3, 2), (1, 1, 1),
    (4, 2, 2), (2, 3, 3), (3, 1, 1), (1, 4, 1), (4, 1, 1), (2, 2, 1), (3, 2, 1), (1, 3, 2),
    (4, 4, 1), (2, 1, 2), (3, 3, 5),
]
REGIONS = ["North", "South", "East"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]
PEOPLE = [
    ("Ines", 34, "Porto"), ("Jon", 52, "Oslo"), ("Kai", 41, "Kiel"), ("Lea", 29, "Lyon"), ("Mo", 67, "Malmo"),
    ("Nia", 40, "Nice"), ("Oli", 45, "Oslo"), ("Pia", 23, "Pisa"), ("Quin", 58, "Quimper"), ("Rua", 38, "Riga"),
    ("Sol", 71, "Sintra"), ("Tam", 19, "Turin"), ("Uma", 44, "Ulm"),
]
NOTES = [
    ("Harbour walk", "We walked past the lighthouse at dusk."),
    ("Shopping", "Bread, milk, lamp oil."),
    ("Lighthouse keeper", "The keeper trims the wick every night."),
    ("Storm", "Waves hit the pier; the beam kept turning."),
    ("Postcard", "A postcard of a lighthouse and two gulls."),
    ("Recipe", "Fish stew with fennel."),
    ("Towers of the coast", "Seven towers, three still lit."),
]


def amount(region: int, month: int) -> float:
    return round(100 + 37.5 * ((region * 7 + month * 5) % 11), 2)


def make() -> dict[str, str]:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in ("shop.db", "notes.db"):
        (OUT / name).unlink(missing_ok=True)
    with sqlite3.connect(OUT / "shop.db") as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT)")
        db.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), product_id INTEGER REFERENCES products(id), quantity INTEGER)")
        db.executemany("INSERT INTO customers VALUES (?, ?, ?)", CUSTOMERS)
        db.executemany("INSERT INTO products VALUES (?, ?, ?)", PRODUCTS)
        db.executemany("INSERT INTO orders (customer_id, product_id, quantity) VALUES (?, ?, ?)", ORDERS)
        top = db.execute(
            "SELECT c.name FROM orders o JOIN customers c ON c.id = o.customer_id JOIN products p ON p.id = o.product_id "
            "GROUP BY c.id ORDER BY sum(o.quantity * p.price) DESC LIMIT 1").fetchone()[0]
    with sqlite3.connect(OUT / "notes.db") as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT, body TEXT)")
        db.executemany("INSERT INTO notes (title, body) VALUES (?, ?)", NOTES)
    rows = [(r, m, amount(i, j)) for j, m in enumerate(MONTHS) for i, r in enumerate(REGIONS)]
    with open(OUT / "sales.csv", "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["region", "month", "amount"])
        writer.writerows(rows)
    (OUT / "people.json").write_text(json.dumps([{"name": n, "age": a, "city": c} for n, a, c in PEOPLE], indent=1) + "\n")
    by_month = {m: sum(a for _, mm, a in rows if mm == m) for m in MONTHS}
    return {
        "count-orders": str(len(ORDERS)),
        "price-type": "REAL",
        "top-customer": top,
        "csv-north-total": f"{sum(a for r, _, a in rows if r == 'North'):g}",
        "csv-best-month": max(by_month, key=by_month.get),
        "json-over-40": str(sum(1 for _, age, _ in PEOPLE if age > 40)),
        # No plural or prefix of the word anywhere, so every tokenizer (simple, porter, trigram) agrees.
        "fts-lighthouse": str(sum(1 for t, b in NOTES if "lighthouse" in f"{t} {b}".lower())),
    }


if __name__ == "__main__":
    for task, answer in make().items():
        print(f"{task}: {answer}")
