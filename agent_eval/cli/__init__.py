"""The `agent-eval` command: a typer app (common.py) and one module per group of commands — plan
and run (main.py), read a store (results.py), work on the Hub (jobs.py) — each a thin layer over
functions a user can call from Python.

May import every stage; nothing imports it.
"""
