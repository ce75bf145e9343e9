"""Reading a store: compare two sides with intervals and verdicts (compare.py, compare_render.py),
sessions' cost by position, explain one task's runs, where agents look (reads*.py), the static
report, and a Skill suite's summary and the Agent Skills guide's workspace (skill_*.py).

May import run/ (the Node that installs the report's charts, the archive of the agent's files),
grade/, store/ and suite/; reads rows from the store's index (the Skill readers read a suite's
result.json files: they need each expectation's evidence), never a model.
"""
