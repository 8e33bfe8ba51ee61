"""The wheel as a user installs it: a brand-new venv, `pip install` of the wheel alone, then the
`weightdrift` it put on PATH — with the Swift toolchain and the system libhdf5 hidden."""

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLES, run

DIST = ROOT / ".build-dist" / "weightdrift"
GLIBC_OWN = re.compile(r"^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libresolv|libutil)\.so")


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory, wheel):
    venv = tmp_path_factory.mktemp("user") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    proc = run(venv / "bin" / "python", "-m", "pip", "install", "--no-index", "--disable-pip-version-check", wheel)
    assert proc.returncode == 0, proc.stderr
    return venv


def installed_binary(venv):
    proc = run(venv / "bin" / "python", "-c", "import weightdrift; print(weightdrift.find_binary())", cwd="/")
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip())


def user_env(venv):
    return {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}


def test_pip_puts_weightdrift_on_path_and_it_gates(fresh_venv):
    env = user_env(fresh_venv)
    which = run("sh", "-c", "command -v weightdrift", env=env)
    assert which.stdout.strip() == str(fresh_venv / "bin" / "weightdrift")
    base = SAMPLES / "k3" / "pretrained.keras"
    low = run("weightdrift", "compare", base, SAMPLES / "k3" / "ft_lowlr.keras", env=env)
    assert low.returncode == 0, low.stderr
    assert "PASS" in low.stdout
    high = run("weightdrift", "compare", base, SAMPLES / "k3" / "ft_highlr.keras", env=env)
    assert high.returncode == 1, high.stderr
    assert "FAIL" in high.stdout
    missing = SAMPLES / "k3" / "no_such_file.keras"
    bad = run("weightdrift", "compare", base, missing, env=env)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and str(missing) in bad.stderr


def test_installed_binary_is_the_built_one_and_needs_only_glibc(fresh_venv):
    installed = installed_binary(fresh_venv)
    assert installed.is_relative_to((fresh_venv / "lib").resolve()), installed  # inside site-packages
    built = DIST / "bin" / "weightdrift"
    assert hashlib.sha256(installed.read_bytes()).digest() == hashlib.sha256(built.read_bytes()).digest()
    assert os.access(installed, os.X_OK)
    ldd = run("ldd", installed)
    assert ldd.returncode == 0 and "not found" not in ldd.stdout, ldd.stdout
    bundled = installed.parent.parent / "lib" / "weightdrift"
    resolved = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd.stdout, re.M))
    assert "libsz.so.2" in resolved  # libhdf5 is linked in; its SZIP library is bundled
    assert "liblzf.so.1" in resolved  # h5py's LZF filter
    assert not any(name.startswith("libhdf5") for name in resolved), resolved
    for soname, path in resolved.items():
        if not GLIBC_OWN.match(soname):
            assert Path(path).resolve().parent == bundled, f"{soname} resolves to {path}"
    assert not any("swift" in name.lower() for name in resolved), resolved


def test_wheel_tag_states_the_glibc_floor(wheel, fresh_venv):
    floor = (DIST / "glibc-floor").read_text().strip()
    major, minor = floor.split(".")
    assert wheel.name.endswith(f"-py3-none-manylinux_{major}_{minor}_x86_64.whl"), wheel.name
    # The floor is the highest GLIBC_ version any shipped ELF file needs, measured again here.
    binary = installed_binary(fresh_venv)
    files = [binary, *sorted((binary.parent.parent / "lib" / "weightdrift").iterdir())]
    versions = set()
    for f in files:
        out = run("readelf", "-V", "--wide", f).stdout
        versions.update(tuple(int(x) for x in v.split(".")[:2]) for v in re.findall(r"Name: GLIBC_([0-9.]+)", out))
    assert max(versions) == (int(major), int(minor))
    running = os.confstr("CS_GNU_LIBC_VERSION").split()[1]
    assert tuple(int(x) for x in running.split(".")[:2]) >= (int(major), int(minor))


def test_python_api_in_the_fresh_venv(fresh_venv, manifest):
    code = ("import weightdrift, sys; r = weightdrift.compare(sys.argv[1], sys.argv[2]); "
            "print(r.passed, r.exit_code, r.base.format, len(r.layers))")
    proc = run(fresh_venv / "bin" / "python", "-c", code, SAMPLES / "k3" / "pretrained.keras",
               SAMPLES / "k3" / "ft_highlr.weights.h5", cwd="/")
    assert proc.returncode == 0, proc.stderr
    layers = [layer for layer in manifest["files"]["k3/pretrained.keras"]["layers"] if layer["weights"]]
    assert proc.stdout.split() == ["False", "1", manifest["files"]["k3/pretrained.keras"]["format"], str(len(layers))]
    module = run(fresh_venv / "bin" / "python", "-m", "weightdrift", "inspect", SAMPLES / "k3" / "pretrained.h5")
    assert module.returncode == 0 and "dense_1" in module.stdout, module.stderr


def test_wheel_ships_the_report_schemas(fresh_venv):
    code = ("import json, pathlib, weightdrift; d = pathlib.Path(weightdrift.__file__).parent / 'schemas'; "
            "print(sorted(p.name for p in d.glob('*.schema.json'))); "
            "print(json.loads((d / 'compare.schema.json').read_text())['$schema'])")
    proc = run(fresh_venv / "bin" / "python", "-c", code, cwd="/")
    assert proc.returncode == 0, proc.stderr
    names, draft = proc.stdout.splitlines()
    assert names == "['compare.schema.json', 'inspect.schema.json']"
    assert draft == "https://json-schema.org/draft/2020-12/schema"


def test_target_install_and_uninstall(tmp_path, fresh_venv, wheel):
    # pip install --target: the package alone on PYTHONPATH, the libraries still beside the binary.
    target = tmp_path / "target"
    pip = [fresh_venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check"]
    assert run(*pip, "install", "--no-index", "--target", target, wheel).returncode == 0
    code = ("import sys; sys.path.insert(0, sys.argv[2]); import weightdrift; "
            "print(weightdrift.find_binary()); print(weightdrift.inspect(sys.argv[1]).format)")
    proc = run(sys.executable, "-c", code, SAMPLES / "k3" / "pretrained.h5", target, cwd="/")
    assert proc.returncode == 0, proc.stderr
    binary, fmt = proc.stdout.split()
    assert Path(binary).is_relative_to(target) and fmt == "legacy-h5"
    # uninstall removes the binary and every bundled library
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check"]
    assert run(*pip, "install", "--no-index", wheel).returncode == 0
    shipped = installed_binary(venv).parent.parent  # weightdrift/_dist
    assert (shipped / "lib" / "weightdrift" / "libsz.so.2").is_file()
    assert run(*pip, "uninstall", "-y", "weightdrift").returncode == 0
    assert not (venv / "bin" / "weightdrift").exists()
    assert not shipped.exists()
