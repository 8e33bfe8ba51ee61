"""Finds the bundled `weightdrift` executable and runs it. No drift logic lives in Python."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXE = "weightdrift"


class WeightDriftError(Exception):
    """`weightdrift` refused the input or the usage (exit 2), or did not run to a verdict.

    `exit_code` is the process's exit status (negative: killed by that signal), `message` its
    one error line on stderr, `command` the argument list that was run.
    """

    def __init__(self, message: str, exit_code: int, command: list[str] | None = None, stderr: str = ""):
        super().__init__(f"{message} (exit {exit_code})")
        self.message = message
        self.exit_code = exit_code
        self.command = command or []
        self.stderr = stderr


class SchemaError(WeightDriftError):
    """The JSON report is not one this package understands (unknown schemaVersion, bad shape)."""


def find_binary() -> Path:
    """The executable shipped inside this package (weightdrift/_dist/bin/weightdrift), with its
    libraries beside it in _dist/lib/weightdrift. Never whatever else is on PATH: the API runs
    the binary it was installed with."""
    binary = Path(__file__).resolve().parent / "_dist" / "bin" / EXE
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise FileNotFoundError(f"{binary}: the weightdrift executable is missing from the installed package")
    return binary


def run(args: list[str], timeout: float | None = None) -> subprocess.CompletedProcess:
    """Runs `weightdrift ARGS`; returns the completed process for exit codes 0 and 1.

    Exit 2 (bad input or usage), a signal or any other code raises WeightDriftError with the
    tool's last stderr line.
    """
    command = [str(find_binary()), *args]
    proc = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    if proc.returncode in (0, 1):
        return proc
    stderr = proc.stderr.decode("utf-8", "replace")
    lines = [line for line in stderr.splitlines() if line.strip()]
    # The tool's error line starts "weightdrift: error:"; a usage message may follow it.
    errors = [line for line in lines if line.startswith("weightdrift: error:")]
    if errors:
        message = errors[-1]
    elif lines:
        message = lines[-1]
    else:
        message = f"weightdrift ended with exit code {proc.returncode} and no message"
    raise WeightDriftError(message, proc.returncode, command, stderr)


def main() -> None:
    """`weightdrift ARGS` (the console script pip puts on PATH) and `python -m weightdrift
    ARGS`: execs the bundled binary, so its exit code and output are the caller's."""
    binary = str(find_binary())
    os.execv(binary, [binary, *sys.argv[1:]])
