"""Shared fixtures of the Python tests. They run through tools/test-python, in a mount namespace
where the Swift toolchain and the system libhdf5 are hidden; the `hidden` fixture proves it
before any test uses the installed wheel, and fails (never skips) when it is not so."""

import ctypes
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"


@pytest.fixture(scope="session", autouse=True)
def hidden():
    swift = os.environ.get("WEIGHTDRIFT_TEST_SWIFT")
    assert swift, "run these tests with tools/test-python (it hides the Swift toolchain and libhdf5)"
    assert shutil.which("swift") is None, "the Swift toolchain is still on PATH"
    assert not (os.path.isfile(swift) and os.path.getsize(swift) > 0), f"{swift} is still there"
    for name in ("libhdf5_serial.so.103", "libhdf5.so.103", "libswiftCore.so", "libsz.so.2"):
        with pytest.raises(OSError):
            ctypes.CDLL(name)
    # The Swift runtime folder that the default (non-static) build links against is empty.
    toolchain_lib = Path(os.path.realpath(swift)).parent.parent / "lib" / "swift" / "linux"
    assert not any(toolchain_lib.glob("libswiftCore.so*")), f"{toolchain_lib} is still readable"


@pytest.fixture(scope="session")
def manifest():
    return json.loads((SAMPLES / "manifest.json").read_text())


@pytest.fixture(scope="session")
def oracle():
    return json.loads((SAMPLES / "expected" / "oracle.json").read_text())


@pytest.fixture(scope="session")
def wheel():
    wheels = sorted((ROOT / "dist").glob("weightdrift-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in dist/, found {wheels}"
    return wheels[0]


def run(*args, **kwargs):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
