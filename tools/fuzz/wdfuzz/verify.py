"""Verification: run every saved crasher again from its file, with the commands its mutation had."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .runner import RSS_REPORT_KB, Runner, mem_limit
from .seeds import load_seeds, snapshot, write_mutant
from .store import CrasherStore
from .util import SIGNAL_NAMES
from .worker import MUTANT, plan


def outcome(res) -> str:
    if res["timeout"]:
        return "timeout"
    if res["signal"] is not None:
        return SIGNAL_NAMES.get(res["signal"], "signal %d" % res["signal"])
    return "exit %d" % res["rc"]


def binary_commit(binary: str) -> str:
    """The commit of the clone a binary was built in (…/<clone>/.build/…), or the path."""
    build = next((p for p in Path(binary).resolve().parents if p.name == ".build"), None)
    if build:
        r = subprocess.run(["git", "-C", str(build.parent), "log", "-1", "--format=%h %s"], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.strip()[:80]
    return binary


def verify(args, samples: Path, seed_dirs) -> int:
    out = Path(args.out)
    entries = json.loads((out / "index.json").read_text())
    seeds = load_seeds(samples, seed_dirs)
    work = Path(tempfile.mkdtemp(prefix="wd-verify-"))
    runner = Runner(str(Path(args.binary).resolve()), args.timeout, mem_limit(args.mem_limit_gb), work / "tmp")
    runner.tmpdir.mkdir()
    runner.set_limits()
    for e in entries:
        m = re.match(r"--seed (\d+) --replay (\d+)", e["replay"]) if e.get("replayable", True) else None
        if m:
            mutant, seed_main, commands = plan(int(m.group(1)), int(m.group(2)), seeds, str(samples))
        else:  # no replay: the standard commands, compared with the seed it came from
            seed = next((x for x in seeds if x.rel == e["seed"]), seeds[0])
            mutant = {"files": {}, "main": seed.main}
            seed_main = str(samples / seed.rel / (seed.main if seed.kind == "sharded" else ""))
            seed_main = seed_main.rstrip("/")
            commands = [["inspect", MUTANT], ["inspect", "--stats", MUTANT], ["compare", seed_main, MUTANT]]
        src = out / e["file"]
        mdir = work / "m"
        if mdir.exists():
            shutil.rmtree(mdir)
        if src.is_dir():
            shutil.copytree(src, mdir, symlinks=True)
            if (mdir / "index.weights.json").exists() and mutant["main"] != "index.weights.json":
                (mdir / "index.weights.json").rename(mdir / mutant["main"])
            sp = mdir / "SPECIALS.json"
            if sp.exists():
                specials = json.loads(sp.read_text())
                sp.unlink()
                write_mutant({"files": {k: tuple(v) for k, v in specials.items()}}, mdir)
            rel = "crashers/%s/index.weights.json" % e["file"]
            same = all(isinstance(v, tuple) or (mdir / k).read_bytes() == v for k, v in mutant["files"].items()
                       if (mdir / k).exists() or not isinstance(v, tuple))
        else:
            mdir.mkdir()
            shutil.copy2(src, mdir / mutant["main"])
            rel = "crashers/%s" % e["file"]
            same = src.read_bytes() == mutant["files"].get(mutant["main"])
        before = snapshot(mdir)
        mpath = str(mdir / mutant["main"])
        results = []
        for c in commands:
            res = runner.run_one([mpath if a == MUTANT else a for a in c], work)
            kinds = [k for k, _ in runner.judge(res)]
            clean_exit = not res["timeout"] and res["signal"] is None
            if runner.empty_tmpdir() and clean_exit:
                kinds.append("tempfile")
            if res["maxrss_kb"] > RSS_REPORT_KB and clean_exit:
                kinds.append("memory")
            shown = " ".join(rel if a == MUTANT else a.replace(str(samples) + "/", "samples/") for a in c)
            results.append({"command": "weightdrift " + shown, "outcome": outcome(res), "violations": kinds,
                            "stderr_first": res["stderr"].decode("utf-8", "replace").split("\n")[0][:300],
                            "time": round(res["time"], 2), "maxrss_kb": res["maxrss_kb"]})
        if snapshot(mdir) != before:
            results.append({"command": "(all)", "outcome": "input modified", "violations": ["modified"]})
        e["verified"] = results
        e["verified_with"] = binary_commit(runner.binary)
        e["replay_matches_file"] = bool(same) if m else None
        hits = [r for r in results if e["kind"] in r["violations"]]
        e["reproduces"] = bool(hits)
        if hits:
            e["command"] = hits[0]["command"]
        print("%-40s %-9s %s" % (e["file"], "REPRO" if hits else "no-repro",
                                 "; ".join("%s -> %s" % (r["command"].split(" crashers/")[0], r["outcome"]) for r in results)))
    store = CrasherStore(out, args.max_crashers, args.max_per_kind)
    store.entries = entries
    store.write()
    shutil.rmtree(work, ignore_errors=True)
    return 0
