"""Speed targets, measured and printed (never asserted by timed unit tests).

Run one with ``python -m benchmarks.<name>`` from the repository root, or all of them with
``nox -s bench``. ``_stats`` holds the shared percentile/table helpers.
"""
