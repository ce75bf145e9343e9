"""What to run: the files a user writes (suite, profile, tasks) read and checked, the profiles that
ship or come from entry points, released versions and the library's git history, the order of a
session's tasks, and what agent-eval itself provides (pi versions, offline models).

May import nothing else of agent-eval: it is the floor. Hands on pydantic models (config.py) that
every later stage reads.
"""
