"""Running the binary and judging the result."""

from __future__ import annotations

import os
import random
import re
import resource
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .util import ERROR_PREFIX, SIGNAL_NAMES

# A run above this peak RSS is recorded (not a contract violation: the address-space limit is).
RSS_REPORT_KB = 2 << 20


def mem_limit(gigabytes: float) -> int:
    """The address-space limit in bytes for --mem-limit-gb (0: none)."""
    return int(gigabytes * (1 << 30)) if gigabytes else 0


@dataclass
class Runner:
    """How the binary is run: its path, the timeout, the address-space limit and the TMPDIR its
    runs get (checked for files left behind)."""
    binary: str
    timeout: float
    mem_limit: int = 0
    tmpdir: Path | None = None

    def set_limits(self):
        """Limits for this process, inherited by every weightdrift (and gdb) run it starts."""
        if self.mem_limit:
            resource.setrlimit(resource.RLIMIT_AS, (self.mem_limit, self.mem_limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    def run_one(self, args, cwd: Path, want_attach_stack=False):
        """Runs the binary with `args` in `cwd`; kills it (after a gdb attach, if asked) at the timeout."""
        return run_one([self.binary] + args, cwd, self.timeout, self.tmpdir, want_attach_stack)

    def judge(self, res) -> list[tuple[str, str]]:
        return judge(res, self.timeout)

    def empty_tmpdir(self) -> list[str]:
        """The names a run left in its TMPDIR (sorted), removed."""
        left = sorted(os.listdir(self.tmpdir)) if self.tmpdir else []
        for name in left:
            p = self.tmpdir / name
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        return left


def run_one(argv, cwd: Path, timeout: float, tmpdir: Path | None = None, want_attach_stack=False):
    out_path, err_path = cwd / "stdout", cwd / "stderr"
    env = dict(os.environ)
    env["SWIFT_BACKTRACE"] = "enable=no"
    if tmpdir:
        env["TMPDIR"] = str(tmpdir)
    t0 = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                             start_new_session=True)
    deadline = t0 + timeout
    timed_out = False
    stack = None
    sleep = 0.001
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            timed_out = True
            if want_attach_stack:
                stack = gdb_attach_stack(p.pid)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(sleep)
        sleep = min(sleep * 1.5, 0.02)
    p.returncode = 0  # reaped by us; keep Popen.__del__ quiet
    elapsed = time.monotonic() - t0
    if os.WIFSIGNALED(status):
        rc, sig = None, os.WTERMSIG(status)
    else:
        rc, sig = os.WEXITSTATUS(status), None
    with open(err_path, "rb") as fh:
        stderr = fh.read(1 << 16)
    with open(out_path, "rb") as fh:
        stdout_head = fh.read(1 << 16)
    return {"argv": argv, "rc": rc, "signal": None if timed_out else sig, "timeout": timed_out, "time": elapsed,
            "stderr": stderr, "stdout": stdout_head, "maxrss_kb": ru.ru_maxrss, "stack": stack}


def gdb_attach_stack(pid):
    try:
        r = subprocess.run(["gdb", "-q", "-batch", "-nx", "-p", str(pid), "-ex", "set pagination off",
                            "-ex", "thread apply all bt 40"], capture_output=True, timeout=60)
        return demangle(r.stdout.decode("utf-8", "replace"))
    except Exception as exc:
        return "gdb attach failed: %s" % exc


def gdb_run_stack(argv, cwd):
    env = dict(os.environ)
    env["SWIFT_BACKTRACE"] = "enable=no"
    try:
        r = subprocess.run(["gdb", "-q", "-batch", "-nx", "-ex", "set pagination off", "-ex", "set confirm off",
                            "-ex", "handle SIGPIPE nostop noprint", "-ex", "run", "-ex", "bt 40", "--args"] + argv,
                           capture_output=True, timeout=120, cwd=cwd, env=env, stdin=subprocess.DEVNULL)
        return demangle(r.stdout.decode("utf-8", "replace"))
    except Exception as exc:
        return "gdb failed: %s" % exc


def demangle(text):
    try:
        r = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input=text.encode(),
                           capture_output=True, timeout=30)
        if r.returncode == 0 and r.stdout:
            return r.stdout.decode("utf-8", "replace")
    except Exception:
        pass
    return text


SKIP_FRAME = re.compile(r"^(__GI_|__pthread|pthread_kill|raise|abort|__libc|_?_?assert|__memmove|__memcpy|__memset|"
                        r"__strlen|__strn?cmp|__mem|__str|swift_|_swift|\$ss|Swift\._assertionFailure|"
                        r"_assertionFailure|Swift\._fatalErrorMessage|_fatalErrorMessage|closure #\d+ in Swift|"
                        r"\?\?|Swift\.|__GI___)")


def frames_of(stack: str) -> list[str]:
    frames = []
    for line in (stack or "").splitlines():
        m = re.match(r"#\d+\s+(?:0x[0-9a-f]+ in )?(.+?) \(", line.strip())
        if m:
            frames.append(m.group(1).strip())
        elif re.match(r"#\d+\s+0x[0-9a-f]+ in \?\? \(\)", line.strip()):
            frames.append("??")
    return frames


def main_thread(stack: str) -> str:
    """The 'Thread 1' part of a 'thread apply all bt', else the whole text."""
    i = (stack or "").find("Thread 1 (")
    return stack[i:] if i >= 0 else (stack or "")


def stack_key(stack: str, with_top=True) -> str:
    """top non-libc frame | first public libhdf5 API frame | first frame in our Sources/."""
    text = main_thread(stack)
    frames = []
    for line in text.splitlines():
        m = re.match(r"#\d+\s+(?:0x[0-9a-f]+ in )?(.+?) \((.*)$", line.strip())
        if m:
            frames.append((m.group(1).strip(), m.group(2)))
    if not frames:
        return ""
    top = next((f for f, _ in frames if not SKIP_FRAME.match(f)), frames[0][0])
    api = next((f for f, _ in frames if re.match(r"^H5[A-Z]{1,3}[a-z][A-Za-z0-9_]*$", f)), "-")
    ours = "-"
    for f, loc in frames:
        m = re.search(r"Sources/(\w+)/(\w+\.swift)", loc)
        if m and not f.startswith("specialized static Library.locked"):
            ours = "%s (%s)" % (re.sub(r"^(specialized |closure #\d+ in )+", "", f)[:80], m.group(2))
            break
    parts = ([top] if with_top else []) + [api, ours]
    return " | ".join(parts)


def top_of_stack(stack: str, n=3) -> str:
    stack = main_thread(stack)
    frames = frames_of(stack)
    picked = [f for f in frames if not SKIP_FRAME.match(f)]
    first = frames[0] if frames else "?"
    top = picked[:n]
    return " < ".join(([first] if first not in top else []) + top)[:300]


def judge(res, timeout: float) -> list[tuple[str, str]]:
    """Contract violations of one run: (kind, detail)."""
    v = []
    err = res["stderr"].decode("utf-8", "replace")
    lines = err.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if res["timeout"]:
        v.append(("timeout", "no exit after %.0f s" % timeout))
    elif res["signal"] is not None:
        v.append(("signal", SIGNAL_NAMES.get(res["signal"], "signal %d" % res["signal"])))
    elif res["rc"] not in (0, 1, 2):
        v.append(("exitcode", "exit code %d" % res["rc"]))
    both = err + res["stdout"].decode("utf-8", "replace")
    if re.search(r"HDF5-DIAG|^\s*#\d{3}: .*H5|^\s+major: |^\s+minor: ", both, re.M):
        v.append(("hdf5diag", "libhdf5 printed diagnostics"))
    if not v:
        if res["rc"] == 2:
            if len(lines) != 1:
                v.append(("stderr", "exit 2 with %d stderr lines" % len(lines)))
            elif not lines[0].startswith(ERROR_PREFIX):
                v.append(("stderr", "exit 2 without the error prefix"))
        elif res["rc"] in (0, 1):
            # allowed: warnings, and the one summary line that non-table formats send to stderr
            bad = [ln for ln in lines if not ln.startswith("weightdrift: warning: ")]
            summary = [ln for ln in bad if re.match(r"(PASS|FAIL)\b", ln)]
            if len(bad) > 1 or (bad and not summary):
                v.append(("stderr", "exit %d with stray stderr (%d unexpected lines)" % (res["rc"], len(bad))))
    return v


def commands_for(mutant_main: str, seed_main: str, rng: random.Random):
    cmds = [["inspect", mutant_main], ["inspect", "--stats", mutant_main], ["compare", seed_main, mutant_main]]
    r = rng.random()
    if r < 0.35:
        cmds.append(["compare", mutant_main, seed_main])
    elif r < 0.45:
        cmds.append(["compare", seed_main, mutant_main, "--format", rng.choice(["json", "markdown", "junit", "github"])])
    elif r < 0.5:
        cmds.append(["inspect", "--format", "json", mutant_main])
    return cmds
