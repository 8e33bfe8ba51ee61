#!/usr/bin/env python3
"""Forgetting experiment: real fine-tunes whose forgetting we measure, then WeightDrift on each.

Pretrains a small CNN (3 conv blocks + dense + 10-way softmax head) on scikit-learn's digits
0-4, then fine-tunes copies of it on digits 5-9 in many settings, in two families:

  shared   the fine-tune keeps training the SAME 10-unit head (labels 5-9); original-task
           accuracy is the 10-way accuracy on the held-out digits 0-4.
  newhead  the fine-tune gets a NEW 5-unit head `head_new` (labels 5-9 -> 0-4); original-task
           accuracy is measured by re-attaching the OLD pretrained head to the fine-tuned
           backbone (isolates backbone forgetting).

Every fine-tuned model is saved as .keras under --runs-dir (default /work/forgetting-runs), its
facts go to runs.json next to this script, and `weightdrift compare PRETRAINED RUN --format json`
is stored as drift/<run>.json next to this script.

Usage (Keras 3, CPU, venv /work/venv-samples):

    python run.py                          # train everything, then compare
    python run.py --compare-only           # only re-run weightdrift on the saved models
    python run.py --weightdrift /path/to/weightdrift
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

# Determinism + quiet, before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
os.environ.setdefault("PYTHONHASHSEED", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_RUNS = Path("/work/forgetting-runs")
DEFAULT_WD = Path("/tmp/wd-exp/.build/release/weightdrift")

DATA_SEED = 1234      # train/test split
PRETRAIN_SEED = 1234  # pretraining init + shuffling
PRETRAIN_EPOCHS = 20
PRETRAIN_LR = 1e-3
BATCH = 32
OLD = (0, 1, 2, 3, 4)
NEW = (5, 6, 7, 8, 9)
BACKBONE = ["conv1", "conv2", "conv3", "dense"]   # weighted layers below the head, model order


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------------------
# The run grid
# ---------------------------------------------------------------------------

def grid():
    """(family, optimizer, lr, epochs, seed, freeze) for every fine-tune.

    freeze: "none" | "backbone" (only the head trains) | "conv1" (first conv block frozen).
    """
    runs = []
    for fam in ("shared", "newhead"):
        add = lambda *a: runs.append((fam,) + a)  # noqa: E731
        # learning-rate sweep, Adam, 5 epochs
        add("adam", 1e-5, 5, 1, "none")
        add("adam", 1e-5, 5, 2, "none")
        add("adam", 3e-5, 5, 1, "none")
        add("adam", 1e-4, 5, 1, "none")
        add("adam", 1e-4, 5, 2, "none")
        add("adam", 1e-3, 5, 1, "none")
        add("adam", 1e-3, 5, 2, "none")
        add("adam", 3e-3, 5, 1, "none")
        add("adam", 3e-2, 5, 1, "none")
        add("adam", 3e-2, 5, 2, "none")
        add("adam", 1e-1, 5, 1, "none")
        # fewer / more epochs
        add("adam", 1e-4, 1, 1, "none")
        add("adam", 1e-3, 1, 1, "none")
        add("adam", 1e-3, 20, 1, "none")
        # plain SGD sweep
        add("sgd", 1e-3, 5, 1, "none")
        add("sgd", 3e-3, 5, 1, "none")
        add("sgd", 1e-2, 5, 1, "none")
        add("sgd", 1e-2, 5, 2, "none")
        add("sgd", 3e-2, 5, 1, "none")
        add("sgd", 1e-1, 5, 1, "none")
        # freezing
        add("adam", 1e-3, 5, 1, "backbone")
        add("adam", 1e-2, 5, 1, "backbone")
        add("adam", 1e-3, 5, 1, "conv1")
        add("adam", 3e-2, 5, 1, "conv1")
    return runs


def run_name(fam, opt, lr, epochs, seed, freeze):
    f = "" if freeze == "none" else f"_freeze-{freeze}"
    return f"{fam}_{opt}_lr{lr:g}_e{epochs}{f}_s{seed}"


# ---------------------------------------------------------------------------
# Data and model
# ---------------------------------------------------------------------------

def load_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    y = d.target.astype(np.int64)
    out = {}
    for task, classes in (("old", OLD), ("new", NEW)):
        m = np.isin(y, classes)
        xt, xv, yt, yv = train_test_split(x[m], y[m], test_size=0.25, random_state=DATA_SEED,
                                          stratify=y[m])
        out.update({f"x_{task}_train": xt, f"y_{task}_train": yt,
                    f"x_{task}_test": xv, f"y_{task}_test": yv})
    return out


def build_cnn(K):
    L = K.layers
    inp = K.Input(shape=(8, 8, 1), name="image")
    h = L.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inp)     # block 1
    h = L.MaxPooling2D(2, name="pool1")(h)                                        # 4x4
    h = L.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(h)       # block 2
    h = L.MaxPooling2D(2, name="pool2")(h)                                        # 2x2
    h = L.Conv2D(32, 3, padding="same", activation="relu", name="conv3")(h)       # block 3
    h = L.Flatten(name="flatten")(h)
    h = L.Dense(64, activation="relu", name="dense")(h)
    out = L.Dense(10, activation="softmax", name="head")(h)
    return K.Model(inp, out, name="digits_cnn")


def make_optimizer(K, name, lr):
    if name == "adam":
        return K.optimizers.Adam(lr)
    if name == "sgd":
        return K.optimizers.SGD(lr)
    raise ValueError(name)


def probs(model, x):
    return np.asarray(model(x, training=False))


def acc(p, y):
    return float(np.mean(np.argmax(p, axis=1) == y))


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------

def pretrain(K, data, path):
    K.utils.set_random_seed(PRETRAIN_SEED)
    m = build_cnn(K)
    m.compile(optimizer=K.optimizers.Adam(PRETRAIN_LR), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    m.fit(data["x_old_train"], data["y_old_train"], epochs=PRETRAIN_EPOCHS, batch_size=BATCH,
          shuffle=True, verbose=0)
    m.save(str(path))
    p = probs(m, data["x_old_test"])
    info = {"optimizer": "adam", "lr": PRETRAIN_LR, "epochs": PRETRAIN_EPOCHS,
            "seed": PRETRAIN_SEED, "origAcc": acc(p, data["y_old_test"]),
            "newAcc": acc(probs(m, data["x_new_test"]), data["y_new_test"]),
            "params": int(m.count_params()),
            "trainSizes": {"old": int(len(data["y_old_train"])), "new": int(len(data["y_new_train"]))},
            "testSizes": {"old": int(len(data["y_old_test"])), "new": int(len(data["y_new_test"]))}}
    log(f"pretrained: original-task test acc {info['origAcc']:.4f}, "
        f"10-way acc on 5-9 {info['newAcc']:.4f}, {info['params']} params")
    return info


def finetune(K, data, pre_path, out_path, fam, opt, lr, epochs, seed, freeze):
    K.backend.clear_session()
    K.utils.set_random_seed(seed)
    pre = K.models.load_model(str(pre_path))
    if fam == "shared":
        model = pre
        y_train = data["y_new_train"]
        head = "head"
    else:
        feats = pre.get_layer("dense").output
        new_head = K.layers.Dense(len(NEW), activation="softmax", name="head_new")(feats)
        model = K.Model(pre.input, new_head, name="digits_cnn_newhead")
        y_train = data["y_new_train"] - NEW[0]
        head = "head_new"
    trainable_layers = [l.name for l in model.layers if l.weights]
    if freeze == "backbone":
        frozen = [n for n in trainable_layers if n != head]
    elif freeze == "conv1":
        frozen = ["conv1"]
    else:
        frozen = []
    for n in frozen:
        model.get_layer(n).trainable = False
    model.compile(optimizer=make_optimizer(K, opt, lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(data["x_new_train"], y_train, epochs=epochs, batch_size=BATCH, shuffle=True,
                     verbose=0)
    model.save(str(out_path))
    weights_nan = bool(any(not np.all(np.isfinite(np.asarray(w))) for w in model.weights))

    # original task
    if fam == "shared":
        p_old = probs(model, data["x_old_test"])
        p_new = probs(model, data["x_new_test"])
        new_acc = acc(p_new, data["y_new_test"])             # 10-way
        new_acc_masked = acc(p_new[:, list(NEW)], data["y_new_test"] - NEW[0])
    else:
        # re-attach the OLD head: a fresh copy of the pretrained model with the fine-tuned
        # backbone's weights copied in, layer by layer
        evalm = K.models.load_model(str(pre_path))
        for n in BACKBONE:
            evalm.get_layer(n).set_weights(model.get_layer(n).get_weights())
        p_old = probs(evalm, data["x_old_test"])
        new_acc = acc(probs(model, data["x_new_test"]), data["y_new_test"] - NEW[0])  # 5-way
        new_acc_masked = None
    orig_after = acc(p_old, data["y_old_test"])
    # the same old-task prediction restricted to the logits of digits 0-4 (removes the
    # "head now prefers 5-9" effect; equals origAccAfter when the old head is re-attached)
    orig_after_masked = acc(p_old[:, list(OLD)], data["y_old_test"])
    loss = float(hist.history["loss"][-1])
    return {"origAccAfter": orig_after, "origAccAfterMasked": orig_after_masked,
            "newAcc": new_acc, "newAccMaskedTo5to9": new_acc_masked,
            "finalTrainLoss": loss if np.isfinite(loss) else str(loss),
            "weightsHaveNaN": weights_nan, "frozenLayers": frozen,
            "trainableParams": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))}


# ---------------------------------------------------------------------------
# WeightDrift
# ---------------------------------------------------------------------------

def compare(wd, pre_path, run_path, out_json):
    res = subprocess.run([str(wd), "compare", str(pre_path), str(run_path), "--format", "json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if res.returncode not in (0, 1):
        raise SystemExit(f"weightdrift exit {res.returncode} on {run_path}: {res.stderr.strip()}")
    doc = json.loads(res.stdout)
    out_json.write_text(json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n")
    return res.returncode


def wd_commit(wd):
    repo = Path(wd).resolve().parents[2]
    try:
        return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                              stdout=subprocess.PIPE, text=True).stdout.strip()
    except Exception:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs-dir", default=str(DEFAULT_RUNS))
    ap.add_argument("--weightdrift", default=str(DEFAULT_WD))
    ap.add_argument("--compare-only", action="store_true")
    ap.add_argument("--out", default=str(HERE), help="where runs.json and drift/ go")
    args = ap.parse_args()

    runs_dir = Path(args.runs_dir)
    out = Path(args.out)
    drift_dir = out / "drift"
    runs_json = out / "runs.json"
    wd = Path(args.weightdrift)
    if not wd.exists():
        raise SystemExit(f"{wd} missing: build it first (see README.md)")
    t0 = time.time()

    if not args.compare_only:
        import tensorflow as tf
        tf.config.experimental.enable_op_determinism()
        import keras as K
        import sklearn
        if runs_dir.exists():
            shutil.rmtree(runs_dir)
        runs_dir.mkdir(parents=True)
        data = load_data()
        pre_path = runs_dir / "pretrained.keras"
        pre_info = pretrain(K, data, pre_path)
        doc = {"pretrained": pre_info, "runs": [],
               "env": {"keras": K.__version__, "tensorflow": tf.__version__,
                       "numpy": np.__version__, "scikit-learn": sklearn.__version__,
                       "python": sys.version.split()[0], "cpus": os.cpu_count()}}
        for fam, opt, lr, epochs, seed, freeze in grid():
            name = run_name(fam, opt, lr, epochs, seed, freeze)
            t = time.time()
            r = finetune(K, data, pre_path, runs_dir / f"{name}.keras", fam, opt, lr, epochs,
                         seed, freeze)
            r.update({"run": name, "family": fam, "optimizer": opt, "lr": lr, "epochs": epochs,
                      "seed": seed, "freeze": freeze, "path": str(runs_dir / f"{name}.keras"),
                      "origAccBefore": pre_info["origAcc"],
                      "drop": pre_info["origAcc"] - r["origAccAfter"],
                      "seconds": round(time.time() - t, 2)})
            doc["runs"].append(r)
            log(f"{name:42s} orig {r['origAccBefore']:.3f}->{r['origAccAfter']:.3f} "
                f"(drop {100 * r['drop']:5.1f} pts)  new {r['newAcc']:.3f}  {r['seconds']:.1f}s")
        doc["trainSeconds"] = round(time.time() - t0, 1)
    else:
        doc = json.loads(runs_json.read_text())

    # WeightDrift on every run
    t1 = time.time()
    if drift_dir.exists():
        shutil.rmtree(drift_dir)
    drift_dir.mkdir(parents=True)
    pre_path = runs_dir / "pretrained.keras"
    for r in doc["runs"]:
        r["weightdriftExit"] = compare(wd, pre_path, r["path"], drift_dir / f"{r['run']}.json")
    doc["weightdrift"] = {"binary": str(wd), "commit": wd_commit(wd),
                          "compareSeconds": round(time.time() - t1, 1)}
    runs_json.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    log(f"weightdrift on {len(doc['runs'])} runs: {doc['weightdrift']['compareSeconds']}s; "
        f"total {time.time() - t0:.0f}s; wrote {runs_json} and {drift_dir}/")


if __name__ == "__main__":
    main()
