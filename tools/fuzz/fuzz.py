#!/usr/bin/env python3
"""Mutation fuzzer for the weightdrift CLI: the command line of the wdfuzz package beside this file
(see tools/fuzz/README.md and `fuzz.py --help`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wdfuzz.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
