"""Pre-flight cost estimate of a run: ``prices`` (the editable price file), ``measure`` (a dataset's
text, measured while validation streams it) and ``cost`` (the guide's cost model over both)."""
