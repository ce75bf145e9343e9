"""Running: plan a suite into cells, prepare a cell's workspace and environment, start pi in the
sandbox behind the metering proxy, serve the offline model, decide a run's status, and the worker
and local pool that run units of work and store their results.

May import grade/, store/ and suite/. Hands on results in the store.
"""
