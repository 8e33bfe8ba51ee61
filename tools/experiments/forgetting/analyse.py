#!/usr/bin/env python3
"""Candidate forgetting-risk scores from WeightDrift's JSON vs measured forgetting.

Reads runs.json (written by run.py: accuracies per fine-tune) and drift/<run>.json (the output
of `weightdrift compare PRETRAINED RUN --format json`), computes several candidate scores per
run, their Spearman rank correlation with the measured drop in original-task accuracy (all runs,
and per family), fits low/medium/high thresholds on the best score, and writes results.csv and
results.md (with findings.md, the hand-written discussion, appended).

Only the standard library, numpy and scipy are used:

    /work/venv-samples/bin/python analyse.py
"""

import argparse
import csv
import itertools
import json
import math
import subprocess
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

HERE = Path(__file__).resolve().parent
COMPARED = {"ok", "warn", "fail", "frozen"}   # matched, same shapes, compared
# WeightDrift's shipped rule at commit e2f2e8b (Sources/Drift/Forgetting.swift): score (b),
# low < 0.05 <= medium < 0.20 <= high
CURRENT_RULE = ("B_depth_agg", 0.05, 0.20)
LOW, HIGH = 5.0, 30.0                         # drop (points) -> low < 5 <= medium <= 30 < high
CLASSES = ["low", "medium", "high"]


# ---------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------

def backbone(doc, drop_output_layer=False):
    """Layers present in both checkpoints with the same shapes, in model order."""
    layers = [l for l in doc["layers"] if l["status"] in COMPARED]
    if drop_output_layer and layers:
        # the last compared layer in model order, if it is also the base model's last layer:
        # the shared classifier head (never true in the new-head family, where it is 'removed')
        base_last = [l for l in doc["layers"] if l["status"] != "new"][-1]
        if layers[-1] is base_last:
            layers = layers[:-1]
    return layers


def depth_weights(n):
    """Linear from 2 (first layer) to 1 (last backbone layer)."""
    if n == 1:
        return [2.0]
    return [2.0 - i / (n - 1) for i in range(n)]


def agg_with_depth_ratio(layers, ratio):
    """(a) with depth weights linear from `ratio` (first layer) to 1 (last backbone layer)."""
    n = len(layers)
    if n == 0:
        return 0.0
    if any(not finite(l.get("diffNorm")) for l in layers):
        return math.inf
    w = [1.0] if n == 1 else [ratio + (1.0 - ratio) * i / (n - 1) for i in range(n)]
    num = sum(wi * float(l["diffNorm"]) ** 2 for wi, l in zip(w, layers))
    den = sum(wi * float(l["baseNorm"]) ** 2 for wi, l in zip(w, layers))
    return math.sqrt(num / den)


def finite(x):
    return x is not None and math.isfinite(x)


def scores_for(layers):
    """Candidate scores over a list of layer rows. Non-finite drift -> inf (worst)."""
    n = len(layers)
    if n == 0:
        return {k: 0.0 for k in SCORES}
    if any(not finite(l.get("relativeChange")) or not finite(l.get("diffNorm"))
           or not finite(l.get("cosine")) for l in layers):
        return {k: math.inf for k in SCORES}
    w = depth_weights(n)
    p = [float(l["parameters"]) for l in layers]
    r = [float(l["relativeChange"]) for l in layers]
    d2 = [float(l["diffNorm"]) ** 2 for l in layers]
    b2 = [float(l["baseNorm"]) ** 2 for l in layers]
    cos = [float(l["cosine"]) for l in layers]
    return {
        "A_agg": math.sqrt(sum(d2) / sum(b2)),
        "A2_param_mean": sum(pi * ri for pi, ri in zip(p, r)) / sum(p),
        "B_depth_agg": math.sqrt(sum(wi * x for wi, x in zip(w, d2)) /
                                 sum(wi * x for wi, x in zip(w, b2))),
        "B2_depth_param_mean": sum(wi * pi * ri for wi, pi, ri in zip(w, p, r)) /
                               sum(wi * pi for wi, pi in zip(w, p)),
        "C_max": max(r),
        "D_mean_1mcos": sum(1.0 - c for c in cos) / n,
        "E_first": r[0],
        "F_mean": sum(r) / n,
    }


SCORES = {
    "A_agg": "(a) aggregate relative change: sqrt(sum ||dW||^2 / sum ||W0||^2)",
    "A2_param_mean": "(a') parameter-weighted mean of layer relativeChange",
    "B_depth_agg": "(b) (a) with depth weights 2 (first layer) -> 1 (last backbone layer)",
    "B2_depth_param_mean": "(b') (a') with the same depth weights (times parameters)",
    "C_max": "(c) max layer relativeChange",
    "D_mean_1mcos": "(d) mean over layers of (1 - cosine)",
    "E_first": "(e) first layer's relativeChange",
    "F_mean": "(f) unweighted mean layer relativeChange",
}
SHORT = {"A_agg": "a", "A2_param_mean": "a'", "B_depth_agg": "b", "B2_depth_param_mean": "b'",
         "C_max": "c", "D_mean_1mcos": "d", "E_first": "e", "F_mean": "f"}


def drop_class(drop_pts):
    return 0 if drop_pts < LOW else (2 if drop_pts > HIGH else 1)


# ---------------------------------------------------------------------------
# Thresholds
# ---------------------------------------------------------------------------

def classify(s, t1, t2):
    return 0 if s < t1 else (2 if s >= t2 else 1)


def cost(truth, pred):
    """Errors first, then how far off (high called low costs 2), then under-calls."""
    wrong = sum(t != p for t, p in zip(truth, pred))
    dist = sum(abs(t - p) for t, p in zip(truth, pred))
    under = sum(p < t for t, p in zip(truth, pred))
    return (wrong, dist, under)


def fit_thresholds(s, truth):
    """Exhaustive search over cut points halfway between adjacent distinct finite scores."""
    v = sorted(set(x for x in s if math.isfinite(x)))
    cuts = [v[0] / 2] + [(a + b) / 2 for a, b in zip(v, v[1:])] + [v[-1] * 2]
    # geometric midpoints read better for scores spanning decades; use them when positive
    cuts = [c for c in cuts]
    best = None
    for t1, t2 in itertools.combinations_with_replacement(cuts, 2):
        pred = [classify(x, t1, t2) for x in s]
        c = cost(truth, pred)
        if best is None or c < best[0]:
            best = (c, t1, t2)
    return best


def loo_accuracy(s, truth):
    """Leave-one-out: fit on n-1 runs, classify the held-out one."""
    ok = 0
    for i in range(len(s)):
        ss = s[:i] + s[i + 1:]
        tt = truth[:i] + truth[i + 1:]
        _, t1, t2 = fit_thresholds(ss, tt)
        ok += classify(s[i], t1, t2) == truth[i]
    return ok / len(s)


# ---------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------

def f3(x):
    if x is None:
        return "—"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return f"{x:.3f}" if abs(x) >= 0.001 or x == 0 else f"{x:.1e}"


def fpct(x):
    return f"{100 * x:.1f}"


def rho_table(rows, keys, fam_filter, label):
    out = []
    for k in keys:
        line = [SHORT[k] + " `" + k + "`"]
        for name, fam in fam_filter:
            sel = [r for r in rows if fam is None or r["family"] == fam]
            s = [r["scores"][k] for r in sel]
            d = [r["dropPts"] for r in sel]
            rho, p = spearmanr(s, d)
            tau, _ = kendalltau(s, d)
            line.append(f"{rho:+.3f} (p={p:.1g}, τ={tau:+.2f}, n={len(sel)})"
                        if not math.isnan(rho) else "n/a")
        out.append(line)
    head = ["score" + label] + [n for n, _ in fam_filter]
    return md_table(head, out)


def md_table(head, rows):
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def run_current_binary(binary, doc):
    """`compare --format json` with a newer WeightDrift; keep only its forgetting assessment."""
    out = {"binary": str(binary), "runs": {}}
    try:
        repo = Path(binary).resolve().parents[2]
        out["commit"] = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                                       stdout=subprocess.PIPE, text=True).stdout.strip()
    except Exception:
        out["commit"] = None
    pre = str(Path(doc["runs"][0]["path"]).parent / "pretrained.keras")
    for r in doc["runs"]:
        res = subprocess.run([str(binary), "compare", pre, r["path"], "--format", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if res.returncode not in (0, 1):
            raise SystemExit(f"{binary} exit {res.returncode}: {res.stderr.strip()}")
        f = json.loads(res.stdout).get("forgetting")
        if f is None:
            raise SystemExit(f"{binary} has no forgetting assessment in its JSON")
        out["runs"][r["run"]] = {k: f.get(k) for k in ("risk", "score", "backboneRelativeChange",
                                                       "headLayers", "rule")}
    (HERE / "current_risk.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--current-binary", help="a newer weightdrift with the forgetting assessment: "
                    "run it on every saved model and write current_risk.json (needs the models "
                    "under /work/forgetting-runs)")
    args = ap.parse_args()
    doc = json.loads((HERE / "runs.json").read_text())
    current = None
    if args.current_binary:
        current = run_current_binary(args.current_binary, doc)
    elif (HERE / "current_risk.json").exists():
        current = json.loads((HERE / "current_risk.json").read_text())
    rows = []
    for r in doc["runs"]:
        wd = json.loads((HERE / "drift" / f"{r['run']}.json").read_text())
        bb = backbone(wd)
        bb_nohead = backbone(wd, drop_output_layer=True)
        worst = wd["summary"].get("worstLayer")
        worst_rc = next((l.get("relativeChange") for l in wd["layers"] if l["name"] == worst), None)
        rows.append({
            **r,
            "dropPts": 100 * r["drop"],
            "class": drop_class(100 * r["drop"]),
            "backbone": [l["name"] for l in bb],
            "layerRC": {l["name"]: l.get("relativeChange") for l in wd["layers"]},
            "layerStatus": {l["name"]: l["status"] for l in wd["layers"]},
            "scores": scores_for(bb),
            "_bb": bb, "_bbNoHead": bb_nohead,
            "scoresNoHead": scores_for(bb_nohead),
            "verdict": wd["summary"]["verdict"],
            "worst": worst, "worstRC": worst_rc,
        })

    keys = list(SCORES)
    fams = [("all", None), ("shared head", "shared"), ("new head", "newhead")]

    # ---- Spearman -------------------------------------------------------------
    rho_all = {}
    for k in keys:
        rho_all[k] = {fam or "all": spearmanr([r["scores"][k] for r in rows
                                               if fam is None or r["family"] == fam],
                                              [r["dropPts"] for r in rows
                                               if fam is None or r["family"] == fam])[0]
                      for _, fam in fams}
    rows_nohead = [{**r, "scores": r["scoresNoHead"]} for r in rows]
    rho_nohead = {k: spearmanr([r["scoresNoHead"][k] for r in rows if r["family"] == "shared"],
                               [r["dropPts"] for r in rows if r["family"] == "shared"])[0]
                  for k in keys}

    best = max(keys, key=lambda k: rho_all[k]["all"])
    best_nh = max(keys, key=lambda k: rho_all[k]["newhead"])

    # ---- thresholds on the best score --------------------------------------------------
    def thresholds_block(key, sel, title):
        s = [r["scores"][key] for r in sel]
        truth = [r["class"] for r in sel]
        (wrong, dist, under), t1, t2 = fit_thresholds(s, truth)
        loo = loo_accuracy(s, truth)
        conf = np.zeros((3, 3), dtype=int)
        pred = [classify(x, t1, t2) for x in s]
        for t, p in zip(truth, pred):
            conf[t, p] += 1
        mis = [(r, p) for r, p in zip(sel, pred) if p != r["class"]]
        lines = [f"**{title}** — score `{key}`, {len(sel)} runs: fitted cut points "
                 f"low < **{t1:.4g}** ≤ medium < **{t2:.4g}** ≤ high "
                 f"(halfway between neighbouring runs' scores). In-sample: {len(sel) - wrong}/"
                 f"{len(sel)} runs in the right class ({under} under-called); "
                 f"leave-one-out (refit without the run, then classify it): "
                 f"{100 * loo:.0f}%.", "",
                 md_table(["truth \\ predicted"] + CLASSES,
                          [[CLASSES[i]] + [int(c) for c in conf[i]] for i in range(3)]), ""]
        if mis:
            lines.append("Misclassified:")
            lines.append("")
            for r, p in sorted(mis, key=lambda rp: rp[0]["scores"][key]):
                lines.append(f"- `{r['run']}`: drop {r['dropPts']:.1f} pts (truth "
                             f"{CLASSES[r['class']]}), score {f3(r['scores'][key])} → "
                             f"{CLASSES[p]}")
            lines.append("")
        return lines, (t1, t2)

    def apply_rule(key, t1, t2, sel, title):
        pred = [classify(r["scores"][key], t1, t2) for r in sel]
        ok = sum(p == r["class"] for p, r in zip(pred, sel))
        under = sum(p < r["class"] for p, r in zip(pred, sel))
        mis = [f"`{r['run']}` ({r['dropPts']:.1f} pts, {CLASSES[r['class']]} → {CLASSES[p]})"
               for p, r in zip(pred, sel) if p != r["class"]]
        return (f"- {title}: {ok}/{len(sel)} right, {under} under-called"
                + (": " + "; ".join(mis) if mis else ""))

    # ---- rank disagreements ---------------------------------------------------------
    def disagreements(key, sel, top=8):
        s = np.array([r["scores"][key] for r in sel], dtype=float)
        d = np.array([r["dropPts"] for r in sel])
        from scipy.stats import rankdata
        rs, rd = rankdata(s), rankdata(d)
        res = rs - rd
        order = np.argsort(-np.abs(res))[:top]
        out = []
        for i in order:
            r = sel[i]
            out.append(f"- `{r['run']}`: drop {r['dropPts']:.1f} pts (rank {rd[i]:.1f} of "
                       f"{len(sel)}), score {f3(r['scores'][key])} (rank {rs[i]:.1f}) — "
                       f"{'score too high' if res[i] > 0 else 'score too low'} by "
                       f"{abs(res[i]):.1f} ranks")
        return out

    # ---- CSV ------------------------------------------------------------------------
    layer_names = []
    for r in rows:
        for n in r["layerRC"]:
            if n not in layer_names:
                layer_names.append(n)
    with open(HERE / "results.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["run", "family", "optimizer", "lr", "epochs", "seed", "freeze",
                    "orig_acc_before", "orig_acc_after", "drop_pts", "drop_class",
                    "orig_acc_after_masked_0to4", "new_acc", "new_acc_10way_masked_5to9",
                    "weights_nan", "final_train_loss"]
                   + [f"score_{k}" for k in keys] + [f"score_nohead_{k}" for k in keys]
                   + [f"rc_{n}" for n in layer_names] + [f"status_{n}" for n in layer_names]
                   + ["wd_verdict", "wd_worst_layer", "wd_worst_rc", "wd_exit"])

        def c(x):
            if x is None:
                return ""
            if isinstance(x, float):
                return "inf" if math.isinf(x) else f"{x:.6g}"
            return x

        for r in rows:
            w.writerow([r["run"], r["family"], r["optimizer"], r["lr"], r["epochs"], r["seed"],
                        r["freeze"], c(r["origAccBefore"]), c(r["origAccAfter"]),
                        f"{r['dropPts']:.2f}", CLASSES[r["class"]],
                        c(r["origAccAfterMasked"]), c(r["newAcc"]),
                        c(r["newAccMaskedTo5to9"]), r["weightsHaveNaN"],
                        c(r["finalTrainLoss"]) if isinstance(r["finalTrainLoss"], float)
                        else r["finalTrainLoss"]]
                       + [c(r["scores"][k]) for k in keys]
                       + [c(r["scoresNoHead"][k]) for k in keys]
                       + [c(r["layerRC"].get(n)) for n in layer_names]
                       + [r["layerStatus"].get(n, "") for n in layer_names]
                       + [r["verdict"], r["worst"], c(r["worstRC"]), r["weightdriftExit"]])

    # ---- Markdown ----------------------------------------------------------------------
    pre = doc["pretrained"]
    md = ["# Forgetting experiment: results", "",
          "Generated by `analyse.py` from `runs.json` and `drift/*.json` (do not edit by hand; "
          "the discussion at the end is `findings.md`).", "",
          f"Pretrained CNN ({pre['params']} parameters: conv1 16 → pool → conv2 32 → pool → "
          f"conv3 32 → dense 64 → head 10) trained on digits 0–4 "
          f"({pre['trainSizes']['old']} images, Adam {pre['lr']:g}, {pre['epochs']} epochs): "
          f"**{100 * pre['origAcc']:.1f}%** on the {pre['testSizes']['old']} held-out 0–4 "
          f"images. Fine-tunes on digits 5–9 ({pre['trainSizes']['new']} train / "
          f"{pre['testSizes']['new']} test images), batch 32. Environment: "
          + ", ".join(f"{k} {v}" for k, v in doc["env"].items())
          + f"; WeightDrift commit `{(doc['weightdrift']['commit'] or '?')[:12]}`.", "",
          "- **drop** = original-task accuracy before − after, in points. Shared head: 10-way "
          "accuracy on held-out 0–4. New head: the OLD head re-attached to the fine-tuned "
          "backbone.",
          "- **new acc**: shared head 10-way on held-out 5–9; new head: its own 5-way.",
          "- **masked**: the old-task prediction restricted to the 0–4 outputs (shared head "
          "only; for the new head it equals *after*).",
          "- **backbone** = layers WeightDrift compared (status ok/warn/fail/frozen: in both "
          "files, same shapes). In the shared family that includes the 10-unit `head`; in "
          "the new-head family `head` is *removed* and `head_new` *new*, so the backbone is "
          "conv1…dense.",
          f"- Scores: " + "; ".join(f"**{SHORT[k]}** {v.split(') ', 1)[1]}"
                                   for k, v in SCORES.items()) + ".",
          f"- Class from the drop: low < {LOW:g} ≤ medium ≤ {HIGH:g} < high (points).", "",
          "## Runs", ""]
    head = ["run", "lr", "ep", "acc before", "after", "drop", "masked", "new acc"] + \
           [SHORT[k] for k in keys] + ["verdict", "worst layer (rc)"]
    body = []
    for r in rows:
        body.append([f"`{r['run']}`", f"{r['lr']:g}", r["epochs"], fpct(r["origAccBefore"]),
                     fpct(r["origAccAfter"]), f"**{r['dropPts']:.1f}**",
                     fpct(r["origAccAfterMasked"]) if r["family"] == "shared" else "",
                     fpct(r["newAcc"])]
                    + [f3(r["scores"][k]) for k in keys]
                    + [r["verdict"], f"{r['worst']} ({f3(r['worstRC'])})"])
    md += [md_table(head, body), ""]

    md += ["Per-layer relativeChange (WeightDrift) for every run is in `results.csv` "
           "(`rc_*`, `status_*`).", "",
           "## Spearman's rho: score vs drop", "",
           "scipy.stats.spearmanr (ties get average ranks; many shared-head runs tie at a "
           "drop of 99.6 = every 0–4 image lost), two-sided p, and Kendall's τ-b.", "",
           rho_table(rows, keys, fams, ""), "",
           "Sensitivity: the shared family with its output layer (`head`) taken OUT of the "
           "backbone (conv1…dense only, as in the new-head family):", "",
           md_table(["score (no head)", "shared head rho"],
                    [[SHORT[k] + " `" + k + "`", f"{rho_nohead[k]:+.3f}"] for k in keys]), "",
           "Masked old-task accuracy (only the 0–4 outputs compete) in the shared family, i.e. "
           "how much of the shared-head forgetting is the head preferring 5–9 rather than lost "
           "features:", "",
           md_table(["run", "drop", "drop if only 0–4 outputs compete", "head rc",
                     f"{SHORT[best]} without head"],
                    [[f"`{r['run']}`", f"{r['dropPts']:.1f}",
                      f"{100 * (r['origAccBefore'] - r['origAccAfterMasked']):.1f}",
                      f3(r["layerRC"].get("head")), f3(r["scoresNoHead"][best])]
                     for r in rows if r["family"] == "shared"]), "",
           "## Threshold fit", "",
           f"Best score over all runs by Spearman: **{SHORT[best]} `{best}`** "
           f"(rho {rho_all[best]['all']:+.3f}); best on the new-head family: "
           f"**{SHORT[best_nh]} `{best_nh}`** (rho {rho_all[best_nh]['newhead']:+.3f}). "
           "Cut points were searched exhaustively to minimise (wrong class, total class "
           "distance, under-calls) — they are TUNED ON THESE RUNS.", ""]
    fitted = {}
    for key in dict.fromkeys([best, best_nh, "A_agg", "B_depth_agg"]):
        for title, sel in (("all runs", rows),
                           ("new-head family", [r for r in rows if r["family"] == "newhead"]),
                           ("shared-head family", [r for r in rows if r["family"] == "shared"])):
            lines, t = thresholds_block(key, sel, f"{title}")
            fitted[(key, title)] = t
            md += lines
    md += ["## Rank disagreements of the best score", "",
           f"Runs whose rank by `{best}` is furthest from their rank by drop (all runs):", ""]
    md += disagreements(best, rows) + [""]
    md += [f"Same, new-head family, `{best_nh}`:", ""]
    md += disagreements(best_nh, [r for r in rows if r["family"] == "newhead"]) + [""]
    md += [f"Same, shared-head family, `{best}`:", ""]
    md += disagreements(best, [r for r in rows if r["family"] == "shared"]) + [""]

    # ---- does depth weighting help? ---------------------------------------------------
    ratios = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
    sweep = []
    for q in ratios:
        line = [f"{q:g}" + (" (none)" if q == 1 else " (brief)" if q == 2 else
                            " (later layers weigh more)" if q < 1 else "")]
        for _, fam in fams:
            sel = [r for r in rows if fam is None or r["family"] == fam]
            line.append(f"{spearmanr([agg_with_depth_ratio(r['_bb'], q) for r in sel], [r['dropPts'] for r in sel])[0]:+.3f}")
        sel = [r for r in rows if r["family"] == "shared"]
        line.append(f"{spearmanr([agg_with_depth_ratio(r['_bbNoHead'], q) for r in sel], [r['dropPts'] for r in sel])[0]:+.3f}")
        sweep.append(line)
    md += ["## Does depth weighting help?", "",
           "Score (a) with depth weights linear from *w₁* (first backbone layer) to 1 (last); "
           "*w₁* = 1 is plain (a), 2 is (b). Spearman rho vs drop:", "",
           md_table(["w₁", "all", "shared head", "new head", "shared, head excluded"], sweep),
           ""]

    # ---- seed pairs -----------------------------------------------------------------
    groups = {}
    for r in rows:
        groups.setdefault((r["family"], r["optimizer"], r["lr"], r["epochs"], r["freeze"]),
                          []).append(r)
    pair_lines = []
    for key, g in groups.items():
        if len(g) < 2:
            continue
        g = sorted(g, key=lambda r: r["seed"])
        a, b = g[0], g[1]
        ds = b["dropPts"] - a["dropPts"]
        ss = b["scores"][best] - a["scores"][best]
        agree = "tie in drop" if abs(ds) < 1e-9 else ("same direction" if ds * ss > 0
                                                     else "OPPOSITE")
        pair_lines.append([f"`{a['run'].rsplit('_s', 1)[0]}`",
                           f"{a['dropPts']:.1f} / {b['dropPts']:.1f}",
                           f"{f3(a['scores'][best])} / {f3(b['scores'][best])}", agree])
    md += ["## Seed pairs", "",
           f"Same setting, seeds 1 / 2 (seed = init of a new head, shuffling). Does `{best}` "
           "move with the drop?", "",
           md_table(["setting", "drop s1 / s2", f"{SHORT[best]} s1 / s2", "score follows drop?"],
                    pair_lines), ""]

    # ---- the existing gate as a forgetting detector ---------------------------------------
    gate = [[CLASSES[c]] + [sum(1 for r in rows if r["class"] == c and r["verdict"] == v)
                            for v in ("pass", "fail")] for c in range(3)]
    passed_high = [f"`{r['run']}` ({r['dropPts']:.1f} pts)" for r in rows
                   if r["class"] == 2 and r["verdict"] == "pass"]
    md += ["## WeightDrift's current gate vs forgetting", "",
           "Default gate (fail when a layer's relative change > 0.20 or cosine < 0.98):", "",
           md_table(["forgetting class", "gate pass", "gate fail"], gate), "",
           "High forgetting that passes the gate: " + (", ".join(passed_high) or "none") + ".",
           ""]

    # ---- WeightDrift's shipped rule -------------------------------------------------------
    k, t1, t2 = CURRENT_RULE
    md += ["## WeightDrift's shipped risk rule on these runs", "",
           f"Commit e2f2e8b ships score (b) `{k}` with low < {t1:g} ≤ medium < {t2:g} ≤ high "
           "(head = new/removed/reshaped layers unless `--head` is given, so the shared head "
           "counts as backbone, as here):", "",
           apply_rule(k, t1, t2, rows, "all runs"),
           apply_rule(k, t1, t2, [r for r in rows if r["family"] == "newhead"],
                      "new-head family"),
           apply_rule(k, t1, t2, [r for r in rows if r["family"] == "shared"],
                      "shared-head family"), ""]
    if current:
        mism, maxdiff, maxdiff_a, risk_diff = 0, 0.0, 0.0, []
        for r in rows:
            c = current["runs"].get(r["run"])
            if c is None:
                mism += 1
                continue
            mine = r["scores"][k]
            if c["score"] is not None and math.isfinite(mine):
                maxdiff = max(maxdiff, abs(c["score"] - mine) / max(mine, 1e-12))
            agg = r["scores"]["A_agg"]
            if c.get("backboneRelativeChange") is not None and math.isfinite(agg):
                maxdiff_a = max(maxdiff_a, abs(c["backboneRelativeChange"] - agg) / max(agg, 1e-12))
            mine_risk = CLASSES[classify(mine, t1, t2)]
            if c["risk"] != mine_risk:
                risk_diff.append(f"`{r['run']}` ({c['risk']} vs {mine_risk})")
        md += [f"Cross-check with the binary itself (`{current['binary']}`, commit "
               f"`{(current.get('commit') or '?')[:12]}`, `current_risk.json`): its "
               f"`forgetting.score` equals `{k}` computed here from the layer sums to a "
               f"relative {maxdiff:.1e} on every run (its `backboneRelativeChange` equals "
               f"`A_agg` to {maxdiff_a:.1e}); risk labels differ on "
               f"{len(risk_diff)} runs" + (": " + ", ".join(risk_diff) if risk_diff else "")
               + (f"; {mism} runs missing" if mism else "") + ".", ""]

    # the proposed (rounded) rule, evaluated
    rule = json.loads((HERE / "rule.json").read_text()) if (HERE / "rule.json").exists() else None
    if rule:
        k, t1, t2 = rule["score"], rule["medium"], rule["high"]
        md += ["## Proposed rule, evaluated", "",
               f"`{k}` (from `rule.json`): low < {t1:g} ≤ medium < {t2:g} ≤ high.", "",
               apply_rule(k, t1, t2, rows, "all runs"),
               apply_rule(k, t1, t2, [r for r in rows if r["family"] == "newhead"],
                          "new-head family"),
               apply_rule(k, t1, t2, [r for r in rows if r["family"] == "shared"],
                          "shared-head family"), ""]
    findings = HERE / "findings.md"
    if findings.exists():
        md += [findings.read_text().rstrip(), ""]
    (HERE / "results.md").write_text("\n".join(md) + "\n")

    # console summary
    print(f"{'score':22s} {'all':>7s} {'shared':>7s} {'newhead':>7s} {'shared-nohead':>13s}")
    for k in keys:
        a = rho_all[k]
        print(f"{k:22s} {a['all']:+7.3f} {a['shared']:+7.3f} {a['newhead']:+7.3f} "
              f"{rho_nohead[k]:+13.3f}")
    print(f"best overall: {best}; best new-head: {best_nh}")
    for (k, t), (t1, t2) in fitted.items():
        print(f"  fitted {k:20s} {t:20s} {t1:.4g} {t2:.4g}")
    print(f"wrote {HERE / 'results.csv'} and {HERE / 'results.md'}")


if __name__ == "__main__":
    main()
