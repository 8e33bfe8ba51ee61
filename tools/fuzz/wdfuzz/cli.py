"""Mutation fuzzer for the weightdrift CLI.

Takes the sample checkpoints as seeds, mutates them (bit flips, structure-aware HDF5 field
tampering, truncation, block fills, byte-range duplication/shifting, zip header tampering for
`.keras`, JSON and folder tampering for sharded `.weights.json` sets, and a few h5py-level
rewrites that produce valid but unusual HDF5), runs `weightdrift inspect`, `inspect --stats`
and `compare` on every mutant, and checks the contract the tool must keep on any input:

  * the run ends within the timeout (10 s) with exit code 0, 1 or 2 (no signal, no hang);
  * libhdf5 prints nothing itself (no "HDF5-DIAG" lines);
  * exit code 2 comes with exactly one stderr line starting with "weightdrift: error: ";
  * the inputs are not modified (hashes before and after; no new files next to them).

Every violation is saved (deduplicated) under tools/fuzz/crashers/ with a README line.
Standard library only, except the optional h5py rewrites (skipped when h5py is missing).

    python3 tools/fuzz/fuzz.py --count 10000 --seed 1
    python3 tools/fuzz/fuzz.py --seed 1 --replay 1234 --replay-dir /tmp/m1234
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from .runner import mem_limit
from .seeds import load_seeds, write_mutant
from .store import CrasherStore
from .util import SIGNAL_NAMES, sha256
from .verify import verify
from .worker import FuzzConfig, init_worker, mutant_for, process

HERE = Path(__file__).resolve().parent.parent  # tools/fuzz
REPO = HERE.parent.parent
DEFAULT_BINARY = "/tmp/wd-fuzz/.build/release/weightdrift"
DEFAULT_SEED_DIRS = ["k3", "tfk", "tf213", "edge", "k3/sharded", "safetensors", "hf/tf_base", "hf/tf_tuned_st", "kerashub/base_preset"]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=DEFAULT_BINARY)
    ap.add_argument("--samples", default="",
                    help="seed folder (default: the samples/ of the clone the binary was built in, so seeds and "
                         "binary come from one commit; else this repository's samples/)")
    ap.add_argument("--seed-dirs", default=",".join(DEFAULT_SEED_DIRS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--start", type=int, default=0, help="first mutation index (to continue a run)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--time-limit", type=float, default=0, help="stop after this many seconds (0: none)")
    ap.add_argument("--mem-limit-gb", type=float, default=8.0, help="address-space limit per run (0: none)")
    ap.add_argument("--out", default=str(HERE / "crashers"))
    ap.add_argument("--max-crashers", type=int, default=30)
    ap.add_argument("--max-per-kind", type=int, default=14)
    ap.add_argument("--fresh", action="store_true", help="delete earlier crashers first")
    ap.add_argument("--stats-json", default="", help="write the summary as JSON here")
    ap.add_argument("--replay", type=int, default=None, help="only write mutant INDEX (with --seed) and exit")
    ap.add_argument("--replay-dir", default="")
    ap.add_argument("--verify", action="store_true",
                    help="run every crasher in --out again (commands re-derived from its replay arguments) and "
                         "record whether it still breaks the contract")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.samples:
        build = next((p for p in Path(args.binary).resolve().parents if p.name == ".build"), None)
        clone = build.parent / "samples" if build else None
        args.samples = str(clone if clone and clone.is_dir() else REPO / "samples")
    samples = Path(args.samples).resolve()
    seed_dirs = [s for s in args.seed_dirs.split(",") if s]
    if args.verify:
        return verify(args, samples, seed_dirs)
    if args.replay is not None:
        mutant, _ = mutant_for(args.seed, args.replay, load_seeds(samples, seed_dirs))
        dest = Path(args.replay_dir or tempfile.mkdtemp(prefix="wd-replay-"))
        write_mutant(mutant, dest)
        print("seed: %s\nmutations: %s\nmutant: %s" % (mutant["seed"], "; ".join(mutant["ops"]), dest / mutant["main"]))
        return 0
    binary = str(Path(args.binary).resolve())
    if not os.access(binary, os.X_OK):
        print("fuzz: no executable at %s (build it first, see tools/fuzz/README.md)" % binary, file=sys.stderr)
        return 2
    workroot = Path(tempfile.mkdtemp(prefix="wd-fuzz-run-"))
    pristine = workroot / "seeds"
    for sd in seed_dirs:
        src = samples / sd
        if src.exists():
            dst = pristine / sd
            dst.mkdir(parents=True, exist_ok=True)
            for f in src.iterdir():
                if f.is_file():
                    shutil.copy2(f, dst / f.name)
    seed_hashes = {str(p): sha256(p.read_bytes()) for p in pristine.rglob("*") if p.is_file()}
    out = Path(args.out)
    if args.fresh and out.exists():
        shutil.rmtree(out)
    store = CrasherStore(out, args.max_crashers, args.max_per_kind)
    config = FuzzConfig(binary=binary, seed=args.seed, timeout=args.timeout, mem_limit=mem_limit(args.mem_limit_gb),
                        pristine=str(pristine), seed_dirs=seed_dirs, workroot=str(workroot))
    loaded = load_seeds(pristine, seed_dirs)
    nseeds = len(loaded)
    empty = [sd for sd in seed_dirs if not any(s.rel == sd or s.rel.startswith(sd + "/") for s in loaded)]
    if empty:
        print("fuzz: no seeds in %s under %s" % (", ".join(empty), samples), file=sys.stderr)
        return 2
    print("fuzz: binary %s, %d seeds from %s, seed %d, mutations %d..%d, %d workers, work dir %s" % (
        binary, nseeds, samples, args.seed, args.start, args.start + args.count - 1, args.workers, workroot), flush=True)

    stop = mp.get_context("fork").Event()
    t0 = time.monotonic()
    stats = {"mutations": 0, "runs": 0, "exit": Counter(), "violations": Counter(), "violating_mutants": Counter(),
             "by_seed_kind": defaultdict(Counter), "by_mutator": defaultdict(Counter), "errors": 0,
             "slow": [], "maxrss": [], "distinct": Counter()}
    ctx = mp.get_context("fork")
    pool = ctx.Pool(args.workers, initializer=init_worker, initargs=(config, stop))
    interrupted = False

    def on_sigint(signum, frame):  # finish the mutations in flight, then print the summary
        nonlocal interrupted
        interrupted = True
        stop.set()
    signal.signal(signal.SIGINT, on_sigint)
    signal.signal(signal.SIGTERM, on_sigint)
    try:
        for res in pool.imap_unordered(process, range(args.start, args.start + args.count), chunksize=2):
            if res.get("skipped"):
                continue
            if "error" in res:
                stats["errors"] += 1
                if stats["errors"] <= 5:
                    print("fuzz: internal error on mutation %d:\n%s" % (res["index"], res["error"]), file=sys.stderr)
                continue
            stats["mutations"] += 1
            first_op = res["ops"][0] if res["ops"] else "none"
            mut_family = ("h5py" if first_op.startswith("h5py") else
                          re.match(r"[a-z_:-]*", first_op.split(" ")[0].replace("msg0x", "msg")).group(0).rstrip(":") or "other")
            if mut_family in ("zip", "inner-inplace", "inner-rebuilt", "h5py", "folder", "index") and " " in first_op:
                mut_family += " " + re.match(r"[a-z0-9_-]*", first_op.split(" ")[1]).group(0)
            for r in res["runs"]:
                stats["runs"] += 1
                label = ("timeout" if r["timeout"] else SIGNAL_NAMES.get(r["signal"], str(r["signal"]))
                         if r["signal"] is not None else "exit %d" % r["rc"])
                stats["exit"][label] += 1
                stats["by_seed_kind"][res["kind"]][label] += 1
                stats["by_mutator"][mut_family][label] += 1
                if r["time"] > 3:
                    stats["slow"].append((round(r["time"], 2), res["index"], " ".join(r["args"][:2])))
                stats["maxrss"].append((r["maxrss_kb"], res["index"], r["args"][0]))
            kinds = set()
            for v in res["violations"]:
                stats["violations"][v["kind"]] += 1
                stats["distinct"][tuple(v["key"])] += 1
                kinds.add(v["kind"])
                saved = store.add(res, v, {"pristine": str(pristine), "workroot": str(workroot), "seed": args.seed})
                if saved:
                    print("fuzz: NEW %s %s -> %s (%s)" % (v["kind"], v["detail"], saved["file"],
                                                         v["stderr_first"][:100] or saved["top_of_stack"][:100]),
                          flush=True)
            for k in kinds:
                stats["violating_mutants"][k] += 1
            stats["maxrss"] = sorted(stats["maxrss"], reverse=True)[:5]
            if stats["mutations"] % 500 == 0:
                el = time.monotonic() - t0
                print("fuzz: %d mutations, %d runs, %.1f/s, violations %s" % (
                    stats["mutations"], stats["runs"], stats["mutations"] / el, dict(stats["violations"])), flush=True)
            if args.time_limit and time.monotonic() - t0 > args.time_limit and not stop.is_set():
                print("fuzz: time limit reached, finishing the mutations in flight", flush=True)
                stop.set()
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
    finally:
        pool.close()
        pool.join()
    elapsed = time.monotonic() - t0
    # seeds (pristine copies) and the repository samples must be untouched
    modified_seeds = [p for p, h in seed_hashes.items() if not Path(p).exists() or sha256(Path(p).read_bytes()) != h]
    modified_samples = []  # the binary only ever sees the private copies; samples/ may be edited by others meanwhile
    summary = {
        "binary": binary, "seed": args.seed, "elapsed_s": round(elapsed, 1), "mutations": stats["mutations"],
        "runs": stats["runs"], "exit_codes": dict(stats["exit"].most_common()),
        "violating_runs_by_kind": dict(stats["violations"]), "violating_mutants_by_kind": dict(stats["violating_mutants"]),
        "distinct_violations": len(stats["distinct"]), "crashers_saved": len(store.entries),
        "internal_errors": stats["errors"], "modified_seed_copies": modified_seeds, "modified_samples": modified_samples,
        "by_seed_kind": {k: dict(v) for k, v in stats["by_seed_kind"].items()},
        "by_mutator": {k: dict(v) for k, v in sorted(stats["by_mutator"].items())},
        "slowest_runs": sorted(stats["slow"], reverse=True)[:10], "max_rss_kb": stats["maxrss"][:5],
        "distinct_keys": [{"key": list(k), "count": c} for k, c in stats["distinct"].most_common()],
    }
    print("\n==== summary ====")
    print("mutations run: %d   runs: %d   time: %.0f s   (%s)" % (
        summary["mutations"], summary["runs"], elapsed, "interrupted" if interrupted else "complete"))
    print("exit codes: " + ", ".join("%s: %d" % kv for kv in stats["exit"].most_common()))
    for k, v in summary["by_seed_kind"].items():
        print("  %-8s %s" % (k, ", ".join("%s: %d" % kv for kv in sorted(v.items()))))
    print("violations (runs): " + (", ".join("%s: %d" % kv for kv in stats["violations"].most_common()) or "none"))
    print("violations (mutants): " + (", ".join("%s: %d" % kv for kv in stats["violating_mutants"].most_common()) or "none"))
    print("distinct violations: %d; crashers saved: %d in %s" % (len(stats["distinct"]), len(store.entries), out))
    for k, c in stats["distinct"].most_common(40):
        print("  %5d  %s" % (c, " | ".join(k)[:220]))
    print("inputs modified: %s" % ("none" if not (modified_seeds or modified_samples or stats["violations"]["modified"])
                                   else "YES: %d mutants, seeds %s, samples %s" % (
                                       stats["violations"]["modified"], modified_seeds, modified_samples)))
    print("slowest runs: %s" % summary["slowest_runs"][:5])
    print("largest max RSS (KiB): %s" % summary["max_rss_kb"][:3])
    if stats["errors"]:
        print("fuzzer internal errors: %d" % stats["errors"])
    if args.stats_json:
        Path(args.stats_json).write_text(json.dumps(summary, indent=1, default=str))
    shutil.rmtree(workroot, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
