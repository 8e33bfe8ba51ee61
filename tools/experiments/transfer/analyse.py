#!/usr/bin/env python3
"""Scores candidate forgetting signals on the runs of study.py and evaluates them honestly.

For every run it loads the base and the fine-tuned model (Keras, in model = depth order), computes
each candidate score in float64 with numpy, and reports:

  - Spearman's rho between each candidate and the measured forgetting (points of original-task
    accuracy lost), over all families and per family;
  - a paired bootstrap (runs resampled, 2000 draws, seed 0) of rho(candidate) - rho(current);
  - leave-one-family-out (LOFO) banding: cut points fitted on four families, applied to the fifth;
  - calibration: for every family and every choice of three labelled runs (and the "spread" and
    "one per band" choices), cut points fitted on the three (the rule `weightdrift calibrate`
    implements, `fit_cuts`: bands and points lost, against the rules before it), applied to the
    family's other runs.

With --weightdrift BINARY it also runs `weightdrift compare BASE TUNED --format json` on every
run and checks that the tool's forgetting score equals the kept candidate (to 1e-6 relative).

Writes results.json and results.md next to this script.
"""

import argparse
import itertools
import json
import math
import os
import subprocess
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
from scipy.stats import spearmanr

HERE = Path(__file__).resolve().parent
BANDS = (5.0, 20.0)   # low < 5 points lost, medium 5-20, high > 20
RUNNING = ("moving_mean", "moving_variance")


def load_weights(K, path):
    """[(layer, weight name, array)] in model (depth) order. A layer here is what owns the variable
    (its path without the variable name: `attention/key`; for an RNN or a wrapper such as
    Bidirectional, the layer itself), which is what WeightDrift sees as a layer."""
    m = K.models.load_model(str(path), compile=False)
    out = []
    for layer in m.layers:
        # One Keras layer, one row: an RNN's cell and a wrapper's inner layers (Bidirectional's
        # forward and backward RNNs, TimeDistributed's layer) belong to the wrapping layer, as
        # WeightDrift reads them; other sublayers (attention projections) keep their own owner.
        composite = type(layer).__name__ in COMPOSITE
        for w in layer.weights:
            owner, _, name = w.path.rpartition("/")
            if composite:
                owner, name = layer.name, w.path[len(layer.name) + 1:] if w.path.startswith(layer.name + "/") else name
            out.append((owner or layer.name, name, np.asarray(w, dtype=np.float64)))
    return out


COMPOSITE = {"Bidirectional", "TimeDistributed", "RNN", "LSTM", "GRU", "SimpleRNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"}


def layer_table(base, tuned):
    """Per layer, in depth order: dict(name, weights=[(wname, w0, w1)]) for layers in both files
    whose weights have the same shapes."""
    tmap = {}
    for layer, name, arr in tuned:
        tmap.setdefault(layer, []).append((name, arr))
    layers, order = {}, []
    for layer, name, arr in base:
        if layer not in layers:
            layers[layer] = []
            order.append(layer)
        layers[layer].append((name, arr))
    out = []
    for layer in order:
        if layer not in tmap or len(tmap[layer]) != len(layers[layer]):
            continue
        pairs = [(n, a, b) for (n, a), (_, b) in zip(layers[layer], tmap[layer])]
        if any(a.shape != b.shape for _, a, b in pairs):
            continue
        out.append({"name": layer, "weights": pairs})
    return out


def sums(weights, trainable_only):
    d = n0 = n1 = dot = cnt = orth = 0.0
    for name, a, b in weights:
        if trainable_only and name in RUNNING:
            continue
        ok = np.isfinite(a) & np.isfinite(b)
        if not ok.all():
            return None
        d += float(np.sum((b - a) ** 2))
        n0 += float(np.sum(a * a))
        n1 += float(np.sum(b * b))
        dot += float(np.sum(a * b))
        cnt += a.size
    return {"d": d, "n0": n0, "n1": n1, "dot": dot, "n": cnt}


def rel(s):
    return math.sqrt(s["d"] / s["n0"]) if s and s["n0"] > 0 else float("nan")


def spectral_rel(weights):
    """max over 2-D+ trainable weights of sigma1(dW)/sigma1(W0) (exact SVD: the models are tiny)."""
    best = 0.0
    for name, a, b in weights:
        if name in RUNNING or a.ndim < 2:
            continue
        a2 = a.reshape(-1, a.shape[-1])
        b2 = b.reshape(-1, b.shape[-1])
        s0 = np.linalg.svd(a2, compute_uv=False)[0]
        sd = np.linalg.svd(b2 - a2, compute_uv=False)
        if s0 > 0:
            best = max(best, sd[0] / s0)
    return best


def stable_rank(weights):
    """Parameter-weighted mean stable rank ||dW||_F^2 / sigma1(dW)^2 of the 2-D+ weights."""
    tot = cnt = 0.0
    for name, a, b in weights:
        if name in RUNNING or a.ndim < 2:
            continue
        dd = (b - a).reshape(-1, a.shape[-1])
        s = np.linalg.svd(dd, compute_uv=False)
        if s[0] > 0:
            tot += a.size * float(np.sum(s ** 2) / s[0] ** 2)
            cnt += a.size
    return tot / cnt if cnt else float("nan")


def detect_head(layers):
    """The tool's head detection: the last layer in depth order is a head when its cosine with the
    base is below 0.5 (re-initialised: nearly orthogonal to the old head) and its relative change is
    at least 5x the rest of the model's."""
    if len(layers) < 2:
        return None
    last = layers[-1]
    s = sums(last["weights"], True)
    rest = [w for l in layers[:-1] for w in l["weights"]]
    r = sums(rest, True)
    if not s or not r or s["n0"] <= 0 or s["n1"] <= 0:
        return None
    cos = s["dot"] / math.sqrt(s["n0"] * s["n1"])
    rl, rr = rel(s), rel(r)
    if cos < 0.5 and rl >= 5 * max(rr, 1e-12):
        return last["name"]
    return None


def candidates(base, tuned, fam_head_new_name):
    layers = layer_table(base, tuned)      # same-shape layers in both (a new head drops out)
    c = {}
    allw = [w for l in layers for w in l["weights"]]
    s0 = sums(allw, False)
    c["current: aggregate relative change, all weights, no head detection"] = rel(s0)
    head = detect_head(layers)
    bb = [l for l in layers if l["name"] != head]
    bw = [w for l in bb for w in l["weights"]]
    s_all = sums(bw, False)
    s_tr = sums(bw, True)
    c["aggregate relative change, all weights, head detection"] = rel(s_all)
    c["aggregate relative change, running statistics excluded, no head detection"] = rel(sums(allw, True))
    c["aggregate relative change, running statistics excluded, head detection"] = rel(s_tr)
    layer_sq = []
    for l in bb:
        ls = sums(l["weights"], True)
        if ls is None:
            layer_sq.append(float("inf"))
        elif ls["n0"] > 0:
            layer_sq.append(ls["d"] / ls["n0"])
    c["RMS of the backbone layers' relative changes"] = math.sqrt(sum(layer_sq) / len(layer_sq)) if layer_sq else float("nan")
    c["KEPT: mean of the backbone layers' relative changes (running statistics excluded, head detection)"] = \
        sum(math.sqrt(x) for x in layer_sq) / len(layer_sq) if layer_sq else float("nan")
    c["RMS change per parameter (trainable, head detection)"] = math.sqrt(s_tr["d"] / s_tr["n"]) if s_tr else float("nan")
    per = [math.sqrt(x) for x in layer_sq]
    c["max per-layer relative change"] = float(np.max(per)) if per else float("nan")
    if s_tr:
        cos = s_tr["dot"] / math.sqrt(s_tr["n0"] * s_tr["n1"]) if s_tr["n1"] > 0 else -1.0
        c["1 - backbone cosine"] = 1 - cos
        # the part of the change that is not a rescaling of W0 (weight-decay shrinkage removed)
        orth = sum(max(0.0, float(np.sum(b * b)) - float(np.sum(a * b)) ** 2 / float(np.sum(a * a)))
                   for n, a, b in bw if n not in RUNNING and float(np.sum(a * a)) > 0)
        c["rewrite only (component orthogonal to W0, shrinkage removed)"] = math.sqrt(orth / s_tr["n0"])
        c["shrinkage (1 - norm ratio)"] = 1 - math.sqrt(s_tr["n1"] / s_tr["n0"])
    else:
        for k in ("1 - backbone cosine", "rewrite only (component orthogonal to W0, shrinkage removed)",
                  "shrinkage (1 - norm ratio)"):
            c[k] = float("inf")
    third = max(1, len(bb) // 3)
    c["early third (depth order)"] = rel(sums([w for l in bb[:third] for w in l["weights"]], True))
    c["late third (depth order)"] = rel(sums([w for l in bb[-third:] for w in l["weights"]], True))
    try:
        c["spectral: max sigma1(dW)/sigma1(W0)"] = spectral_rel(bw)
        c["stable rank of dW"] = stable_rank(bw)
    except np.linalg.LinAlgError:
        c["spectral: max sigma1(dW)/sigma1(W0)"] = float("inf")
        c["stable rank of dW"] = float("nan")
    c["_head"] = head
    return c


def clean(x):
    """Non-finite scores (NaN weights) rank highest."""
    x = np.asarray(x, dtype=float)
    return np.where(np.isfinite(x), x, 1e300)


def rho(x, y):
    return float(spearmanr(clean(x), y).correlation)


def band(f):
    return 0 if f < BANDS[0] else (1 if f <= BANDS[1] else 2)


def classify(s, medium, high):
    if not np.isfinite(s):
        return 2
    return 0 if s < medium else (1 if s < high else 2)


MEDIUM_MARGIN, HIGH_MARGIN = 1.25, 1.5


def old_fit_cuts(scores, lost):
    """The previous calibration rule, kept for comparison: cut points in the gaps the labelled runs
    show, on the cautious side. None without a run that kept the task (< 5 points lost, score > 0)
    and one that lost >= 5 points."""
    runs = [(s, f) for s, f in zip(scores, lost) if np.isfinite(s)]
    kept = [s for s, f in runs if f < BANDS[0] and s > 0]
    forgot = [(s, f) for s, f in runs if f >= BANDS[0]]
    if not kept or not forgot:
        return None
    hi_kept, lo_lost = max(kept), min(s for s, _ in forgot)
    medium = min(MEDIUM_MARGIN * hi_kept, math.sqrt(hi_kept * lo_lost)) if hi_kept < lo_lost else 0.8 * lo_lost
    mids = [s for s, f in forgot if f <= BANDS[1]]
    highs = [s for s, f in forgot if f > BANDS[1]]
    if mids and highs:
        m, h = max(mids), min(highs)
        high = math.sqrt(m * h) if m < h else h
    elif highs:
        high = min(min(highs), HIGH_MARGIN * medium)
    else:
        high = HIGH_MARGIN * max(mids)
    return medium, max(high, medium)


# The previous calibration rule's shared shape (a fixed high/medium ratio), kept for comparison:
# fixed_ratio_select_shape on all five families, rounded.
FIXED_RATIO_SHAPE = {"ratio": 1.3, "edge": 0.05, "quantile": 0.1, "priorMedian": 0.0402, "priorSD": 0.74}
# Its grid of log(medium cut): 1e-6 to 1e3 in steps of 0.005.
FIXED_RATIO_GRID = math.log(1e-6) + 0.005 * np.arange(4145)


def fixed_ratio_posterior(scores, lost, shape):
    """The previous rule's posterior of log m (high cut = ratio x m, ratio shared): the cumulative
    weights on FIXED_RATIO_GRID, or None where it refuses."""
    pts = [(math.log(s), f) for s, f in zip(scores, lost) if np.isfinite(s) and s > 0]
    mu = math.log(shape["priorMedian"])
    if not pts or (all(f < BANDS[0] for _, f in pts) and max(x for x, _ in pts) < mu):
        return None
    r, tau, grid = math.log(shape["ratio"]), shape["edge"], FIXED_RATIO_GRID
    logp = -0.5 * ((grid - mu) / shape["priorSD"]) ** 2
    with np.errstate(over="ignore"):
        for x, f in pts:
            u = x - grid
            below = 1 / (1 + np.exp(u / tau))
            above = 1 / (1 + np.exp(-(u - r) / tau))
            beyond = 1 / (1 + np.exp(-(u - 2 * r) / tau))
            p = below if f < BANDS[0] else above if f > BANDS[1] else 1 - below - beyond
            logp = logp + np.log(np.maximum(p, 1e-300))
    return np.cumsum(np.exp(logp - np.max(logp)))


def fixed_ratio_cuts(c, shape):
    m = math.exp(FIXED_RATIO_GRID[int(np.searchsorted(c, shape["quantile"] * c[-1]))])
    return m, shape["ratio"] * m


def fixed_ratio_fit_cuts(scores, lost, shape=FIXED_RATIO_SHAPE):
    """The previous rule (what `weightdrift calibrate` shipped before the two-parameter rule): the
    medium cut m a per-user scale, the high cut a FIXED shared ratio x m; each labelled run an
    interval-censored observation of log m (a medium run: m at most its score and above
    score/ratio^2), logistic edges; log-normal prior on m; m = the posterior's `quantile` point."""
    c = fixed_ratio_posterior(scores, lost, shape)
    return None if c is None else fixed_ratio_cuts(c, shape)


# The shared shape of the calibration rule `weightdrift calibrate` ships (Sources/Drift/Calibration.swift,
# ForgettingCalibration.Shape.study): select_shape(..., position=True) on all five families, rounded.
# main() prints what select_shape picks next to it.
SHAPE = {"edge": 0.02, "quantile": 0.1, "highQuantile": 0.2, "priorMedian": 0.0306, "priorSD": 4.65,
         "ratioMedian": 1.92, "ratioSD": 0.45, "positionSD": 0.3}
# The two-parameter rule shipped before it (bands only: the number of points lost unused), kept for
# comparison: select_shape on all five families, rounded.
BAND_SHAPE = {"edge": 0.02, "quantile": 0.25, "highQuantile": 0.35, "priorMedian": 0.0306, "priorSD": 1.16,
              "ratioMedian": 1.92, "ratioSD": 0.45}
# Losses whose number places a labelled run inside the bands (the position term): below 1 point a
# loss is noise around none (and can be negative), above 40 points (twice the high band's edge)
# accuracy saturates towards chance and the number says nothing more about where the cuts are.
POSITION_LOSSES = (1.0, 40.0)
# The posterior is evaluated on a grid of (log m, log r), r = high cut / medium cut, both in steps
# of 0.02: log m from log 1e-6 (1037 points, to about 1e3), log r from 0.02 (150 points, r 1.02 to
# about 20). log h = log m + log r lands on the same grid, index i + j.
STEP = 0.02
GRID = math.log(1e-6) + STEP * np.arange(1037)
RATIO_GRID = STEP * np.arange(1, 151)
HIGH_INDEX = (np.arange(len(GRID))[:, None] + np.arange(1, 151)[None, :]).ravel()


def run_loglik(x, lost, edge, position_sd=None):
    """log P(this run's band | m, r) on the grid, for a run at log score x: a run that kept the task
    (< 5 points) is under the medium cut, a high run (> 20) over the high cut, a medium run between
    them; each edge a logistic of width `edge` in log score. With position_sd (the rule shipped now)
    the number of points lost places the run too: loss taken as linear in log score between the cuts
    (5 points at m, 20 at h = r m), a run that lost `lost` points sits at log m + t log r,
    t = (lost - 5) / 15, give or take position_sd in log score (a normal term) — so a run that lost
    19 points says h is just above it, one that lost 6 that m is just below it. Only for losses in
    POSITION_LOSSES (noise below, saturation above)."""
    with np.errstate(over="ignore"):
        u = x - GRID[:, None]
        below = 1 / (1 + np.exp(u / edge))                            # P(score under m)
        above = 1 / (1 + np.exp(-(u - RATIO_GRID[None, :]) / edge))   # P(score over h = r m)
    p = np.broadcast_to(below, (len(GRID), len(RATIO_GRID))) if lost < BANDS[0] else above if lost > BANDS[1] \
        else 1 - below - above
    out = np.log(np.maximum(p, 1e-300))
    if position_sd is not None and POSITION_LOSSES[0] <= lost <= POSITION_LOSSES[1]:
        t = (lost - BANDS[0]) / (BANDS[1] - BANDS[0])
        z = (x - GRID[:, None] - t * RATIO_GRID[None, :]) / position_sd
        out = out + -0.5 * (z * z)
    return out


_LIKS = {}


def cached_loglik(x, lost, edge, position_sd):
    """run_loglik, remembered (the calibration study fits the same runs over and over)."""
    key = (x, lost, edge, position_sd)
    if key not in _LIKS:
        if len(_LIKS) > 300:
            _LIKS.clear()
        _LIKS[key] = run_loglik(x, lost, edge, position_sd)
    return _LIKS[key]


def posterior(scores, lost, shape=SHAPE, liks=None):
    """The two-parameter rule's posterior: (cumulative weights of log m on GRID, cumulative weights of
    log h on GRID[0] + STEP x index), or None where calibrate refuses (no positive finite score, or
    no run lost >= 5 points and none moved past the prior median of m). liks: run_loglik per run, if
    already computed."""
    keep = [i for i, s in enumerate(scores) if np.isfinite(s) and s > 0]
    mu = math.log(shape["priorMedian"])
    if not keep or (all(lost[i] < BANDS[0] for i in keep) and max(math.log(scores[i]) for i in keep) < mu):
        return None
    logp = (-0.5 * ((GRID - mu) / shape["priorSD"]) ** 2)[:, None] \
        + (-0.5 * ((RATIO_GRID - math.log(shape["ratioMedian"])) / shape["ratioSD"]) ** 2)[None, :]
    for i in keep:
        logp = logp + (liks[i] if liks is not None
                       else cached_loglik(math.log(scores[i]), lost[i], shape["edge"], shape.get("positionSD")))
    w = np.exp(logp - np.max(logp))
    return np.cumsum(w.sum(axis=1)), np.cumsum(np.bincount(HIGH_INDEX, weights=w.ravel()))


def cuts_at(post, quantile, high_quantile):
    """The medium cut at the `quantile` point of log m's marginal, the high cut at the `high_quantile`
    point of log h's (never below the medium cut)."""
    cm, ch = post
    m = math.exp(GRID[int(np.searchsorted(cm, quantile * cm[-1]))])
    h = math.exp(GRID[0] + STEP * int(np.searchsorted(ch, high_quantile * ch[-1])))
    return m, max(h, m)


def fit_cuts(scores, lost, shape=SHAPE):
    """The rule `weightdrift calibrate` implements (Sources/Drift/Calibration.swift). Two per-user
    parameters: the medium cut m and the ratio r = high cut / medium cut. Each labelled run is an
    interval-censored observation of (log m, log r): a run that kept the task (< 5 points) says its
    score is under m, a medium run (5-20) that it is between m and h = r m, a high run (> 20) that
    it is over h; each edge a logistic of width `edge` in log score. With shape["positionSD"] (the shipped
    shape) the number of points lost places each run inside the bands as well (run_loglik: loss linear
    in log score between the cuts; losses in POSITION_LOSSES only). The priors are normal in log m
    and log r (the study families' own cut points), independent. So runs that bracket the high cut
    (a medium or kept run and a high run) place it from the data, and the ratio prior fills in when
    they do not. The medium cut is the `quantile` point of log m's marginal (the cautious side), the
    high cut the `highQuantile` point of log h's. None (calibrate refuses) as posterior()."""
    post = posterior(scores, lost, shape)
    return None if post is None else cuts_at(post, shape["quantile"], shape["highQuantile"])


def best_cuts(runs):
    """A family's own cut points: the middle (in log, medium and high separately) of the (medium,
    high) pairs that put the most of its runs in the right band. runs: [(score, lost)]."""
    ms = np.exp(np.linspace(math.log(5e-4), math.log(0.5), 240))
    s = clean([x for x, _ in runs])
    bands = np.array([band(f) for _, f in runs])
    best, cells = -1, []
    for i, m in enumerate(ms):
        for h in ms[i:]:
            ok = int(np.sum(np.where(s < m, 0, np.where(s < h, 1, 2)) == bands))
            if ok > best:
                best, cells = ok, [(m, h)]
            elif ok == best:
                cells.append((m, h))
    return math.exp(np.mean([math.log(m) for m, _ in cells])), math.exp(np.mean([math.log(h) for _, h in cells]))


def best_medium(runs, ratio):
    """A family's own medium cut with high = ratio x medium (the previous rule's prior): the middle
    (in log) of the cuts that put the most of its runs in the right band. runs: [(score, lost)]."""
    ms = np.exp(np.linspace(math.log(5e-4), math.log(0.5), 700))
    ok = [sum(classify(s, m, ratio * m) == band(f) for s, f in runs) for m in ms]
    top = [m for m, o in zip(ms, ok) if o == max(ok)]
    return math.sqrt(min(top) * max(top))


def lr_thirds(lrs):
    """Indices of the runs in each third of the family's log learning-rate range."""
    lg = np.log10(lrs)
    edges = np.linspace(lg.min(), lg.max(), 4)
    return [[i for i, v in enumerate(lg) if (v >= edges[k] if k == 0 else v > edges[k]) and v <= edges[k + 1]]
            for k in range(3)]


KINDS = ("every", "spread", "one per band")


def triples(runs, kind):
    """runs: [(score, lost, lr)]. Every choice of three labelled runs; (spread) one from each third of
    the learning-rate range; (one per band) one run that kept the task, one medium, one high — what a
    user gets who labels one run of each kind."""
    if kind == "every":
        return list(itertools.combinations(range(len(runs)), 3))
    if kind == "spread":
        return list(itertools.product(*lr_thirds([lr for _, _, lr in runs])))
    return list(itertools.product(*[[i for i, r in enumerate(runs) if band(r[1]) == b] for b in range(3)]))


def judge(runs, tris, cuts):
    """cuts: per triple, cut points fitted on it (None: refused), applied to the family's other runs."""
    shares, refused, lowbad = [], 0, 0
    for tri, c in zip(tris, cuts):
        if c is None:
            refused += 1
            continue
        rest = [runs[i] for i in range(len(runs)) if i not in tri]
        shares.append(sum(classify(s, *c) == band(f) for s, f, _ in rest) / len(rest))
        lowbad += sum(classify(s, *c) == 0 and f > BANDS[1] for s, f, _ in rest)
    return {"triples": len(tris), "refused": refused, "lostOver20CalledLow": lowbad,
            "meanShare": float(np.mean(shares)) if shares else 0.0,
            "medianShare": float(np.median(shares)) if shares else 0.0,
            "atLeast90": float(np.mean([x >= 0.9 for x in shares])) if shares else 0.0,
            # refused triples count as none right: what a user who labelled them gets
            "objective": float(np.sum(shares)) / len(tris)}


def three_run_calibration(runs, fit, kind="every"):
    """runs: [(score, lost, lr)]. For each triple of `kind`: cut points fitted on it by `fit`
    (scores, lost), applied to the family's other runs."""
    tris = triples(runs, kind)
    return judge(runs, tris, [fit([runs[i][0] for i in t], [runs[i][1] for i in t]) for t in tris])


def value(results):
    """What a shape is chosen by: the mean share right over every triple of every family, less one per
    run that lost more than 20 points called low (per triple); a shape that calls any such run low
    on any triple is ruled out."""
    v = np.mean([r["objective"] - r["lostOver20CalledLow"] / r["triples"] for r in results])
    return v - (100 if any(r["lostOver20CalledLow"] for r in results) else 0)


SHAPE_GRID = [(edge, q, qh) for edge in (0.02, 0.05, 0.15) for q in (0.05, 0.1, 0.15, 0.2, 0.25, 0.35)
              for qh in (0.1, 0.2, 0.35, 0.5)]
# The rule with the position term: the band edges stay sharp (0.02 or 0.05; the loss numbers carry the
# soft information), the position term's sd fixed at POSITION_SD, and the log-normal prior on m widened
# by a factor chosen leave-one-family-out inside the families the shape is chosen on (PRIOR_SCALES).
POSITION_GRID = [(edge, q, qh) for edge, q, qh in SHAPE_GRID if edge < 0.1]
POSITION_SD = 0.3
PRIOR_SCALES = (1.0, 2.0, 4.0)
_OWN_CUTS = {}


def family_prior(families):
    """The priors from the families' own cut points: mean and sd of log medium cut and of log
    high/medium ratio (sd at least 0.1)."""
    own = []
    for name, runs in families.items():
        key = (name, tuple(runs))
        if key not in _OWN_CUTS:
            _OWN_CUTS[key] = best_cuts([(s, f) for s, f, _ in runs])
        own.append(_OWN_CUTS[key])
    lm = [math.log(m) for m, _ in own]
    lr = [math.log(h / m) for m, h in own]
    return {"priorMedian": math.exp(np.mean(lm)), "priorSD": max(float(np.std(lm, ddof=1)), 0.1),
            "ratioMedian": math.exp(np.mean(lr)), "ratioSD": max(float(np.std(lr, ddof=1)), 0.1)}


def select_grid(families, grid, position_sd=None, prior_scale=1.0):
    """edge, quantile and highQuantile maximising value() over every triple of the families, the
    priors family_prior() (the prior sd on m times prior_scale)."""
    prior = family_prior(families)
    prior["priorSD"] *= prior_scale
    if position_sd is not None:
        prior["positionSD"] = position_sd
    best = None
    for edge in sorted({e for e, _, _ in grid}):
        shape = dict(prior, edge=edge)
        posts = {}
        for name, runs in families.items():
            liks = [run_loglik(math.log(s), f, edge, position_sd) if np.isfinite(s) and s > 0 else None for s, f, _ in runs]
            tris = triples(runs, "every")
            posts[name] = (tris, [posterior([runs[i][0] for i in t], [runs[i][1] for i in t], shape, [liks[i] for i in t])
                                  for t in tris])
        for e, q, qh in grid:
            if e != edge:
                continue
            res = [judge(runs, posts[n][0], [None if p is None else cuts_at(p, q, qh) for p in posts[n][1]])
                   for n, runs in families.items()]
            v = value(res)
            if best is None or v > best[0]:
                best = (v, dict(shape, quantile=q, highQuantile=qh))
    return best[1]


def select_shape(families, position=False):
    """A shape chosen on some families ({name: [(score, lost, lr)]}). Bands only (the rule shipped
    before): select_grid on SHAPE_GRID. With the position term (shipped now): the prior scale on m is
    the one of PRIOR_SCALES whose shapes, chosen on all but one of the families, do best on the one
    left out (mean share right over its every triples, less one per run that lost > 20 points called
    low per triple) — how well a prior carries to a family it was not taken from, which the families
    it was taken from cannot say; then select_grid on POSITION_GRID with that scale."""
    if not position:
        return select_grid(families, SHAPE_GRID)
    held = {}
    for k in PRIOR_SCALES:
        vals = []
        for g, runs in families.items():
            sh = select_grid({h: v for h, v in families.items() if h != g}, POSITION_GRID, POSITION_SD, k)
            liks = [run_loglik(math.log(s), f, sh["edge"], POSITION_SD) if np.isfinite(s) and s > 0 else None
                    for s, f, _ in runs]
            tris = triples(runs, "every")
            posts = [posterior([runs[i][0] for i in t], [runs[i][1] for i in t], sh, [liks[i] for i in t]) for t in tris]
            r = judge(runs, tris, [None if p is None else cuts_at(p, sh["quantile"], sh["highQuantile"]) for p in posts])
            vals.append(r["objective"] - r["lostOver20CalledLow"] / r["triples"])
        held[k] = float(np.mean(vals))
    k = max(PRIOR_SCALES, key=lambda x: held[x])
    return dict(select_grid(families, POSITION_GRID, POSITION_SD, k), priorScale=k,
                heldOutByPriorScale={str(x): v for x, v in held.items()})


FIXED_RATIO_SHAPE_GRID = [(ratio, edge, q) for ratio in (1.3, 1.45, 1.6, 1.9) for edge in (0.05, 0.15, 0.3)
                          for q in (0.05, 0.1, 0.2, 0.35)]


def fixed_ratio_select_shape(families):
    """The previous rule's shape chosen on some families: the prior is the families' own medium cuts
    (log mean and sd) at each ratio; ratio, edge and quantile maximise the mean share right over
    every triple, less one per run that lost more than 20 points called low (per triple)."""
    best = None
    for ratio, edge in sorted({(r, e) for r, e, _ in FIXED_RATIO_SHAPE_GRID}):
        logs = [math.log(best_medium([(s, f) for s, f, _ in runs], ratio)) for runs in families.values()]
        shape = {"ratio": ratio, "edge": edge, "priorMedian": math.exp(np.mean(logs)),
                 "priorSD": max(float(np.std(logs, ddof=1)), 0.1)}
        posts = {n: (triples(runs, "every"), [fixed_ratio_posterior([runs[i][0] for i in t], [runs[i][1] for i in t], shape)
                                               for t in triples(runs, "every")])
                 for n, runs in families.items()}
        for r, e, q in FIXED_RATIO_SHAPE_GRID:
            if (r, e) != (ratio, edge):
                continue
            sh = dict(shape, quantile=q)
            res = [judge(runs, posts[n][0], [None if p is None else fixed_ratio_cuts(p, sh) for p in posts[n][1]])
                   for n, runs in families.items()]
            v = np.mean([x["objective"] - x["lostOver20CalledLow"] / x["triples"] for x in res])
            if best is None or v > best[0]:
                best = (v, sh)
    return best[1]


RULES = ("gaps between the labels", "fixed ratio, shipped shape", "fixed ratio, leave-one-family-out shape",
         "two parameters, bands only, shipped shape", "two parameters, bands only, leave-one-family-out shape",
         "two parameters + loss position, shipped shape", "two parameters + loss position, leave-one-family-out shape")


def calibration_study(rows, digits):
    """Three labelled runs per family: the rule before the shared shape (gaps between the labels),
    the fixed-ratio rule, and the two-parameter rule (shipped), each rule with its shipped shape and
    with the shape selected leave-one-family-out (never on the family it is judged on). digits: the
    sixth family, on which nothing is chosen."""
    kept = [n for n in rows[0]["scores"] if n.startswith("KEPT")][0]
    fams = {}
    for r in rows:
        fams.setdefault(r["family"], []).append((r["scores"][kept], r["forgetting"], r["lr"]))
    out = {"selectedOnAll": select_shape(fams, position=True), "shipped": SHAPE, "lofoShapes": {},
           "bandsOnly": {"selectedOnAll": select_shape(fams), "shipped": BAND_SHAPE, "lofoShapes": {}},
           "fixedRatio": {"selectedOnAll": fixed_ratio_select_shape(fams), "shipped": FIXED_RATIO_SHAPE, "lofoShapes": {}},
           "families": {}}
    print("calibration: shapes on all five chosen", flush=True)
    judged = dict(fams, digits=digits) if digits else fams
    for f, runs in judged.items():
        others = {g: v for g, v in fams.items() if g != f}
        lofo = select_shape(others, position=True) if f in fams else SHAPE
        lofo_bands = select_shape(others) if f in fams else BAND_SHAPE
        lofo_fixed = fixed_ratio_select_shape(others) if f in fams else FIXED_RATIO_SHAPE
        out["lofoShapes"][f] = lofo
        out["bandsOnly"]["lofoShapes"][f] = lofo_bands
        out["fixedRatio"]["lofoShapes"][f] = lofo_fixed
        fits = dict(zip(RULES, (old_fit_cuts, fixed_ratio_fit_cuts, lambda s, l, sh=lofo_fixed: fixed_ratio_fit_cuts(s, l, sh),
                                lambda s, l: fit_cuts(s, l, BAND_SHAPE), lambda s, l, sh=lofo_bands: fit_cuts(s, l, sh),
                                fit_cuts, lambda s, l, sh=lofo: fit_cuts(s, l, sh))))
        out["families"][f] = {rule: {kind: three_run_calibration(runs, fit, kind) for kind in KINDS}
                              for rule, fit in fits.items()}
        print(f"calibration: {f} done", flush=True)
    return out


def bootstrap(x, y, ref, n=2000, seed=0):
    rng = np.random.default_rng(seed)
    x, ref, y = clean(x), clean(ref), np.asarray(y)
    diffs = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        a = spearmanr(x[i], y[i]).correlation
        b = spearmanr(ref[i], y[i]).correlation
        if np.isfinite(a) and np.isfinite(b):
            diffs.append(a - b)
    d = np.array(diffs)
    return float(np.mean(d)), float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5)), float(np.mean(d > 0))


def digits_cnn():
    """The 48 runs of tools/experiments/forgetting (the digits CNN: no BatchNorm, so no running
    statistics), scored from their stored compare JSON: a sixth family no choice here was made on."""
    folder = HERE.parent / "forgetting"
    if not (folder / "runs.json").exists():
        return None
    runs = json.loads((folder / "runs.json").read_text())["runs"]
    lost, old, new, lrs = [], [], [], []
    for r in runs:
        doc = json.loads((folder / "drift" / f"{r['run']}.json").read_text())
        layers = [l for l in doc["layers"] if l["status"] not in ("new", "removed", "reshaped")]
        norms = [(l.get("baseNorm"), l.get("diffNorm"), l.get("cosine")) for l in layers]
        if any(b is None or d is None for b, d, _ in norms):
            old.append(float("inf"))
            new.append(float("inf"))
        else:
            old.append(math.sqrt(sum(d * d for _, d, _ in norms) / sum(b * b for b, _, _ in norms)))
            # head detection as the tool does it: last layer nearly orthogonal and 5x the rest's drift
            rest = norms[:-1]
            rest_rel = math.sqrt(sum(d * d for _, d, _ in rest) / sum(b * b for b, _, _ in rest))
            b, d, cos = norms[-1]
            if cos is not None and cos < 0.5 and d / b >= 5 * rest_rel:
                norms = rest
            per = [d / b for b, d, _ in norms if b > 0]
            new.append(sum(per) / len(per))
        lost.append(100 * r["drop"])
        lrs.append(r["lr"])
    return {"runs": len(runs), "currentRho": rho(old, lost), "keptRho": rho(new, lost),
            "bootstrap": bootstrap(new, np.array(lost), old), "calibrationRuns": list(zip(new, lost, lrs))}


def check_calibrate(binary, runs, scores):
    """`weightdrift calibrate` on every 8th spread and one-per-band triple of every family (and on all of a family's runs):
    its cut points against fit_cuts on the scores it reports; where it refuses, fit_cuts on the
    study's scores must refuse too."""
    import tempfile
    sets = []
    runs = [dict(r, score=s) for r, s in zip(runs, scores)]
    for f in sorted({r["family"] for r in runs}):
        fr = [r for r in runs if r["family"] == f]
        tri_runs = [(0.0, r["forgetting"], r["lr"]) for r in fr]
        sets += [[fr[i] for i in tri] for kind in ("spread", "one per band") for tri in triples(tri_runs, kind)[::8]] + [fr]
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "runs.csv"
        for labelled in sets:
            csv.write_text("".join(f"{r['base']},{r['tuned']},{r['forgetting']}\n" for r in labelled))
            res = subprocess.run([str(binary), "calibrate", str(csv), "--format", "json"], capture_output=True, text=True)
            if res.returncode == 2 and fit_cuts([r["score"] for r in labelled], [r["forgetting"] for r in labelled]) is None:
                continue
            if res.returncode != 0:
                raise SystemExit(f"weightdrift calibrate exit {res.returncode}: {res.stderr}")
            doc = json.loads(res.stdout)
            mine = fit_cuts([r["score"] if r["score"] is not None else float("nan") for r in doc["runs"]],
                            [r["forgetting"] for r in doc["runs"]])
            tool = (doc["forgetting"]["medium"], doc["forgetting"]["high"])
            worst = max(worst, *(abs(a - b) / b for a, b in zip(tool, mine)))
    return {"csvs": len(sets), "maxRelativeDifference": worst}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weightdrift", type=Path)
    ap.add_argument("--reuse-scores", action="store_true",
                    help="take every run's candidate scores from results.json instead of loading the models again")
    args = ap.parse_args()
    doc = json.loads((HERE / "runs.json").read_text())
    runs = doc["runs"]
    if args.reuse_scores:
        old = {(r["family"], r["run"]): r for r in json.loads((HERE / "results.json").read_text())["rows"]}
        rows = [dict(old[(r["family"], r["run"])], lr=r["lr"]) for r in runs]
    else:
        import keras as K
        cache = {}
        rows = []
        for r in runs:
            if r["base"] not in cache:
                cache[r["base"]] = load_weights(K, r["base"])
            c = candidates(cache[r["base"]], load_weights(K, r["tuned"]), None)
            rows.append({"family": r["family"], "run": r["run"], "forgetting": r["forgetting"], "lr": r["lr"],
                         "head": c.pop("_head"), "scores": c})
    digits = digits_cnn()
    names = list(rows[0]["scores"].keys())
    fams = sorted({r["family"] for r in rows})
    y = np.array([r["forgetting"] for r in rows])
    cur = names[0]
    kept = [n for n in names if n.startswith("KEPT")][0]
    table = []
    for n in names:
        x = [r["scores"][n] for r in rows]
        per = {f: rho([r["scores"][n] for r in rows if r["family"] == f],
                      [r["forgetting"] for r in rows if r["family"] == f]) for f in fams}
        bs = bootstrap(x, y, [r["scores"][cur] for r in rows]) if n != cur else None
        table.append({"candidate": n, "rho": rho(x, y), "perFamily": per, "bootstrapVsCurrent": bs})

    def banding(n, medium, high, subset):
        ok = sum(classify(r["scores"][n], medium, high) == band(r["forgetting"]) for r in subset)
        lowbad = sum(classify(r["scores"][n], medium, high) == 0 and r["forgetting"] > BANDS[1] for r in subset)
        return ok, lowbad, len(subset)

    # defaults: 0.03 / 0.08 (the digits CNN rule) on every family
    band_rows = {}
    for n in (cur, kept):
        band_rows[n] = {"old defaults 0.03/0.08": banding(n, 0.03, 0.08, rows),
                        "defaults 0.015/0.05": banding(n, 0.015, 0.05, rows)}
        # LOFO: cut points fitted (the previous rule on all runs of four families) applied to the fifth
        tot = [0, 0, 0]
        per = {}
        for f in fams:
            train = [r for r in rows if r["family"] != f]
            cuts = old_fit_cuts([r["scores"][n] for r in train], [r["forgetting"] for r in train]) or (0.03, 0.08)
            res = banding(n, cuts[0], cuts[1], [r for r in rows if r["family"] == f])
            per[f] = {"cuts": cuts, "right": res[0], "lostOver20CalledLow": res[1], "runs": res[2]}
            tot = [a + b for a, b in zip(tot, res)]
        band_rows[n]["leave-one-family-out"] = tuple(tot)
        band_rows[n]["lofoPerFamily"] = per
    calib = calibration_study(rows, digits["calibrationRuns"] if digits else None)
    agg = "aggregate relative change, running statistics excluded, head detection"
    kept_vs_agg = bootstrap([r["scores"][kept] for r in rows], y, [r["scores"][agg] for r in rows])
    # leave-one-family-out selection: the candidate with the best rho on four families, judged on the fifth
    selection = {}
    for f in fams:
        train = [r for r in rows if r["family"] != f]
        test = [r for r in rows if r["family"] == f]
        best = max(names, key=lambda n: rho([r["scores"][n] for r in train], [r["forgetting"] for r in train]))
        selection[f] = {"chosen": best, "heldOutRho": rho([r["scores"][best] for r in test], [r["forgetting"] for r in test]),
                        "keptHeldOutRho": rho([r["scores"][kept] for r in test], [r["forgetting"] for r in test])}
    check = None
    if args.weightdrift:
        worst = 0.0
        for r, row in zip(runs, rows):
            res = subprocess.run([str(args.weightdrift), "compare", r["base"], r["tuned"], "--format", "json",
                                  "--no-hash"], capture_output=True, text=True)
            if res.returncode not in (0, 1):
                raise SystemExit(f"weightdrift exit {res.returncode}: {res.stderr}")
            f = json.loads(res.stdout)["forgetting"]
            row["tool"] = {"score": f["score"], "risk": f["risk"], "head": f.get("detectedHead")}
            mine = row["scores"][kept]
            if f["score"] is not None and np.isfinite(mine):
                worst = max(worst, abs(f["score"] - mine) / max(abs(mine), 1e-12))
            elif not (f["score"] is None and not np.isfinite(mine)):
                worst = float("inf")
        check = worst
    calibrate_check = check_calibrate(args.weightdrift, runs, [r["scores"][kept] for r in rows]) if args.weightdrift else None
    out = {"families": doc["families"], "rows": rows, "candidates": table, "banding": band_rows,
           "calibration": calib, "toolVsKeptMaxRelativeDifference": check, "keptVsAggregateBootstrap": kept_vs_agg,
           "lofoSelection": selection, "digitsCNN": digits,
           "calibrateVsFitCuts": calibrate_check}
    (HERE / "results.json").write_text(json.dumps(out, indent=1, default=float) + "\n")
    write_md(out, fams, cur, kept)


def write_md(out, fams, cur, kept):
    L = ["# Transfer study: results", "",
         "Generated by `analyse.py` from `runs.json` (`study.py`). Forgetting = points of original-task",
         "accuracy lost; for `bncnn_new` and `gru` the old head is re-attached to the fine-tuned backbone.",
         "Bands: low < 5, medium 5–20, high > 20 points.", "", "## Families", "",
         "| family | parameters | original-task accuracy | runs | forgetting min / median / max |",
         "|---|---:|---:|---:|---|"]
    for f in fams:
        ys = [r["forgetting"] for r in out["rows"] if r["family"] == f]
        info = out["families"][f]
        L.append(f"| {f} | {info['params']} | {info['origAcc']:.3f} | {len(ys)} | "
                 f"{min(ys):.1f} / {np.median(ys):.1f} / {max(ys):.1f} |")
    L += ["", "## Spearman's rho against measured forgetting", "",
          "Bootstrap: paired, runs resampled 2000×; mean Δrho against the current score, 95% interval, "
          "share of draws where the candidate wins.", "",
          "| candidate | all | " + " | ".join(fams) + " | Δ vs current [95%] (wins) |",
          "|---|---:|" + "---:|" * len(fams) + "---|"]
    for t in out["candidates"]:
        bs = t["bootstrapVsCurrent"]
        b = f"{bs[0]:+.3f} [{bs[1]:+.3f}, {bs[2]:+.3f}] ({bs[3]:.0%})" if bs else "—"
        L.append(f"| {t['candidate']} | {t['rho']:.3f} | " + " | ".join(f"{t['perFamily'][f]:.2f}" for f in fams)
                 + f" | {b} |")
    b = out["keptVsAggregateBootstrap"]
    L += ["", f"Kept against the size-weighted aggregate (same weights, same heads): Δrho {b[0]:+.3f} "
              f"[{b[1]:+.3f}, {b[2]:+.3f}], kept wins in {b[3]:.0%} of draws.", "",
          "Leave-one-family-out choice of the score (best rho on four families, judged on the fifth):", "",
          "| held-out family | chosen on the other four | its rho there | kept score's rho there |", "|---|---|---:|---:|"]
    for f, d in out["lofoSelection"].items():
        L.append(f"| {f} | {d['chosen']} | {d['heldOutRho']:.2f} | {d['keptHeldOutRho']:.2f} |")
    d = out["digitsCNN"]
    if d:
        L += ["", f"A sixth family on which nothing here was chosen: the {d['runs']} digits-CNN runs of "
                  f"`tools/experiments/forgetting` (scored from their stored compare JSON): rho {d['keptRho']:.3f} for the kept "
                  f"score against {d['currentRho']:.3f} for the current one (Δ {d['bootstrap'][0]:+.3f} "
                  f"[{d['bootstrap'][1]:+.3f}, {d['bootstrap'][2]:+.3f}])."]
    L += ["", "## Bands", "", "| score | rule | right band | lost > 20 called low |", "|---|---|---:|---:|"]
    for n, d in out["banding"].items():
        for k in ("old defaults 0.03/0.08", "defaults 0.015/0.05", "leave-one-family-out"):
            ok, lb, tot = d[k]
            L.append(f"| {n} | {k} | {ok}/{tot} ({ok / tot:.0%}) | {lb} |")
    L += ["", "Leave-one-family-out cut points (fitted on the other four families):", "",
          "| family | medium | high | right | lost > 20 called low |", "|---|---:|---:|---:|---:|"]
    for f, d in out["banding"][kept]["lofoPerFamily"].items():
        L.append(f"| {f} | {d['cuts'][0]:.4g} | {d['cuts'][1]:.4g} | {d['right']}/{d['runs']} | {d['lostOver20CalledLow']} |")
    c = out["calibration"]
    shape = lambda d: (f"edge {d['edge']:.3g}, quantile {d['quantile']:.3g}, high quantile {d['highQuantile']:.3g}, "
                       f"prior median {d['priorMedian']:.3g} (sd {d['priorSD']:.2f} in log"
                       + (f", the families' sd x {d['priorScale']:.3g}" if "priorScale" in d else "") + "), "
                       f"ratio prior median {d['ratioMedian']:.3g} (sd {d['ratioSD']:.2f} in log)"
                       + (f", position sd {d['positionSD']:.3g}" if "positionSD" in d else ""))
    fixed = lambda d: (f"ratio {d['ratio']:.3g}, edge {d['edge']:.3g}, quantile {d['quantile']:.3g}, "
                       f"prior median {d['priorMedian']:.3g}, prior sd {d['priorSD']:.2f}")
    L += ["", "## Calibration on three labelled runs of a family", "",
          "Three kinds of label sets per family: *every* choice of three labelled runs; *spread*: one run from each third "
          "of the family's log learning-rate range; *one per band*: one run that kept the task (< 5 points), one medium "
          "(5–20), one high (> 20) — what a user gets who labels one run of each kind. Cut points are fitted on the three "
          "and the family's other runs banded with them. Rules: *gaps between the labels*: cut points in the gaps the "
          "labelled runs show (refuses without a run that kept the task and one that lost ≥ 5 points). *Fixed ratio* (the "
          "rule shipped before the two-parameter rules): the medium cut a per-user scale, the high cut a shared ratio above it; each labelled run an "
          "interval-censored observation of the scale, the prior the other models' scales, the cut the posterior's cautious "
          "quantile. *Two parameters, bands only* (the rule shipped before this one): the medium cut and the high/medium "
          "ratio both fitted, each with a log-normal prior from the families' own cut points, each labelled run an "
          "interval-censored observation by its band; the medium cut is a cautious quantile of its marginal, the high "
          "cut a quantile of the high cut's marginal. *Two parameters + loss position* (shipped, `fit_cuts`): the same, "
          "and the number of points each run lost places it inside the bands (loss linear in log score between the "
          "cuts, a normal term of sd `positionSD` in log score; losses 1–40 points only), and the prior on the medium "
          "cut widened by a factor chosen leave-one-family-out within the families the shape is chosen on. *shipped shape*: chosen on all five families, "
          "rounded (what `weightdrift calibrate` uses) — judged on the same families, so optimistic; "
          "*leave-one-family-out shape*: chosen on the other four families only — the honest figure. digits (the 48 runs "
          "of `tools/experiments/forgetting`) had no part in any choice; its leave-one-family-out figure is the shipped one.", "",
          f"Two parameters + loss position, shipped shape: {shape(c['shipped'])}. Chosen on all five: "
          f"{shape(c['selectedOnAll'])}; held-out share by prior scale: "
          + ", ".join(f"x{k} {v:.3f}" for k, v in c['selectedOnAll']['heldOutByPriorScale'].items()) + ".", "",
          f"Two parameters, bands only, shipped shape: {shape(c['bandsOnly']['shipped'])}. Chosen on all five: "
          f"{shape(c['bandsOnly']['selectedOnAll'])}.", "",
          f"Fixed-ratio rule, shipped shape: {fixed(c['fixedRatio']['shipped'])}. Chosen on all five: "
          f"{fixed(c['fixedRatio']['selectedOnAll'])}.", "",
          "Mean share of the family's other runs in the right band (every / spread / one per band), and runs that lost "
          "more than 20 points called low, summed over all triples of the three kinds:", "",
          "| family | triples (every / spread / one per band) | " + " | ".join(RULES) + " |",
          "|---|---|" + "---:|" * len(RULES)]
    for f, rules in c["families"].items():
        cell = lambda r: (" / ".join(f"{r[k]['meanShare']:.0%}" for k in KINDS)
                          + (f" ({sum(r[k]['lostOver20CalledLow'] for k in KINDS)} called low)"
                             if any(r[k]['lostOver20CalledLow'] for k in KINDS) else ""))
        n = " / ".join(str(rules[RULES[0]][k]["triples"]) for k in KINDS)
        L.append(f"| {f} | {n} | " + " | ".join(cell(rules[r]) for r in RULES) + " |")
    L += ["", "In full:", "",
          "| family | rule | triples | mean share right | median | triples ≥ 90% right | refused | lost > 20 called low (runs, over all triples) |",
          "|---|---|---|---:|---:|---:|---:|---:|"]
    for f, rules in c["families"].items():
        for rule, kinds in rules.items():
            for kind, e in kinds.items():
                L.append(f"| {f} | {rule} | {kind} ({e['triples']}) | {e['meanShare']:.0%} | {e['medianShare']:.0%} | "
                         f"{e['atLeast90']:.0%} | {e['refused']} | {e['lostOver20CalledLow']} |")
    L += ["", "Two parameters + loss position, shapes chosen leave-one-family-out:", ""]
    L += [f"- without {f}: {shape(d)}" for f, d in c["lofoShapes"].items() if f != "digits"]
    L += ["", "Two parameters, bands only, shapes chosen leave-one-family-out:", ""]
    L += [f"- without {f}: {shape(d)}" for f, d in c["bandsOnly"]["lofoShapes"].items() if f != "digits"]
    L += ["", "Fixed-ratio shapes chosen leave-one-family-out:", ""]
    L += [f"- without {f}: {fixed(d)}" for f, d in c["fixedRatio"]["lofoShapes"].items() if f != "digits"]
    if out.get("calibrateVsFitCuts") is not None:
        L += ["", f"`weightdrift calibrate` against `fit_cuts` on the tool's own scores, {out['calibrateVsFitCuts']['csvs']} "
                  f"label sets: max relative difference of the cut points {out['calibrateVsFitCuts']['maxRelativeDifference']:.2g}."]
    if out["toolVsKeptMaxRelativeDifference"] is not None:
        L += ["", f"`weightdrift compare` forgetting score against the kept candidate: max relative difference "
                  f"{out['toolVsKeptMaxRelativeDifference']:.2g}."]
    L += ["", "## Runs", "", "| family | run | lost | detected head | kept score | current score |",
          "|---|---|---:|---|---:|---:|"]
    for r in out["rows"]:
        L.append(f"| {r['family']} | {r['run']} | {r['forgetting']:.1f} | {r['head'] or '—'} | "
                 f"{r['scores'][kept]:.4g} | {r['scores'][cur]:.4g} |")
    (HERE / "results.md").write_text("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
