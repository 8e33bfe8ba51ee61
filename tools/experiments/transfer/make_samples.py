#!/usr/bin/env python3
"""Copies a few of the study's real checkpoints into samples/transfer/ for the test suite.

Each chosen model is loaded with Keras (compile=False) and saved again as .keras, which drops the
optimizer state (the files stay a few KB) and keeps the weights bit-identical. Writes
samples/transfer/manifest.json (per run: measured forgetting, the numpy oracle's forgetting score
and detected head from analyse.py; under "calibrationOracle", analyse.fit_cuts on a few sets of
those runs, which the tests hold `weightdrift calibrate` to) and samples/transfer/mlp_labelled.csv /
mlp_runs.csv for the calibrate tests.

    /work/venv-samples/bin/python tools/experiments/transfer/make_samples.py
    /work/venv-samples/bin/python tools/experiments/transfer/make_samples.py --oracle-only   # manifest's oracle only
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
OUT = ROOT / "samples" / "transfer"
sys.path.insert(0, str(HERE))

import analyse  # noqa: E402

# (family, run) pairs; the first three mlp runs are the labelled ones of the calibrate test.
CHOSEN = {
    "mlp": ["adam_lr0.0001_e3_s1", "rmsprop_lr0.0003_e3_s1", "adam_lr0.001_e3_s1",
            "adam_lr1e-05_e3_s1", "adam_lr0.0001_e10_s1", "sgd_lr0.003_e3_s1", "sgd_lr0.1_e3_s1",
            "adam_lr0.0001_e3_lpft_s1", "adam_lr0.01_e3_s1"],
    "gru": ["adam_lr0.001_e3_frozen_s1", "adam_lr0.001_e3_s1"],
    "bncnn_new": ["adam_lr0.0001_e3_s1"],
}
LABELLED = 3
# Label sets (mlp run names) for the calibration oracle: the labelled CSV's three (one run of each
# band), runs that all forgot, runs that all kept the task (one moved past the prior's median),
# runs that kept the task and barely moved (calibrate refuses), and every mlp run.
ORACLE_SETS = {
    "labelled": CHOSEN["mlp"][:LABELLED],
    "forgotOnly": ["rmsprop_lr0.0003_e3_s1", "sgd_lr0.003_e3_s1", "adam_lr0.001_e3_s1"],
    "keptOnly": ["adam_lr1e-05_e3_s1", "adam_lr0.0001_e3_s1", "adam_lr0.0001_e3_lpft_s1"],
    "barelyMoved": ["adam_lr1e-05_e3_s1", "adam_lr0.0001_e3_s1"],
    "allMlp": CHOSEN["mlp"],
}


def calibration_oracle(manifest):
    """analyse.fit_cuts on each ORACLE_SETS set of the manifest's mlp runs (null: it refuses)."""
    by = {r["run"]: r for r in manifest["runs"] if r["family"] == "mlp"}
    out = {"shape": analyse.SHAPE}
    for key, names in ORACLE_SETS.items():
        cuts = analyse.fit_cuts([by[n]["score"] for n in names], [by[n]["forgetting"] for n in names])
        out[key] = {"runs": names, "cuts": None if cuts is None else {"medium": cuts[0], "high": cuts[1]}}
    return out


def main():
    if "--oracle-only" in sys.argv:
        manifest = json.loads((OUT / "manifest.json").read_text())
        manifest["calibrationOracle"] = calibration_oracle(manifest)
        (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        return
    import keras as K
    doc = json.loads((HERE / "runs.json").read_text())
    by = {(r["family"], r["run"]): r for r in doc["runs"]}
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = {"generator": "tools/experiments/transfer/make_samples.py", "bands": "low < 5, medium 5-20, high > 20 points",
                "families": {}, "runs": []}
    for fam, names in CHOSEN.items():
        d = OUT / fam
        d.mkdir(exist_ok=True)
        base_src = Path(by[(fam, names[0])]["base"])
        K.models.load_model(str(base_src), compile=False).save(str(d / "base.keras"))
        manifest["families"][fam] = {**doc["families"][fam], "base": f"{fam}/base.keras"}
        base_w = analyse.load_weights(K, d / "base.keras")
        for name in names:
            r = by[(fam, name)]
            K.models.load_model(r["tuned"], compile=False).save(str(d / f"{name}.keras"))
            c = analyse.candidates(base_w, analyse.load_weights(K, d / f"{name}.keras"), None)
            kept = [k for k in c if k.startswith("KEPT")][0]
            manifest["runs"].append({"family": fam, "run": name, "tuned": f"{fam}/{name}.keras",
                                     "forgetting": r["forgetting"], "score": c[kept],
                                     "currentScore": c[[k for k in c if k.startswith("current")][0]],
                                     "detectedHead": c["_head"], "headReattached": r["headReattached"],
                                     "recipe": {k: r[k] for k in ("opt", "lr", "epochs", "wd", "freeze", "lpft", "seed")}})
    manifest["calibrationOracle"] = calibration_oracle(manifest)
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    mlp = [r for r in manifest["runs"] if r["family"] == "mlp"]
    rows = lambda rs: "base,tuned,forgetting\n" + "".join(f"mlp/base.keras,{r['tuned']},{r['forgetting']}\n" for r in rs)  # noqa: E731
    (OUT / "mlp_labelled.csv").write_text(rows(mlp[:LABELLED]))
    (OUT / "mlp_runs.csv").write_text(rows(mlp))
    for p in sorted(OUT.rglob("*.keras")):
        print(f"{p.relative_to(ROOT)}  {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
