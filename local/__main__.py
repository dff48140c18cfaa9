"""``python -m local demo`` (make demo) and ``python -m local serve`` (make local)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from local import demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    for name, help_text in (
        ("demo", "deploy the stack locally, run the example dataset through it, print the result"),
        ("serve", "deploy the stack locally and keep it running (endpoint, example commands, runs)"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--outdir", type=Path, default=demo.DEFAULT_OUTDIR, help="cloud assembly dir")
        command.add_argument("--poll-interval", type=int, default=1, help="seconds between job polls")
        command.add_argument("--job-seconds", type=float, default=2, help="how long an emulated job runs")
        command.add_argument("--log-file", type=Path, default=demo.FUNCTION_LOG, help="function logs")
    serve = commands.choices["serve"]
    serve.add_argument("--port", type=int, default=0, help="0 = a free port")
    serve.add_argument("--ready-file", type=Path, help="write endpoint and outputs here once deployed")
    serve.add_argument("--no-watch", dest="watch", action="store_false", help="do not print runs")
    args = parser.parse_args(argv)
    common = {
        "outdir": args.outdir if args.command else demo.DEFAULT_OUTDIR,
        "poll_interval": getattr(args, "poll_interval", 1),
        "job_seconds": getattr(args, "job_seconds", 2),
        "log_file": getattr(args, "log_file", demo.FUNCTION_LOG),
    }
    if args.command == "serve":
        # Ctrl-C and SIGTERM (e.g. from a test fixture) stop the server cleanly, also when the
        # process was started in the background (which leaves SIGINT ignored).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        return demo.serve(port=args.port, ready_file=args.ready_file, watch=args.watch, **common)
    return demo.run_demo(**common)


if __name__ == "__main__":
    sys.exit(main())
