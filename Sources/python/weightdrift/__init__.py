"""WeightDrift from Python: runs the bundled `weightdrift` executable and returns its JSON
report as typed values. The gate's verdict is a value (`report.passed`); only bad input or
usage (the tool's exit 2) raises WeightDriftError."""

from __future__ import annotations

import json
import os
from typing import Iterable, Optional, Union

from ._binary import SchemaError, WeightDriftError, find_binary
from ._binary import run as _run
from .report import (CompareReport, Forgetting, Input, InspectReport, LayerDrift, LayerInfo, WeightDrift,
                     WeightInfo)

__version__ = "0.2.0"
__all__ = ["compare", "inspect", "gate_arguments", "find_binary", "CompareReport", "InspectReport", "LayerDrift",
           "WeightDrift", "Input", "Forgetting", "LayerInfo", "WeightInfo", "WeightDriftError", "SchemaError"]

PathLike = Union[str, "os.PathLike[str]"]


def gate_arguments(*, policy: Optional[PathLike] = None, match: Optional[str] = None,
                   warn_relative_change: Optional[float] = None, fail_relative_change: Optional[float] = None,
                   warn_cosine: Optional[float] = None, fail_cosine: Optional[float] = None,
                   fail_on_warn: bool = False, disallow_new: bool = False, disallow_removed: bool = False,
                   head: Iterable[str] = (), fail_on_risk: Optional[str] = None,
                   min_coverage: Optional[float] = None) -> list:
    """The gate options as `weightdrift compare` flags (the same names, snake_case)."""
    args = []
    for flag, value in (("--policy", policy), ("--match", match),
                        ("--warn-relative-change", warn_relative_change),
                        ("--fail-relative-change", fail_relative_change),
                        ("--warn-cosine", warn_cosine), ("--fail-cosine", fail_cosine),
                        ("--fail-on-risk", fail_on_risk), ("--min-coverage", min_coverage)):
        if value is not None:
            # --flag=value: a negative number or a path starting with "-" stays a value
            args.append(f"{flag}={os.fspath(value) if flag == '--policy' else value}")
    for flag, on in (("--fail-on-warn", fail_on_warn), ("--disallow-new", disallow_new),
                     ("--disallow-removed", disallow_removed)):
        if on:
            args.append(flag)
    if isinstance(head, str):
        head = [head]
    for pattern in head:
        args.append(f"--head={pattern}")
    return args


def _parse(proc, what: str):
    try:
        return json.loads(proc.stdout.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SchemaError(f"{what}: the output is not JSON ({error})", proc.returncode) from error


def compare(base: PathLike, tuned: PathLike, *, hash: bool = False, timeout: Optional[float] = None,
            **gate_options) -> CompareReport:
    """`weightdrift compare BASE TUNED --format json` with the gate options of
    `gate_arguments` (policy=, fail_relative_change=, fail_on_risk=, head=, …).

    Returns the report whatever the verdict; raises WeightDriftError on bad input or usage.
    `hash=True` adds the inputs' SHA-256 (`--hash`; it reads both files a second time)."""
    args = ["compare", "--format", "json", *gate_arguments(**gate_options)]
    if hash:
        args.append("--hash")
    proc = _run([*args, "--", os.fspath(base), os.fspath(tuned)], timeout=timeout)
    return CompareReport.from_json(_parse(proc, "compare"), proc.returncode)


def inspect(path: PathLike, *, stats: bool = False, timeout: Optional[float] = None) -> InspectReport:
    """`weightdrift inspect PATH --format json` (`--stats` with stats=True)."""
    args = ["inspect", "--format", "json"] + (["--stats"] if stats else [])
    proc = _run([*args, "--", os.fspath(path)], timeout=timeout)
    return InspectReport.from_json(_parse(proc, "inspect"), proc.returncode)
