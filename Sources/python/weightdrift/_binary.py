"""Finds the bundled `weightdrift` executable and runs it. No drift logic lives in Python."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
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
    """The executable this wheel installed: <scheme>/bin/weightdrift, as ruff's find_ruff_bin.

    Looks in the running interpreter's scripts folder, then the user scheme's, then beside the
    package for `pip install --target`. Never falls back to whatever else is on PATH: the API
    must run the binary it was installed with.
    """
    candidates = [Path(sysconfig.get_path("scripts")) / EXE]
    user_scheme = {"posix": "posix_user", "nt": "nt_user"}.get(os.name)
    if user_scheme and user_scheme in sysconfig.get_scheme_names():
        candidates.append(Path(sysconfig.get_path("scripts", scheme=user_scheme)) / EXE)
    candidates.append(Path(__file__).resolve().parent.parent / "bin" / EXE)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(
        f"the weightdrift executable is not installed (looked in {', '.join(str(c.parent) for c in candidates)})"
    )


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
    """`python -m weightdrift ARGS`: execs the bundled binary."""
    binary = str(find_binary())
    os.execv(binary, [binary, *sys.argv[1:]])
