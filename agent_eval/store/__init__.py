"""The records: what a cell is and what came of it (records.py), the folder that keeps them
(store.py), its index for fast reading (index.py, folders.py), the flat row a reader sees
(results.py), export to files, and the redaction of secrets before anything is written.

May import suite/. Hands on Cell, Result and flat rows.
"""
