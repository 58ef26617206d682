"""Shared pytest configuration: Hypothesis profiles, chosen by the ``HYPOTHESIS_PROFILE`` environment variable.

* ``ci`` (the default): derandomized, at most 10 examples, no deadline: fast and deterministic;
* ``slow``: random draws, up to 200 examples, no deadline: a local search for counterexamples, e.g.
  ``HYPOTHESIS_PROFILE=slow python -m pytest tests/test_solver_orders.py``.

A test's own ``@settings`` override the profile; expensive tests read the variable to pick their example counts
(tests/test_solver_orders.py).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=10, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("slow", derandomize=False, max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
