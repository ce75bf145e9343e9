"""Reading a store: compare two sides with intervals and verdicts (compare.py, compare_render.py),
sessions' cost by position, explain one task's runs, where agents look (reads*.py), and the static report.

May import run/ (the Node that installs the report's charts), grade/, store/ and suite/; reads
rows from the store's index, never a model.
"""
