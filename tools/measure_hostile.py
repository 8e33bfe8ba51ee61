#!/usr/bin/env python3
"""Runs a weightdrift binary on every class of hostile input and prints, per class, the exit
code, wall time, peak RSS and the first stderr line: the before/after table of issue 16.

    python3 tools/make_hostile.py --out /tmp/hostile --giant /tmp/hostile-giant
    python3 tools/measure_hostile.py BINARY --small /tmp/hostile --giant /tmp/hostile-giant [--limit 120]

Each run gets `--limit` seconds (then it is killed and reported as such). Python 3 standard
library only; peak RSS comes from the child's rusage.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "samples")


def cases(small, giant):
    s = lambda n: os.path.join(small, n)
    g = lambda n: os.path.join(giant, n) if giant else None
    base_keras = os.path.join(SAMPLES, "k3/pretrained.keras")
    out = [
        ("EXTERNAL storage (kernel)", ["inspect", "--stats", "--format", "json", s("external_storage.h5")]),
        ("EXTERNAL storage (iterations)", ["inspect", s("external_iterations.weights.h5")]),
        ("virtual dataset", ["inspect", "--stats", s("vds.weights.h5")]),
        ("external link", ["compare", s("external_link.h5"), s("external_link.h5")]),
        ("soft-linked weight", ["compare", s("soft_link_plain.weights.h5"), s("soft_link.weights.h5")]),
        ("dangling soft link", ["inspect", s("dangling_soft_link.weights.h5")]),
        ("hard-link DAG 2^40", ["inspect", s("hard_link_dag.weights.h5")]),
        ("hard-link cycle", ["inspect", s("hard_link_cycle.weights.h5")]),
        ("duplicate layer_names", ["inspect", s("duplicate_layer_names.h5")]),
        ("303 MiB deflated chunk", ["inspect", "--stats", s("big_chunk.weights.h5")]),
        ("16 fill-only 1 GiB weights", ["inspect", "--stats", s("fill_only.weights.h5")]),
        ("fletcher32 mismatch", ["inspect", "--stats", s("fletcher32_corrupt.weights.h5")]),
        ("corrupt deflate", ["inspect", "--stats", s("deflate_corrupt.weights.h5")]),
        ("forged names (table)", ["inspect", s("forged_names.h5")]),
        ("zip duplicate member", ["compare", base_keras, s("zip_duplicate.keras")]),
        ("zip name mismatch", ["compare", base_keras, s("zip_name_mismatch.keras")]),
        ("zip size mismatch", ["compare", base_keras, s("zip_size_mismatch.keras")]),
        ("zip overlapping member", ["compare", base_keras, s("zip_overlap.keras")]),
        ("HDF5 + zip polyglot", ["compare", base_keras, s("polyglot_h5_zip.keras")]),
        ("schedule decay_steps 1e19", ["schedule", "--config",
                                       '{"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1, '
                                       '"decay_steps": 1e19, "decay_rate": 0.5}}']),
        ("schedule decay_steps Int64.max", ["schedule", "--config",
                                            '{"class_name": "PolynomialDecay", "config": {"initial_learning_rate": 0.1, '
                                            '"decay_steps": 9223372036854775807}}']),
    ]
    tmp = tempfile.mkdtemp(prefix="wd-hostile-")
    repeated = os.path.join(tmp, "repeated.csv")
    open(repeated, "w").write("epoch,loss,loss\n0,1,1\n")
    huge_epoch = os.path.join(tmp, "epoch.csv")
    open(huge_epoch, "w").write("epoch,loss\n1e19,1\n")
    out += [("CSV repeated column", ["history", repeated]), ("CSV epoch 1e19", ["history", huge_epoch])]
    if giant:
        out += [
            ("10^6 links", ["inspect", g("million_links.weights.h5")]),
            ("10^6 duplicate layer names", ["inspect", g("million_duplicate_layer_names.h5")]),
            ("200 MB config attribute", ["inspect", g("huge_config.h5")]),
            ("1 GiB deflated chunk", ["inspect", "--stats", g("gib_chunk.weights.h5")]),
            ("10^7-row CSV", ["history", g("ten_million_rows.csv")]),
            ("100 MB CSV line", ["history", g("long_line.csv")]),
            ("YAML 10^9 aliases", ["compare", base_keras, base_keras, "--policy", g("billion_laughs.yaml")]),
        ]
    return out


HELPER = """
import json, resource, subprocess, sys, time
limit = float(sys.argv[1])
start = time.monotonic()
try:
    result = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            timeout=limit)
    status, stderr = str(result.returncode), result.stderr
except subprocess.TimeoutExpired as expired:
    status, stderr = "killed at %.0f s" % limit, expired.stderr or b""
elapsed = time.monotonic() - start
print(json.dumps({"status": status, "seconds": elapsed, "rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "stderr": stderr.decode(errors="replace")[:4000]}))
"""


def measure(binary, arguments, limit):
    """One run in a fresh helper process, so its rusage holds this child's peak RSS alone."""
    result = subprocess.run(["python3", "-c", HELPER, str(limit), binary] + arguments, capture_output=True, text=True)
    return json.loads(result.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary")
    parser.add_argument("--small", required=True)
    parser.add_argument("--giant")
    parser.add_argument("--limit", type=float, default=120)
    args = parser.parse_args()
    print("| class | exit | seconds | peak RSS MiB | stderr lines | first stderr line |")
    print("|---|---:|---:|---:|---:|---|")
    for name, arguments in cases(args.small, args.giant):
        r = measure(args.binary, arguments, args.limit)
        lines = r["stderr"].splitlines()
        first = (lines[0] if lines else "").replace("|", "\\|")[:200]
        print(f"| {name} | {r['status']} | {r['seconds']:.2f} | {r['rss'] / 1024:.0f} | {len(lines)} | {first!r} |", flush=True)


if __name__ == "__main__":
    main()
