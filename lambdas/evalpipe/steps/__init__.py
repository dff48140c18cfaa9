"""One module per Lambda: what the step does, given its ports.

``steps/X.py`` is called by ``handlers/X.py`` and tested in ``tests/integration/steps/test_X.py``.
Steps never import each other: what two steps share belongs to the package that owns the concept
(the run, the suite, the results, the history). The local mode and the CLI reuse them.
"""
