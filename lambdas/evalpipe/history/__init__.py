"""Run history: regressions against a baseline run, per-record changes, and the HTML run report.

- ``keys``: which record of one run is the same in another (`record_key`).
- ``score_table``: a run's scores, on local disk (`ScoreTable`); texts are read for shown records.
- ``records``: which prompts got worse, by how much (`compare_records`).
- ``compare``: the baseline and each metric against it (`find_baseline`, `compare_runs`).
- ``report``: one self-contained HTML page per run (`render_report`), with ``charts``.
- ``review``: the parse step's last act: compare, store, render.

Everything but ``review`` is pure: no AWS call (a `ScoreTable` keeps its rows in scratch tables on
local disk, `evalpipe.scratch`, and may read texts through the function it is given). See
docs/suite-file.md ("Regressions") for the rules.
"""
