"""The run: what one dataset drop (or run request) amounts to, from its claim to its notification.

- ``model``: `Run` and `RecordItem`, the stored items as typed models (docs/design.md's schema).
- ``status``: `RunStatus`, `Verdict` and their severities.
- ``triggers``: what starts a run (`DatasetObject`, `RunRequest`) and every name derived from it.
- ``timing``: a run's polling schedule and deadlines.
- ``metrics``: the CloudWatch metrics a run publishes.
"""
