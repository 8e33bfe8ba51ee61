#!/usr/bin/env python3
"""Multi-architecture forgetting study: real fine-tunes of five model families unlike the digits
CNN, each pretrained on an original task and fine-tuned in 17 recipes; forgetting is measured as
points of original-task accuracy lost.

Families (all data bundled with scikit-learn or synthetic; nothing is downloaded):

  mlp          MLP on synthetic tabular data (make_classification, 4 classes). The fine-tune task
               is the same classes on rotated, shifted inputs (a new domain). Shared head.
  bncnn_new    BatchNorm CNN on scikit-learn digits 0-4, fine-tuned on 5-9 with a NEW 5-way head
               `head_new`; original task measured by RE-ATTACHING the old head to the fine-tuned
               backbone (BatchNorm moving statistics included, as the fine-tune left them).
  bncnn_shared the same CNN keeping its 10-way head (fine-tuned on 5-9); original task is the
               10-way accuracy on held-out 0-4.
  gru          Bidirectional GRU on synthetic 4-channel sequences: original task is the quadrant of
               (sum ch0, sum ch1), the fine-tune's the quadrant of (sum ch2, sum ch3). The head is
               RE-INITIALISED with the SAME name and shape (`head`); the original task is measured
               by RE-ATTACHING the old head's weights.
  transformer  tiny Transformer encoder (token + position embedding, 2-head attention, LayerNorm,
               FFN) on synthetic token sequences: original task is which of tokens 0-3 is most
               frequent, the fine-tune's which of 4-7. Shared head.

Every base and fine-tuned model is saved as .keras under --runs-dir (default
/work/transfer-runs, outside the repository); facts per run go to runs.json next to this script.

    nice -n 10 /work/venv-samples/bin/python tools/experiments/transfer/study.py [--only FAMILY]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
os.environ.setdefault("PYTHONHASHSEED", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_RUNS = Path("/work/transfer-runs")
BATCH = 32
FAMILIES = ["mlp", "bncnn_new", "bncnn_shared", "gru", "transformer"]


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------------------
# Recipes (the same 17 for every family; 3 epochs unless said)
# ---------------------------------------------------------------------------

def recipes():
    """name -> dict(opt, lr, epochs, seed, wd, freeze, lpft)."""
    r = []

    def add(opt, lr, epochs=3, seed=1, wd=0.0, freeze=False, lpft=False):
        r.append(dict(opt=opt, lr=lr, epochs=epochs, seed=seed, wd=wd, freeze=freeze, lpft=lpft))

    add("adam", 1e-5)
    add("adam", 1e-4)
    add("adam", 1e-4, epochs=10)
    add("adam", 3e-4)
    add("adam", 1e-3)
    add("adam", 1e-2)
    add("adam", 1e-1, epochs=2)
    add("adam", 1e-3, epochs=10)
    add("sgd", 3e-3)
    add("sgd", 1e-2)
    add("sgd", 1e-1)
    add("rmsprop", 3e-4)
    add("rmsprop", 1e-3)
    add("adamw", 1e-3, wd=0.5)          # decoupled decay: shrinkage
    add("sgd", 1e-2, wd=2.0)            # strong decay at a low rate: mostly shrinkage
    add("adam", 1e-3, freeze=True)      # frozen backbone: only the head trains
    add("adam", 1e-4, lpft=True)        # linear probe (2 epochs, 1e-3), then full fine-tune
    return r


def recipe_name(x):
    s = f"{x['opt']}_lr{x['lr']:g}_e{x['epochs']}"
    if x["wd"]:
        s += f"_wd{x['wd']:g}"
    if x["freeze"]:
        s += "_frozen"
    if x["lpft"]:
        s += "_lpft"
    return s + f"_s{x['seed']}"


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def split(x, y, seed, frac=0.25):
    from sklearn.model_selection import train_test_split
    return train_test_split(x, y, test_size=frac, random_state=seed, stratify=y)


def data_mlp():
    from sklearn.datasets import make_classification
    x, y = make_classification(n_samples=1600, n_features=16, n_informative=10, n_redundant=2,
                               n_classes=4, n_clusters_per_class=2, class_sep=1.2, random_state=7)
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    rng = np.random.default_rng(11)
    q, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    x_new = (x @ q + 0.5).astype(np.float32)
    a = split(x, y, 1)
    b = split(x_new, y, 2)
    return dict(old=(a[0], a[2], a[1], a[3]), new=(b[0], b[2], b[1], b[3]))


def data_digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    y = d.target.astype(np.int64)
    out = {}
    for task, classes in (("old", range(0, 5)), ("new", range(5, 10))):
        m = np.isin(y, list(classes))
        xt, xv, yt, yv = split(x[m], y[m], 1234)
        out[task] = (xt, yt, xv, yv)
    return out


def data_gru():
    rng = np.random.default_rng(5)
    n, t = 1600, 12
    x = rng.normal(size=(n, t, 4)).astype(np.float32)
    s = x.sum(1)
    y_old = ((s[:, 0] > 0).astype(int) * 2 + (s[:, 1] > 0).astype(int))
    y_new = ((s[:, 2] > 0).astype(int) * 2 + (s[:, 3] > 0).astype(int))
    a = split(x[:800], y_old[:800], 1)
    b = split(x[800:], y_new[800:], 2)
    return dict(old=(a[0], a[2], a[1], a[3]), new=(b[0], b[2], b[1], b[3]))


def data_tokens():
    rng = np.random.default_rng(9)
    n, t, v = 1600, 12, 10

    def make(lo):
        x = rng.integers(0, v, size=(n // 2, t))
        counts = np.stack([(x == lo + k).sum(1) for k in range(4)], 1)
        # break ties by adding the winner once more
        y = np.argmax(counts + rng.random(counts.shape) * 0.1, 1)
        x[np.arange(len(x)), rng.integers(0, t, len(x))] = lo + y
        counts = np.stack([(x == lo + k).sum(1) for k in range(4)], 1)
        y = np.argmax(counts + rng.random(counts.shape) * 0.1, 1)
        return x.astype(np.int32), y
    xo, yo = make(0)
    xn, yn = make(4)
    a = split(xo, yo, 1)
    b = split(xn, yn, 2)
    return dict(old=(a[0], a[2], a[1], a[3]), new=(b[0], b[2], b[1], b[3]))


# ---------------------------------------------------------------------------
# Models (tiny)
# ---------------------------------------------------------------------------

def build(K, family):
    L = K.layers
    if family == "mlp":
        inp = K.Input(shape=(16,), name="features")
        h = L.Dense(32, activation="relu", name="dense_in")(inp)
        h = L.Dense(32, activation="relu", name="dense_mid")(h)
        h = L.Dense(16, activation="relu", name="dense_out")(h)
        out = L.Dense(4, activation="softmax", name="head")(h)
        return K.Model(inp, out, name="tabular_mlp")
    if family.startswith("bncnn"):
        inp = K.Input(shape=(8, 8, 1), name="image")
        h = L.Conv2D(12, 3, padding="same", use_bias=False, name="conv1")(inp)
        h = L.BatchNormalization(name="bn1")(h)
        h = L.Activation("relu")(h)
        h = L.MaxPooling2D(2)(h)
        h = L.Conv2D(24, 3, padding="same", use_bias=False, name="conv2")(h)
        h = L.BatchNormalization(name="bn2")(h)
        h = L.Activation("relu")(h)
        h = L.MaxPooling2D(2)(h)
        h = L.Flatten()(h)
        h = L.Dense(32, activation="relu", name="dense")(h)
        out = L.Dense(10, activation="softmax", name="head")(h)
        return K.Model(inp, out, name="bn_cnn")
    if family == "gru":
        inp = K.Input(shape=(12, 4), name="sequence")
        h = L.Bidirectional(L.GRU(12), name="bigru")(inp)
        h = L.Dense(16, activation="relu", name="dense")(h)
        out = L.Dense(4, activation="softmax", name="head")(h)
        return K.Model(inp, out, name="bigru")
    if family == "transformer":
        inp = K.Input(shape=(12,), dtype="int32", name="tokens")
        tok = L.Embedding(10, 16, name="token_embedding")(inp)
        pos = L.Embedding(12, 16, name="position_embedding")(K.ops.arange(12))
        h = tok + pos
        a = L.MultiHeadAttention(num_heads=2, key_dim=8, name="attention")(h, h)
        h = L.LayerNormalization(name="norm1")(h + a)
        f = L.Dense(32, activation="relu", name="ffn_in")(h)
        f = L.Dense(16, name="ffn_out")(f)
        h = L.LayerNormalization(name="norm2")(h + f)
        h = L.GlobalAveragePooling1D()(h)
        out = L.Dense(4, activation="softmax", name="head")(h)
        return K.Model(inp, out, name="tiny_transformer")
    raise ValueError(family)


def data_for(family):
    return {"mlp": data_mlp, "bncnn_new": data_digits, "bncnn_shared": data_digits,
            "gru": data_gru, "transformer": data_tokens}[family]()


PRETRAIN = {"mlp": 30, "bncnn_new": 20, "bncnn_shared": 20, "gru": 20, "transformer": 25}


def make_optimizer(K, name, lr, wd):
    kw = {"weight_decay": wd} if wd else {}
    return {"adam": K.optimizers.Adam, "adamw": K.optimizers.AdamW, "sgd": K.optimizers.SGD,
            "rmsprop": K.optimizers.RMSprop}[name](learning_rate=lr, **kw)


def acc(model, x, y, offset=0):
    p = np.asarray(model(x, training=False))
    return float(np.mean(np.argmax(p, 1) == (y - offset)))


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------

def pretrain(K, family, data, path):
    K.backend.clear_session()
    K.utils.set_random_seed(1234)
    m = build(K, family)
    m.compile(optimizer=K.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    xt, yt, xv, yv = data["old"]
    m.fit(xt, yt, epochs=PRETRAIN[family], batch_size=BATCH, shuffle=True, verbose=0)
    m.save(str(path))
    return {"origAcc": acc(m, xv, yv), "params": int(m.count_params())}


def head_name(family):
    return "head_new" if family == "bncnn_new" else "head"


def finetune(K, family, data, base_path, out_path, rc):
    K.backend.clear_session()
    K.utils.set_random_seed(rc["seed"])
    pre = K.models.load_model(str(base_path))
    xt, yt, xv, yv = data["new"]
    offset = 5 if family.startswith("bncnn") else 0
    if family == "bncnn_new":
        feats = pre.get_layer("dense").output
        out = K.layers.Dense(5, activation="softmax", name="head_new")(feats)
        model = K.Model(pre.input, out, name="bn_cnn_newhead")
        yt_fit = yt - offset
    else:
        model = pre
        yt_fit = yt
        if family == "gru":
            # a new head for the new task, same name and shape as the old one
            h = model.get_layer("head")
            k, b = h.get_weights()
            rng = np.random.default_rng(rc["seed"] + 100)
            lim = np.sqrt(6.0 / (k.shape[0] + k.shape[1]))
            h.set_weights([rng.uniform(-lim, lim, k.shape).astype(np.float32), np.zeros_like(b)])
    head = head_name(family)
    backbone = [l for l in model.layers if l.weights and l.name != head]

    def fit(opt, lr, wd, epochs):
        model.compile(optimizer=make_optimizer(K, opt, lr, wd), loss="sparse_categorical_crossentropy")
        return model.fit(xt, yt_fit, epochs=epochs, batch_size=BATCH, shuffle=True, verbose=0)

    if rc["lpft"]:
        for l in backbone:
            l.trainable = False
        fit("adam", 1e-3, 0.0, 2)
        for l in backbone:
            l.trainable = True
    elif rc["freeze"]:
        for l in backbone:
            l.trainable = False
    hist = fit(rc["opt"], rc["lr"], rc["wd"], rc["epochs"])
    model.save(str(out_path))
    nan = bool(any(not np.all(np.isfinite(np.asarray(w))) for w in model.weights))
    new_acc = acc(model, xv, yv, offset if family == "bncnn_new" else 0)
    xo, yo = data["old"][2], data["old"][3]
    if family in ("bncnn_new", "gru"):
        # re-attach the old head to the fine-tuned backbone
        evalm = K.models.load_model(str(base_path))
        for l in evalm.layers:
            if l.weights and l.name != "head":
                l.set_weights(model.get_layer(l.name).get_weights())
        orig = acc(evalm, xo, yo)
    else:
        orig = acc(model, xo, yo)
    loss = float(hist.history["loss"][-1])
    return {"origAccAfter": orig, "newAcc": new_acc, "weightsHaveNaN": nan,
            "finalTrainLoss": loss if np.isfinite(loss) else None,
            "headReattached": family in ("bncnn_new", "gru")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS)
    ap.add_argument("--only", choices=FAMILIES)
    args = ap.parse_args()
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras as K
    out = HERE / "runs.json"
    doc = json.loads(out.read_text()) if out.exists() else {"families": {}, "runs": []}
    fams = [args.only] if args.only else FAMILIES
    doc["runs"] = [r for r in doc["runs"] if r["family"] not in fams]
    t_all = time.time()
    for fam in fams:
        d = args.runs_dir / fam
        d.mkdir(parents=True, exist_ok=True)
        data = data_for(fam)
        t0 = time.time()
        base = d / "base.keras"
        info = pretrain(K, fam, data, base)
        info.update({"head": head_name(fam), "pretrainSeconds": round(time.time() - t0, 1),
                     "headReattached": fam in ("bncnn_new", "gru")})
        doc["families"][fam] = info
        log(f"{fam}: pretrained, original-task accuracy {info['origAcc']:.3f}, {info['params']} params")
        for rc in recipes():
            name = recipe_name(rc)
            t0 = time.time()
            res = finetune(K, fam, data, base, d / f"{name}.keras", rc)
            lost = 100.0 * (info["origAcc"] - res["origAccAfter"])
            row = {"family": fam, "run": name, **rc, **res, "forgetting": round(lost, 3),
                   "base": str(base), "tuned": str(d / f"{name}.keras"),
                   "seconds": round(time.time() - t0, 1)}
            doc["runs"].append(row)
            log(f"  {name:34s} lost {lost:6.1f} points  new-task {res['newAcc']:.3f}  {row['seconds']} s")
        out.write_text(json.dumps(doc, indent=1) + "\n")
    log(f"done in {time.time() - t_all:.0f} s")


if __name__ == "__main__":
    main()
