"""One module per state of the state machine: what the step does, given its ports.

Handlers only parse their input and call into these; the local mode and the CLI reuse them.
"""
