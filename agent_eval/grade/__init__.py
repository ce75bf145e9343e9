"""Grading: read pi's session file (trace.py) and what the agent read in it (reads.py), score the answer and the markers against a task
(score.py), and score stored runs again from their traces without calling a model (regrade.py).

May import store/ and suite/. Hands on a Trace and the score of a run.
"""
