"""``python -m evalpipe.cli``: the ``evalpipe`` command without installing the entry point."""

import sys

from evalpipe.cli import main

sys.exit(main())
