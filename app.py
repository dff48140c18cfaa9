#!/usr/bin/env python3
"""CDK entry point: `cdk synth` / `cdk deploy` (settings: cdk.json context, or -c key=value)."""

from infra.application import create_app

if __name__ == "__main__":
    app, _ = create_app()
    app.synth()
