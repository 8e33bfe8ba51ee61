"""Fuzzing workers: each writes mutants, runs the binary on them and judges the runs.

A mutant and its commands are a pure function of (seed, index) and the seed files (`plan`), so
`--replay` and `--verify` derive them again without a worker.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .runner import RSS_REPORT_KB, Runner, commands_for, gdb_run_stack, stack_key
from .seeds import Seed, ext_of, load_seeds, make_mutant, snapshot, write_mutant
from .util import message_skeleton, normalise_message

MUTANT = "@MUTANT@"
# Crashes re-run under gdb for their stack (a few seconds each), per worker.
MAX_GDB_RUNS = 600


def mutant_for(seed: int, index: int, seeds: list[Seed]):
    rng = random.Random("%d:%d" % (seed, index))
    mutant = make_mutant(seeds, rng)
    return mutant, rng


def plan(seed: int, index: int, seeds: list[Seed], seeds_root: str):
    """Mutant `index`, the seed it is compared with, and its commands (MUTANT stands for its path)."""
    mutant, rng = mutant_for(seed, index, seeds)
    seed_path = Path(seeds_root) / mutant["seed"]
    seed_main = str(seed_path / Path(mutant["main"]).name) if mutant["kind"] == "sharded" else str(seed_path)
    # sometimes compare against a different seed
    if rng.random() < 0.1:
        other = rng.choice(seeds)
        seed_main = str(Path(seeds_root) / other.rel / (other.main if other.kind == "sharded" else ""))
        seed_main = seed_main.rstrip("/")
    return mutant, seed_main, commands_for(MUTANT, seed_main, rng)


@dataclass
class FuzzConfig:
    """What every worker of a run needs (picklable: it goes to the pool's processes)."""
    binary: str
    seed: int
    timeout: float
    mem_limit: int
    pristine: str  # the private copies of the seed folders
    seed_dirs: list[str]
    workroot: str


def violation(kind, detail, key, args, res=None, stderr_first="", stderr_lines=0, stack=None) -> dict:
    return {"kind": kind, "detail": detail, "key": list(key), "args": args, "stderr_first": stderr_first[:400],
            "stderr_lines": stderr_lines, "stack": stack, "rc": res["rc"] if res else None,
            "signal": res["signal"] if res else None, "time": res["time"] if res else 0,
            "maxrss_kb": res["maxrss_kb"] if res else 0}


class Worker:
    def __init__(self, config: FuzzConfig, stop_event):
        self.config = config
        self.stop = stop_event
        self.seeds = load_seeds(Path(config.pristine), config.seed_dirs)
        self.workdir = Path(config.workroot) / ("w%d" % os.getpid())
        self.workdir.mkdir(parents=True, exist_ok=True)
        tmpdir = self.workdir / "tmp"
        tmpdir.mkdir(exist_ok=True)
        self.runner = Runner(config.binary, config.timeout, config.mem_limit, tmpdir)
        self.gdb_runs = 0
        self.timeout_keys = Counter()
        self.runner.set_limits()  # inherited by every weightdrift (and gdb) run of this worker
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    def process(self, index: int):
        if self.stop.is_set():
            return {"index": index, "skipped": True}
        try:
            return self._process(index)
        except Exception:
            return {"index": index, "error": traceback.format_exc()}

    def _key(self, kind, detail, err, stack, paths):
        """What a violation is deduplicated by."""
        first = err.split("\n")[0] if err else ""
        if kind == "hdf5diag":
            m = re.search(r"#000: .*? in (\S+)\(\): (.*)", err)
            tail = "%s: %s" % (m.group(1), normalise_message(m.group(2), paths)) if m else first
            return (kind, tail[:160])
        if kind == "signal":
            sk = stack_key(stack) if stack else ""
            return (kind, detail, sk or ("no stack: " + message_skeleton(first, paths)))
        if kind == "timeout":
            return (kind, detail, stack_key(stack, with_top=False) if stack else "no stack")
        if kind == "stderr" and len(err.splitlines()) > 1:
            last = err.rstrip("\n").split("\n")[-1]
            return (kind, re.sub(r"\d+ (stderr|unexpected) lines", "several lines", detail),
                    message_skeleton(first, paths) + " ... " + message_skeleton(last, paths))
        return (kind, detail, message_skeleton(first, paths))

    def _process(self, index: int):
        mutant, seed_main, commands = plan(self.config.seed, index, self.seeds, self.config.pristine)
        work = self.workdir / "cur"
        if work.exists():
            shutil.rmtree(work)
        mdir = work / "m"
        write_mutant(mutant, mdir)
        before = snapshot(mdir)
        mpath = str(mdir / mutant["main"])
        runs = []
        violations = []
        paths = [(mpath, "M"), (str(mdir), "MDIR"), (self.config.pristine, "SEEDS")]
        timed_out_again = False
        for args in [[mpath if a == MUTANT else a for a in c] for c in commands]:
            if timed_out_again:
                break
            res = self.runner.run_one(args, work, want_attach_stack=True)
            runs.append({"args": args, "rc": res["rc"], "signal": res["signal"], "timeout": res["timeout"],
                         "time": res["time"], "maxrss_kb": res["maxrss_kb"]})
            err = res["stderr"].decode("utf-8", "replace")
            first = err.split("\n")[0]
            clean_exit = not res["timeout"] and res["signal"] is None
            left = self.runner.empty_tmpdir()
            if left and clean_exit:
                violations.append(violation("tempfile", "left %d file(s) in TMPDIR: %s" % (len(left), left[0][:60]),
                                            ["tempfile", re.sub(r"[0-9A-Fa-f-]{8,}", "X", left[0])], args, res,
                                            stderr_first=first))
            for kind, detail in self.runner.judge(res):
                stack = res["stack"]
                if kind == "signal" and self.gdb_runs < MAX_GDB_RUNS:
                    self.gdb_runs += 1  # a crash is re-run under gdb for its stack (a few seconds)
                    stack = gdb_run_stack([self.runner.binary] + args, work)
                key = self._key(kind, detail, err, stack, paths)
                if kind == "timeout":
                    self.timeout_keys[key] += 1
                    timed_out_again = self.timeout_keys[key] > 1
                violations.append(violation(kind, detail, key, args, res, stderr_first=first,
                                            stderr_lines=len(err.splitlines()), stack=stack))
            if res["maxrss_kb"] > RSS_REPORT_KB and clean_exit:
                violations.append(violation("memory", "max RSS %d MiB" % (res["maxrss_kb"] >> 10),
                                            ["memory", args[0] + (" --stats" if "--stats" in args else ""),
                                             message_skeleton(first, paths)], args, res, stderr_first=first))
        after = snapshot(mdir)
        if after != before:
            changed = sorted(set(before) ^ set(after) | {k for k in before if before.get(k) != after.get(k)})
            violations.append(violation("modified", "input changed: %s" % ",".join(changed),
                                        ["modified", ",".join(sorted(set(ext_of(c) for c in changed)))], ["(all)"]))
        result = {"index": index, "seed": mutant["seed"], "kind": mutant["kind"], "ops": mutant["ops"], "runs": runs,
                  "violations": violations, "main": mutant["main"], "seed_main": seed_main}
        if violations:
            result["files"] = {k: v for k, v in mutant["files"].items()}
        return result


# Pool workers are separate processes: each gets its Worker from the pool's initializer, and the
# tasks (plain functions, as the pool requires) use it.
_worker: Worker | None = None


def init_worker(config: FuzzConfig, stop_event):
    global _worker
    _worker = Worker(config, stop_event)


def process(index: int):
    return _worker.process(index)
