#!/usr/bin/env python3
"""Turns what tools/bench/run.sh measured into results.md: sanity checks, the timing table,
the targets. Reads, under --out:

    bert<K>x[-<dtype>]/pair.json, layers400/pair.json, layers1600/pair.json
                                                what make_pair.py wrote
    runs/hyperfine-*.json                       hyperfine --export-json; command names are
                                                "tool|layout|size"
    runs/<id>.time, runs/<id>.out, runs/<id>.json
                                                the one /usr/bin/time -v run of each command
                                                (peak RSS, exit status) and its output

and runs `weightdrift inspect` on every generated file. Prints Markdown to stdout.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import re
import subprocess
import time

LAYOUTS = ("h5", "weights.h5", "keras", "safetensors")
FORMATS = {"h5": "legacy-h5", "weights.h5": "weights-h5", "keras": "keras-zip", "safetensors": "safetensors"}
# The targets of the performance issue: the yardstick is the two-thread probe.
PROBE = "probe 2 threads"
TARGETS = {"peer": 25.0, "probe": 1.5, "rss_mib": 64.0, "flat": 1.15, "keras": 1.1, "half": 1.5, "cold": 1.2,
           "inspect_ms": 50.0}


def run_id(name):
    """hyperfine command name -> file stem used by run.sh."""
    return re.sub(r"[^A-Za-z0-9.]+", "_", name).strip("_")


def load_timings(out):
    rows = {}
    for path in sorted(glob.glob(os.path.join(out, "runs", "hyperfine-*.json"))):
        with open(path) as handle:
            for result in json.load(handle)["results"]:
                tool, layout, size = result["command"].split("|")
                rows[tool, layout, size] = result
    return rows


def time_v(out, name):
    """(peak RSS in MiB, exit status) from the /usr/bin/time -v run, or (None, None)."""
    path = os.path.join(out, "runs", run_id(name) + ".time")
    if not os.path.exists(path):
        return None, None
    text = open(path).read()
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    status = re.search(r"Exit status: (\d+)", text)
    return (int(rss.group(1)) / 1024 if rss else None), (int(status.group(1)) if status else None)


def read_json(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def totals_from_weightdrift(report):
    t = {"count": 0, "finiteCount": 0, "changedCount": 0, "tunedNaN": 0, "tunedInf": 0,
         "sumBaseSq": 0.0, "sumTunedSq": 0.0, "sumDiffSq": 0.0, "maxAbsChange": 0.0}
    for layer in report["layers"]:
        t["count"] += layer["count"] or 0
        t["finiteCount"] += layer["finiteCount"] or 0
        t["changedCount"] += round((layer["changedFraction"] or 0) * (layer["count"] or 0))
        t["tunedNaN"] += layer["nanCount"]
        t["tunedInf"] += layer["infCount"]
        t["sumBaseSq"] += (layer["baseNorm"] or 0) ** 2
        t["sumTunedSq"] += (layer["tunedNorm"] or 0) ** 2
        t["sumDiffSq"] += (layer["diffNorm"] or 0) ** 2
        t["maxAbsChange"] = max(t["maxAbsChange"], layer["maxAbsChange"] or 0)
    return t


def agree(a, b, keys, tolerance=1e-9):
    """The keys on which two totals disagree (exact for counts, relative for sums)."""
    bad = []
    for key in keys:
        x, y = a[key], b[key]
        if isinstance(x, int) and isinstance(y, int):
            ok = x == y
        else:
            ok = math.isclose(x, y, rel_tol=tolerance, abs_tol=0.0)
        if not ok:
            bad.append(f"{key} {x!r} vs {y!r}")
    return bad


def sanity(out, weightdrift, folders):
    """[(check, ok, detail)]."""
    checks = []
    for folder in folders:
        pair = read_json(os.path.join(out, folder, "pair.json"))
        size = folder.replace("bert", "")
        # inspect reads every generated file
        for layout in pair["layouts"]:
            for side in ("base", "tuned"):
                path = pair["layouts"][layout][side]
                proc = subprocess.run([weightdrift, "inspect", path, "--format", "json"],
                                      capture_output=True, text=True)
                info = json.loads(proc.stdout) if proc.returncode == 0 else None
                ok = (info is not None and info["format"] == FORMATS[layout]
                      and sum(layer["parameters"] for layer in info["layers"]) == pair["parameters"]
                      and len([l for l in info["layers"] if l["weights"]]) == pair["weightedLayers"])
                detail = (f"{info['format']}, {len([l for l in info['layers'] if l['weights']])} layers with weights, "
                          f"{sum(layer['parameters'] for layer in info['layers']):,} parameters"
                          if info else f"exit {proc.returncode}: {proc.stderr.strip()}")
                checks.append((f"inspect {folder}/{os.path.basename(path)}", ok, detail))
        if folder.startswith("layers"):
            continue
        # compare pairs everything by name, and finds the one NaN
        for layout in pair["layouts"]:
            name = f"weightdrift|{layout}|{size}"
            report = read_json(os.path.join(out, "runs", run_id(name) + ".json"))
            _, status = time_v(out, name)
            if report is None:
                checks.append((f"compare {folder} {layout}", False, f"no JSON (exit {status}); see runs/{run_id(name)}.err"))
                continue
            rules = sorted({layer["matchedBy"] for layer in report["layers"]})
            statuses = {layer["status"] for layer in report["layers"]}
            failing = [layer["name"] for layer in report["layers"] if layer["failsGate"]]
            totals = totals_from_weightdrift(report)
            ok = (status == 1 and rules == ["name"] and not statuses & {"new", "removed", "reshaped"}
                  and totals["count"] == pair["parameters"] and totals["tunedNaN"] == 1
                  and failing == [pair["nan"]["layer"]])
            checks.append((f"compare {folder} {layout}: paired by name, NaN found", ok,
                           f"exit {status}, matchedBy {rules}, statuses {sorted(statuses)}, "
                           f"{totals['count']:,} values, {totals['tunedNaN']} NaN, failing {failing}"))
            # the probe's totals are weightdrift's totals
            probe = read_json(os.path.join(out, "runs", run_id(f"{PROBE}|{layout}|{size}") + ".out"))
            if probe:
                bad = agree(totals, probe, ["count", "finiteCount", "changedCount", "tunedNaN", "tunedInf",
                                            "sumBaseSq", "sumTunedSq", "sumDiffSq", "maxAbsChange"])
                checks.append((f"probe totals = weightdrift totals, {folder} {layout}", not bad,
                               "; ".join(bad) if bad else
                               f"Σa² {probe['sumBaseSq']:.10g}, Σ(b−a)² {probe['sumDiffSq']:.10g}, "
                               f"relative change {probe['relativeChange']:.6g}"))
            # and so are the h5py + numpy peer's
            peer = read_json(os.path.join(out, "runs", run_id(f"h5py+numpy peer|{layout}|{size}") + ".out"))
            if peer:
                p = {"count": 0, "finiteCount": 0, "changedCount": 0, "tunedNaN": 0, "tunedInf": 0,
                     "sumBaseSq": 0.0, "sumTunedSq": 0.0, "sumDiffSq": 0.0, "maxAbsChange": 0.0}
                for layer in peer["layers"]:
                    for key in p:
                        p[key] = max(p[key], layer[key]) if key == "maxAbsChange" else p[key] + layer[key]
                bad = agree(totals, p, list(p))
                checks.append((f"peer totals = weightdrift totals, {folder} {layout}", not bad,
                               "; ".join(bad) if bad else "all sums and counts agree"))
    return checks


def fmt(value, digits=3):
    return "—" if value is None else f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:.0f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/work/bench-data")
    parser.add_argument("--weightdrift", required=True)
    parser.add_argument("--commit", default="?")
    parser.add_argument("--runs", default="?")
    args = parser.parse_args()
    out = args.out

    folders = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(out, "bert*x*", "pair.json")))
    pairs = {f.replace("bert", ""): read_json(os.path.join(out, f, "pair.json")) for f in folders}
    timings = load_timings(out)

    lines = ["# WeightDrift benchmark", ""]
    try:  # share of the last 5 minutes in which some runnable task waited for a CPU
        pressure = open("/proc/pressure/cpu").readline().split()[3].split("=")[1] + "%"
    except (OSError, IndexError):
        pressure = "?"
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    lines += [f"- commit `{args.commit}`, {time.strftime('%Y-%m-%d %H:%M')}; {os.cpu_count()} × {cpu}; "
              f"load average at report time {os.getloadavg()[0]:.2f}, CPU pressure (PSI some, 5 min) {pressure}: "
              "other work on the machine makes every wall time slower",
              f"- hyperfine `--warmup 1 --runs {args.runs}`, page cache warm; medians. GB/s = bytes of both files / time. "
              "CPU s = user + system (mean; weightdrift uses every core; it hashes the inputs on two more threads only with --hash). "
              f"× probe = time / the time of the {PROBE} (`-O3 -march=native -ffast-math`, mmap) on the same files; "
              "÷ weightdrift = time / weightdrift's time on the same files "
              "(for the peer: how many times faster weightdrift is). The probe's peak RSS counts the mapped page cache. "
              "Cold rows: the page cache dropped before every run (hyperfine --prepare).",
              ""]
    for size, pair in pairs.items():
        lines.append(f"- {size} pair: {pair['parameters']:,} {pair.get('dtype', 'float32')} parameters in "
                     f"{pair['weightedLayers']} weighted layers, {pair['layouts']['weights.h5']['bytes'][0] / 1e6:.0f} MB "
                     "per .weights.h5")
    lines += ["", "| command | layout | size | median s | min s | CPU s | GB/s | × probe | ÷ weightdrift | peak RSS MiB |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]

    def file_bytes(layout, size):
        pair = pairs.get(size)
        return sum(pair["layouts"][layout]["bytes"]) if pair and layout in pair["layouts"] else None

    order = {"weightdrift": 0, "weightdrift --hash": 0.5, "probe 1 thread": 1, PROBE: 1.5, "sha256 of both (openssl)": 2,
             "h5py+numpy peer": 3, "h5diff": 4, "cat (cold)": 5, "weightdrift (cold)": 6}
    keys = sorted(timings, key=lambda k: (k[2] not in pairs, k[2], LAYOUTS.index(k[1]) if k[1] in LAYOUTS else 9,
                                          order.get(k[0], 9), k[0]))
    for tool, layout, size in keys:
        result = timings[tool, layout, size]
        median = result["median"]
        nbytes = file_bytes(layout, size)
        probe = timings.get((PROBE, layout, size))
        wd = timings.get(("weightdrift", layout, size))
        rss, _ = time_v(out, f"{tool}|{layout}|{size}")
        cpu = result["user"] + result["system"]
        lines.append(f"| {tool} | {layout} | {size} | {median:.3f} | {min(result['times']):.3f} | {cpu:.2f} | "
                     f"{fmt(nbytes / median / 1e9) if nbytes else '—'} | "
                     f"{fmt(median / probe['median']) if probe and tool != PROBE else '—'} | "
                     f"{fmt(median / wd['median']) if wd and not tool.startswith('weightdrift') else '—'} | {fmt(rss, 3)} |")

    # Targets
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]

    def target(text, measured, ok):
        lines.append(f"| {text} | {measured} | {'yes' if ok else '**no**'} |")

    for size in pairs:
        for layout in LAYOUTS:
            wd, probe = timings.get(("weightdrift", layout, size)), timings.get((PROBE, layout, size))
            peer = timings.get(("h5py+numpy peer", layout, size))
            if wd and probe:
                r = wd["median"] / probe["median"]
                cpu = (wd["user"] + wd["system"]) / (probe["user"] + probe["system"])
                target(f"within {TARGETS['probe']}× of the {PROBE} (weightdrift, {layout}, {size})",
                       f"{r:.2f}× (CPU time {cpu:.1f}×)", r <= TARGETS["probe"])
            if wd and peer:
                r = peer["median"] / wd["median"]
                cpu = (peer["user"] + peer["system"]) / (wd["user"] + wd["system"])
                target(f"≥ {TARGETS['peer']:.0f}× faster than the h5py+numpy peer (weightdrift, {layout}, {size})",
                       f"{r:.2f}× (CPU time {cpu:.1f}×)", r >= TARGETS["peer"])
    rss_all = [(k, time_v(out, "|".join(k))[0]) for k in keys if k[0].startswith("weightdrift")]
    rss_all = [(k, r) for k, r in rss_all if r is not None]
    if rss_all:
        worst = max(rss_all, key=lambda item: item[1])
        target(f"peak RSS ≤ {TARGETS['rss_mib']:.0f} MiB (every weightdrift run)",
               f"max {worst[1]:.1f} MiB ({' '.join(worst[0])})", worst[1] <= TARGETS["rss_mib"])
    sizes = [size for size in pairs if "-" not in size]  # float32 pairs
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        for layout in LAYOUTS:
            a, b = timings.get(("weightdrift", layout, small)), timings.get(("weightdrift", layout, large))
            if a and b:
                r = (b["median"] / file_bytes(layout, large)) / (a["median"] / file_bytes(layout, small))
                cpu = (((b["user"] + b["system"]) / file_bytes(layout, large))
                       / ((a["user"] + a["system"]) / file_bytes(layout, small)))
                target(f"time per byte flat from {small} to {large} ({layout}; ratio ≤ {TARGETS['flat']})",
                       f"{r:.2f} (CPU time {cpu:.2f})", r <= TARGETS["flat"])
    for size in pairs:
        k, w = timings.get(("weightdrift", "keras", size)), timings.get(("weightdrift", "weights.h5", size))
        if k and w:
            r = k["median"] / w["median"]
            cpu = (k["user"] + k["system"]) / (w["user"] + w["system"])
            target(f".keras within {TARGETS['keras']}× of .weights.h5 ({size})", f"{r:.2f}× (CPU time {cpu:.2f}×)",
                   r <= TARGETS["keras"])
    for size in pairs:  # float16 / bfloat16 against float32, per byte of the .weights.h5 pair
        if "-" not in size:
            continue
        half, full = timings.get(("weightdrift", "weights.h5", size)), timings.get(("weightdrift", "weights.h5", size.split("-")[0]))
        if half and full:
            per_byte = [t["median"] / file_bytes("weights.h5", z) for t, z in ((half, size), (full, size.split("-")[0]))]
            r = per_byte[0] / per_byte[1]
            target(f"{size.split('-')[1]} within {TARGETS['half']}× of float32 per byte (weights.h5)",
                   f"{r:.2f}× ({half['median']:.3f} s for {file_bytes('weights.h5', size) / 1e6:.0f} MB)",
                   r <= TARGETS["half"])
    for (tool, layout, size), cold in timings.items():  # cold cache against cat of both files
        cat = timings.get(("cat (cold)", layout, size))
        if tool == "weightdrift (cold)" and cat:
            r = cold["median"] / cat["median"]
            target(f"cold cache within {TARGETS['cold']}× of cat of both files ({layout}, {size})",
                   f"{r:.2f}× ({cold['median']:.3f} s vs {cat['median']:.3f} s)", r <= TARGETS["cold"])
    for layout in LAYOUTS:
        r = timings.get(("weightdrift inspect", layout, "400 layers"))
        if r:
            ms = r["median"] * 1000
            target(f"inspect of 400 layers ≤ {TARGETS['inspect_ms']:.0f} ms ({layout})", f"{ms:.1f} ms",
                   ms <= TARGETS["inspect_ms"])

    # Sanity
    lines += ["", "## Sanity checks", "", "| check | ok | detail |", "|---|---|---|"]
    for text, ok, detail in sanity(out, args.weightdrift, folders + ["layers400", "layers1600"]):
        lines.append(f"| {text} | {'yes' if ok else '**NO**'} | {detail} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
