#!/usr/bin/env python3
"""Generate the WeightDrift sample checkpoints in samples/.

Every checkpoint is written by Keras itself (Keras 3 and tf-keras, optionally
tf.keras 2.13), trained on scikit-learn's bundled 8x8 digits data set:
pretraining on digits 0-4, fine-tuning on digits 5-9 with the same 10-way head.
Next to the checkpoints the script writes the ground truth a reader is tested
against: samples/manifest.json (layers, weights, HDF5 paths, optimizer state,
per-run accuracy) and samples/schedules.json (learning-rate schedule values).

Usage (from the repository root, inside the venv of tools/requirements-samples.txt):

    python tools/make_samples.py                 # regenerate everything but samples/tf213
    python tools/make_samples.py --tf213         # also samples/tf213 (needs the venv of
                                                 # tools/requirements-tf213.txt, see --tf213-python)

The heavy lifting happens in sub-processes of this same file (one per framework),
so tf-keras, Keras 3 and TensorFlow 2.13 never share a process. The parent owns
samples/ and deletes what it generates before writing it again.
"""

import argparse
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

SEED = 1234
BATCH = 32
# Layer widths: the brief's Conv2D(8)/Conv2D(16)/Dense(32) CNN, shrunk to keep samples/ < 5 MB.
CONV1_FILTERS = 8
CONV2_FILTERS = 8
DENSE_UNITS = 16
SCHEDULE_STEPS = [0, 1, 10, 99, 100, 500, 1000, 1500, 2000, 2500, 3000, 10000]
ORIGINAL_DIGITS = (0, 1, 2, 3, 4)
NEW_DIGITS = (5, 6, 7, 8, 9)

# Entries of samples/ that this script owns (deleted and rewritten on every run).
OWNED = ["k3", "tfk", "edge", "logs", "manifest.json", "schedules.json"]
TF213_DIR = "tf213"

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / "samples"
DEFAULT_TF213_PYTHON = "/work/venv-tf213/bin/python"


# ---------------------------------------------------------------------------
# Small helpers usable in every process (numpy + h5py only)
# ---------------------------------------------------------------------------

def log(msg):
    print(msg, flush=True)


def to_snake(name):
    """CamelCase class name -> snake_case, the way Keras names container entries."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def decode_str(v):
    if isinstance(v, bytes):
        return v.decode("utf8")
    if isinstance(v, np.bytes_):
        return bytes(v).decode("utf8")
    return str(v)


def read_name_list(attrs, key):
    """Read a Keras name-list attribute, reassembling `<key>0`, `<key>1`, ... chunks."""
    if key in attrs:
        raw = [attrs[key]]
    else:
        raw = []
        i = 0
        while f"{key}{i}" in attrs:
            raw.append(attrs[f"{key}{i}"])
            i += 1
        if not raw:
            return None
    names = []
    for part in raw:
        arr = np.asarray(part)
        if arr.dtype.kind == "f" and arr.size == 0:
            continue  # empty list written as a 0-element float64 array
        for item in arr.reshape(-1):
            names.append(decode_str(item).rstrip("\x00"))
    return names


def raw_bits(arr):
    """Bytes of an array, for bit-exact comparison (NaN-safe, bfloat16-safe)."""
    a = np.ascontiguousarray(np.asarray(arr))
    return a.view(np.uint8).tobytes()


def h5_dtype_name(ds):
    """Map an h5py dataset dtype to the manifest dtype vocabulary."""
    dt = ds.dtype
    if dt.kind == "V" and dt.itemsize == 2:
        return "bfloat16"
    if dt.kind == "f":
        return {2: "float16", 4: "float32", 8: "float64"}[dt.itemsize]
    return dt.name


def decode_values(ds):
    """Decode a dataset's values to float64 independently of ml_dtypes (bfloat16 by bits)."""
    data = ds[()]
    if ds.dtype.kind == "V" and ds.dtype.itemsize == 2:
        u16 = np.asarray(data).view("<u2").astype(np.uint32)
        return (u16 << 16).view(np.float32).astype(np.float64).reshape(-1)
    return np.asarray(data).astype(np.float64).reshape(-1)


class H5Source:
    """Open the HDF5 payload of a sample: plain .h5, the member of a .keras zip, or shards."""

    def __init__(self, path):
        import h5py
        self.h5py = h5py
        self.path = Path(path)
        self.files = {}
        self.zip_meta = None
        self.zip_config = None
        name = self.path.name
        if name.endswith(".keras"):
            with zipfile.ZipFile(self.path) as zf:
                self.zip_names = zf.namelist()
                self.zip_infos = zf.infolist()
                self.zip_meta = json.loads(zf.read("metadata.json"))
                self.zip_config = json.loads(zf.read("config.json"))
                payload = zf.read("model.weights.h5")
            self.files[""] = h5py.File(io.BytesIO(payload), "r")
        elif name.endswith(".weights.json"):
            self.index = json.loads(self.path.read_text())
            shards = sorted({s for v in self.index["weight_map"].values()
                             for s in ([v] if isinstance(v, str) else v)})
            for s in shards:
                self.files[s] = h5py.File(self.path.parent / s, "r")
        else:
            self.files[""] = h5py.File(self.path, "r")

    @property
    def root(self):
        return self.files[""]

    def get(self, path):
        if ":" in path.split("/")[0] and self.path.name.endswith(".weights.json"):
            shard, inner = path.split(":", 1)
            return self.files[shard][inner]
        return self.files[""][path]

    def close(self):
        for f in self.files.values():
            f.close()


# ---------------------------------------------------------------------------
# Framework adapters (used inside the worker processes)
# ---------------------------------------------------------------------------

class Framework:
    """Uniform access to Keras 3, tf-keras and tf.keras 2.13."""

    def __init__(self, kind):
        import tensorflow as tf
        self.tf = tf
        self.kind = kind
        if kind == "k3":
            import keras
            self.K = keras
            self.label = "keras3"
            self.version = keras.__version__
            self.schedule_base = keras.optimizers.schedules.LearningRateSchedule
        elif kind == "tfk":
            import tf_keras
            self.K = tf_keras
            self.label = "tf-keras"
            self.version = tf_keras.__version__
            self.schedule_base = tf_keras.optimizers.schedules.LearningRateSchedule
        elif kind == "tf213":
            import keras as keras2
            self.K = tf.keras
            self.label = "tf.keras-2.13"
            self.version = keras2.__version__
            self.schedule_base = tf.keras.optimizers.schedules.LearningRateSchedule
        else:
            raise ValueError(kind)
        self.K.utils.set_random_seed(SEED)
        try:
            tf.config.experimental.enable_op_determinism()
        except Exception:  # pragma: no cover - older TF
            pass

    # -- variables ---------------------------------------------------------
    def numpy(self, w):
        if self.kind == "k3":
            return np.asarray(self.K.ops.convert_to_numpy(w.value))
        return np.asarray(w.numpy())

    def dtype(self, w):
        if self.kind == "k3":
            return str(w.dtype)
        return w.dtype.name

    def short_name(self, w):
        if self.kind == "k3":
            return w.name
        return w.name.split("/")[-1].split(":")[0]

    def legacy_stored_name(self, w):
        """The name the legacy HDF5 writer puts into `weight_names`."""
        if self.kind == "k3":
            return str(w.path)
        return w.name

    def save_order(self, layer):
        """Variable order of a layer's `vars` group in the `.weights.h5` layout."""
        if self.kind == "k3":
            return list(layer._trainable_variables) + list(layer._non_trainable_variables)
        return list(layer._trainable_weights) + list(layer._non_trainable_weights)

    def is_model(self, layer):
        return isinstance(layer, self.K.Model)

    # -- optimizer ---------------------------------------------------------
    def current_lr(self, opt):
        lr = opt.learning_rate
        if isinstance(lr, self.schedule_base):
            lr = lr(opt.iterations)
        return float(np.asarray(lr))

    def lr_config(self, opt):
        """learning_rate exactly as the optimizer config serializes it (JSON round trip)."""
        cfg = opt.get_config()["learning_rate"]
        return json.loads(json.dumps(cfg, default=json_default))

    def has_schedule(self, opt):
        return isinstance(getattr(opt, "_learning_rate", None), self.schedule_base)


def json_default(o):
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.integer,)):
        return int(o)
    if hasattr(o, "numpy"):
        return o.numpy().item()
    if hasattr(o, "get_config"):
        return {"class_name": type(o).__name__, "config": o.get_config()}
    raise TypeError(f"not JSON serializable: {type(o)}")


# ---------------------------------------------------------------------------
# Ground-truth description of a saved file (worker side)
# ---------------------------------------------------------------------------

def snake_entries(layers):
    """Pair each layer with its `.weights.h5` container name (class counter per container)."""
    counts = {}
    out = []
    for layer in layers:
        base = to_snake(type(layer).__name__)
        if base in counts:
            counts[base] += 1
            name = f"{base}_{counts[base]}"
        else:
            counts[base] = 0
            name = base
        out.append((layer, name))
    return out


def l2_norm(values):
    """float64 L2 norm; rescaled by the max magnitude when the plain sum of squares overflows."""
    plain = float(np.sqrt(np.sum(np.square(values))))
    if np.isfinite(plain):
        return plain
    scale = float(np.max(np.abs(values)))
    return scale * float(np.sqrt(np.sum(np.square(values / scale))))


def weight_record(fw, w, trainable_ids, stored, path):
    values = fw.numpy(w).astype(np.float64)
    rec = {
        "name": fw.short_name(w),
        "storedName": stored,
        "path": path,
        "shape": [int(d) for d in values.shape],
        "dtype": fw.dtype(w),
        "trainable": id(w) in trainable_ids,
    }
    # Value fingerprint: float64 L2 norm (null when non-finite) plus non-finite counts.
    nan, inf = int(np.isnan(values).sum()), int(np.isinf(values).sum())
    rec["l2Norm"] = l2_norm(values) if nan + inf == 0 else None
    if nan + inf:
        rec["nanCount"], rec["infCount"] = nan, inf
    return rec


def describe_layers(fw, model, fmt, with_values=False):
    """Weighted layers (leaves of nested models) with weights in file order.

    Returns (layers, checks) where checks pairs every manifest weight with its live variable.
    """
    layers, checks = [], []

    def add(name, leaf, weights_with_info):
        recs = []
        for w, rec in weights_with_info:
            if with_values:
                rec["values"] = [float(x) for x in fw.numpy(w).astype(np.float64).reshape(-1)]
            recs.append(rec)
            checks.append((rec, w))
        if recs:
            layers.append({"name": name, "className": type(leaf).__name__, "weights": recs})

    if fmt in ("legacy-h5", "legacy-weights-h5"):
        root = "/model_weights" if fmt == "legacy-h5" else ""
        for top in model.layers:
            legacy = list(top.trainable_weights) + list(top.non_trainable_weights)
            if not legacy:
                continue
            tids = {id(w) for w in top.trainable_weights}

            def info(w):
                stored = fw.legacy_stored_name(w)
                return w, weight_record(fw, w, tids, stored, f"{root}/{top.name}/{stored}")

            if fw.is_model(top):
                for leaf in top.layers:
                    leaf_ids = {id(w) for w in leaf.weights}
                    add(f"{top.name}/{leaf.name}", leaf,
                        [info(w) for w in legacy if id(w) in leaf_ids])
            else:
                add(top.name, top, [info(w) for w in legacy])
    else:  # weights-h5, keras-zip, sharded-json: object-path layout
        for top, tname in snake_entries(model.layers):
            tids = {id(w) for w in top.trainable_weights}
            if fw.is_model(top):
                for leaf, lname in snake_entries(top.layers):
                    base = f"/layers/{tname}/layers/{lname}/vars"
                    add(f"{top.name}/{leaf.name}", leaf,
                        [(w, weight_record(fw, w, tids, None, f"{base}/{i}"))
                         for i, w in enumerate(fw.save_order(leaf))])
            else:
                base = f"/layers/{tname}/vars"
                add(top.name, top,
                    [(w, weight_record(fw, w, tids, None, f"{base}/{i}"))
                     for i, w in enumerate(fw.save_order(top))])
    return layers, checks


def wrapped_optimizer(opt):
    """The optimizer doing the updates: the inner one of a mixed-precision LossScaleOptimizer."""
    inner = getattr(opt, "inner_optimizer", None)
    return opt if inner is None else inner


def describe_optimizer(fw, model, fmt):
    opt = getattr(model, "optimizer", None)
    if fmt == "legacy-weights-h5" or opt is None:
        return None, None
    if not list(opt.variables):
        return None, None
    it = int(np.asarray(opt.iterations))
    if fmt == "legacy-h5":
        # Mixed precision wraps the real optimizer in a LossScaleOptimizer: the class name and
        # learning rate recorded are the inner optimizer's (the wrapper's stored name is added
        # as storedClassName by verify_file).
        inner = wrapped_optimizer(opt)
        return {
            "className": type(inner).__name__,
            "iterations": it,
            "iterationsPath": "/optimizer_weights/" + fw.legacy_stored_name(opt.iterations),
            "learningRate": fw.lr_config(inner),
        }, opt
    if fmt == "keras-zip":
        return {
            "className": type(opt).__name__,
            "iterations": it,
            "iterationsPath": "/optimizer/vars/0",
            "learningRate": fw.lr_config(opt),
        }, opt
    # weights-h5 / sharded: no class name, the learning rate only as Keras 3's stored scalar
    lr = None
    if fw.kind == "k3" and not fw.has_schedule(opt):
        lr = float(np.float32(fw.numpy(opt._learning_rate)))
    return {
        "className": None,
        "iterations": it,
        "iterationsPath": "/optimizer/vars/0",
        "learningRate": lr,
    }, opt


def verify_file(fw, model, rel, out_dir, entry, checks, opt):
    """Assert that the file on disk matches what the live model holds (bit for bit)."""
    fmt = entry["format"]
    src = H5Source(out_dir / rel)
    try:
        if fmt == "sharded-json":
            # locate every dataset's shard through the index, then prefix the path
            wm = src.index["weight_map"]
            entry["shards"] = sorted(src.files)
            for rec, w in checks:
                group, idx = rec["path"].rsplit("/", 1)
                shards = wm[group] if isinstance(wm[group], list) else [wm[group]]
                hits = [s for s in shards if rec["path"] in src.files[s]]
                assert len(hits) == 1, (rel, rec["path"], hits)
                rec["path"] = f"{hits[0]}:{rec['path']}"
            if entry.get("optimizer"):
                opath = entry["optimizer"]["iterationsPath"]
                shards = wm["/optimizer/vars"]
                hits = [s for s in shards if opath in src.files[s]]
                assert len(hits) == 1
                entry["optimizer"]["iterationsPath"] = f"{hits[0]}:{opath}"
        for rec, w in checks:
            try:
                ds = src.get(rec["path"])
            except KeyError:
                raise AssertionError(f"{rel}: {rec['path']} not in the file")
            live = fw.numpy(w)
            assert list(ds.shape) == rec["shape"], (rel, rec["path"], ds.shape, rec["shape"])
            assert h5_dtype_name(ds) == rec["dtype"], (rel, rec["path"], ds.dtype, rec["dtype"])
            assert raw_bits(ds[()]) == raw_bits(live), f"{rel}: {rec['path']} differs from the model"
        if fmt in ("legacy-h5", "legacy-weights-h5"):
            g = src.root["model_weights"] if fmt == "legacy-h5" else src.root
            layer_names = read_name_list(g.attrs, "layer_names")
            assert layer_names == [l.name for l in model.layers], (rel, layer_names)
            for top in model.layers:
                wn = read_name_list(g[top.name].attrs, "weight_names")
                want = [fw.legacy_stored_name(w)
                        for w in list(top.trainable_weights) + list(top.non_trainable_weights)]
                assert wn == want, (rel, top.name, wn, want)
            assert decode_str(g.attrs["keras_version"]) == fw.version
            root_attrs = src.root.attrs
            entry["kerasVersion"] = decode_str(root_attrs["keras_version"])
            entry["backend"] = decode_str(root_attrs["backend"])
            assert entry["kerasVersion"] == fw.version
            assert entry["backend"] == "tensorflow"
            if fmt == "legacy-h5" and entry.get("optimizer"):
                tc = json.loads(decode_str(root_attrs["training_config"]))
                oc = tc["optimizer_config"]
                entry["optimizer"]["storedClassName"] = oc["class_name"]
                if wrapped_optimizer(opt) is not opt:
                    # LossScaleOptimizer{,V3}: {"class_name": ..., "config": {"inner_optimizer":
                    # {"class_name": "Adam", "config": {"learning_rate": ...}}, "dynamic": ...,
                    # "initial_scale": ..., "dynamic_growth_steps": ...}}
                    assert "LossScaleOptimizer" in oc["class_name"], oc
                    lso = oc["config"]
                    entry["optimizer"]["innerOptimizerPath"] = "config.inner_optimizer"
                    entry["optimizer"]["lossScale"] = {
                        "dynamic": lso["dynamic"], "initialScale": lso["initial_scale"],
                        "dynamicGrowthSteps": lso["dynamic_growth_steps"]}
                    oc = lso["inner_optimizer"]
                assert oc["class_name"] in (entry["optimizer"]["className"],
                                            "Custom>" + entry["optimizer"]["className"]), oc
                assert oc["config"]["learning_rate"] == entry["optimizer"]["learningRate"], (
                    oc["config"]["learning_rate"], entry["optimizer"]["learningRate"])
        elif fmt == "keras-zip":
            assert src.zip_names[:3] == ["metadata.json", "config.json", "model.weights.h5"], src.zip_names
            entry["kerasVersion"] = src.zip_meta["keras_version"]
            entry["backend"] = src.zip_meta.get("backend")
            entry["zipCompression"] = sorted({i.compress_type for i in src.zip_infos})
            assert entry["kerasVersion"] == fw.version
            cfg_layers = [l["config"]["name"] for l in src.zip_config["config"]["layers"]]
            assert [l.name for l in model.layers] == [n for n in cfg_layers
                                                     if not n.startswith("input")] or \
                [l.name for l in model.layers] == cfg_layers, cfg_layers
            if entry.get("optimizer"):
                oc = src.zip_config["compile_config"]["optimizer"]
                entry["optimizer"]["storedClassName"] = oc["class_name"]
                assert oc["class_name"] in (entry["optimizer"]["className"],
                                            "Custom>" + entry["optimizer"]["className"]), oc
                assert oc["config"]["learning_rate"] == entry["optimizer"]["learningRate"]
        else:
            entry["kerasVersion"] = None
            entry["backend"] = None
        if fmt in ("weights-h5", "keras-zip", "sharded-json") and fw.kind == "k3":
            # Keras 3.6+: each layer's vars group carries the layer name
            for lay in entry["layers"]:
                first = lay["weights"][0]["path"]
                ds = src.get(first)
                assert decode_str(ds.parent.attrs["name"]) == lay["name"].split("/")[-1], (
                    rel, first, dict(ds.parent.attrs))
        if entry.get("optimizer"):
            o = entry["optimizer"]
            ds = src.get(o["iterationsPath"])
            assert ds.shape == () and int(ds[()]) == o["iterations"], (rel, o, ds[()])
            if fmt in ("weights-h5", "sharded-json") and o["learningRate"] is not None:
                lr_path = o["iterationsPath"].rsplit("/", 1)[0] + "/1"
                if fmt == "sharded-json":
                    shard, inner = o["iterationsPath"].split(":", 1)
                    lr_path = f"{shard}:{inner.rsplit('/', 1)[0]}/1"
                lr_ds = src.get(lr_path)
                assert lr_ds.shape == () and float(lr_ds[()]) == o["learningRate"]
    finally:
        src.close()


class Recorder:
    """Collects manifest entries and run info inside a worker process."""

    def __init__(self, fw, out_dir):
        self.fw = fw
        self.out = out_dir
        self.files = {}
        self.runs = {}
        self.series = None  # the top-level "series" entry of the manifest (Keras 3 worker)

    def save(self, model, rel, fmt, run, save_fn=None, with_values=False, **extra):
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if save_fn is not None:
            save_fn(str(path))
        elif fmt in ("legacy-h5", "keras-zip"):
            model.save(str(path))
        elif fmt in ("weights-h5", "legacy-weights-h5"):
            model.save_weights(str(path))
        else:
            raise ValueError(fmt)
        layers, checks = describe_layers(self.fw, model, fmt, with_values=with_values)
        opt_rec, opt = describe_optimizer(self.fw, model, fmt)
        entry = {
            "format": fmt,
            "framework": self.fw.label,
            "run": run,
            "layers": layers,
            "optimizer": opt_rec,
        }
        entry.update(extra)
        verify_file(self.fw, model, rel, self.out, entry, checks, opt)
        self.files[rel] = entry
        log(f"  wrote {rel}")
        return entry

    def dump(self, work, name):
        doc = {"files": self.files, "runs": self.runs}
        if self.series is not None:
            doc["series"] = self.series
        (work / f"part_{name}.json").write_text(json.dumps(doc, sort_keys=True, indent=2,
                                                           allow_nan=False))


# ---------------------------------------------------------------------------
# Training (worker side)
# ---------------------------------------------------------------------------

def load_data(work):
    d = np.load(work / "digits.npz")
    return {k: d[k] for k in d.files}


def build_cnn(K):
    L = K.layers
    return K.Sequential([
        K.Input(shape=(8, 8, 1)),
        L.Conv2D(CONV1_FILTERS, 3, padding="same", activation="relu"),
        L.BatchNormalization(),
        L.MaxPooling2D(2),
        L.Conv2D(CONV2_FILTERS, 3, padding="same", activation="relu"),
        L.Flatten(),
        L.Dense(DENSE_UNITS, activation="relu"),
        L.Dropout(0.2),
        L.Dense(10, activation="softmax"),
    ])


def lr_logger(fw):
    class LearningRateToLogs(fw.K.callbacks.Callback):
        """Puts the optimizer's current learning rate into the epoch logs (before CSVLogger)."""

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                logs["learning_rate"] = fw.current_lr(self.model.optimizer)

    return LearningRateToLogs()


def accuracy(model, x, y, offset=0):
    p = model.predict(x, verbose=0, batch_size=256)
    return float(np.mean(np.argmax(p, axis=1) == (y - offset)))


def train(fw, rec, model, optimizer, key, data, task, epochs, x_train=None, y_train=None,
          batch_size=BATCH, label_offset=0, callbacks=()):
    K = fw.K
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    xt = data[f"x_{task}_train"] if x_train is None else x_train
    yt = data[f"y_{task}_train"] if y_train is None else y_train
    xv, yv = data[f"x_{task}_val"], data[f"y_{task}_val"]
    log_rel = f"logs/{key}.csv"
    (rec.out / "logs").mkdir(parents=True, exist_ok=True)
    hist = model.fit(xt, yt - label_offset, validation_data=(xv, yv - label_offset),
                     epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0,
                     callbacks=[lr_logger(fw), K.callbacks.CSVLogger(str(rec.out / log_rel))]
                     + list(callbacks))
    info = {"framework": fw.label, "epochs": epochs, "log": log_rel,
            "optimizer": type(optimizer).__name__,
            "learningRate": fw.lr_config(optimizer),
            "finalLoss": _num(hist.history["loss"][-1]),
            "finalValLoss": _num(hist.history["val_loss"][-1])}
    if label_offset == 0:
        info["originalTaskAccuracy"] = accuracy(model, data["x_old_val"], data["y_old_val"])
        info["newTaskAccuracy"] = accuracy(model, data["x_new_val"], data["y_new_val"])
    else:
        info["originalTaskAccuracy"] = None  # the 5-unit head has no classes for digits 0-4
        info["newTaskAccuracy"] = accuracy(model, data["x_new_val"], data["y_new_val"],
                                           offset=label_offset)
    info["weightsHaveNaN"] = any(np.isnan(fw.numpy(w).astype(np.float64)).any()
                                 for w in model.weights)
    rec.runs[key] = info
    log(f"  {key}: original-task acc {info['originalTaskAccuracy']}, "
        f"new-task acc {info['newTaskAccuracy']:.3f}, final loss {info['finalLoss']}")
    return hist


def _num(v):
    v = float(v)
    return v if np.isfinite(v) else str(v)


def snapshot(fw, model):
    """Weight values in model.weights order (paths differ between a model and its reload)."""
    return [fw.numpy(w).copy() for w in model.weights]


def assert_frozen_backbone(fw, model, before):
    """Every weight but the head's must be bit-identical to the pretrained values."""
    head = model.layers[-1]
    head_ids = {id(w) for w in head.weights}
    same = changed = 0
    assert len(model.weights) == len(before)
    for w, old in zip(model.weights, before):
        equal = raw_bits(fw.numpy(w)) == raw_bits(old)
        if id(w) in head_ids:
            changed += not equal
        else:
            assert equal, f"frozen backbone weight {w.name} changed"
            same += 1
    assert changed == len(head_ids), "the head of ft_frozen did not move"
    log(f"  ft_frozen: {same} backbone weights bit-identical, head moved")


def assert_nan_file(path, paths):
    import h5py
    src = H5Source(path)
    try:
        nan = sum(bool(np.isnan(src.get(p)[()].astype(np.float64)).any()) for p in paths)
    finally:
        src.close()
    assert nan > 0, f"{path}: no NaN in the saved weights"
    return nan


def weight_paths(entry):
    return [w["path"] for l in entry["layers"] for w in l["weights"]]


# ---------------------------------------------------------------------------
# Worker: Keras 3
# ---------------------------------------------------------------------------

def worker_k3(out, work):
    fw = Framework("k3")
    K = fw.K
    data = load_data(work)
    rec = Recorder(fw, out)
    d = "k3"

    def save_three(model, run, keras=True, weights=True, h5=True):
        # the legacy .h5 goes LAST: Keras 3's legacy writer strips the optimizer from the
        # live compile config, so a .keras saved after it would lose the optimizer.
        if keras:
            rec.save(model, f"{d}/{run}.keras", "keras-zip", run)
        if weights:
            rec.save(model, f"{d}/{run}.weights.h5", "weights-h5", run)
        if h5:
            rec.save(model, f"{d}/{run}.h5", "legacy-h5", run)

    log("[k3] pretrained")
    pre = build_cnn(K)
    train(fw, rec, pre, K.optimizers.Adam(1e-3), "k3_pretrained", data, "old", 15)
    pre_values = snapshot(fw, pre)
    rec.save(pre, f"{d}/pretrained.keras", "keras-zip", "pretrained")
    rec.save(pre, f"{d}/pretrained.weights.h5", "weights-h5", "pretrained")
    shard_size = pick_shard_size(fw, pre, work)
    rec.save(pre, f"{d}/sharded/pretrained.weights.json", "sharded-json", "pretrained",
             save_fn=lambda p: pre.save_weights(p, max_shard_size=shard_size),
             maxShardSizeGB=shard_size)
    check_sharded(out / d / "sharded" / "pretrained.weights.json")
    rec.save(pre, f"{d}/pretrained.h5", "legacy-h5", "pretrained")
    pre_keras = str(out / d / "pretrained.keras")
    pre_weights = str(out / d / "pretrained.weights.h5")

    # Rebuild the same architecture in the same process (no clear_session): every auto
    # name shifts (conv2d -> conv2d_2, dense_1 -> dense_3, sequential -> sequential_1).
    log("[k3] ft_renamed")
    ren = build_cnn(K)
    ren.load_weights(pre_weights)
    train(fw, rec, ren, K.optimizers.Adam(1e-4), "k3_ft_renamed", data, "new", 2)
    assert ren.layers[0].name != pre.layers[0].name, "names did not shift"
    save_three(ren, "ft_renamed", weights=False)

    def from_pretrained():
        return K.models.load_model(pre_keras)

    log("[k3] ft_lowlr")
    m = from_pretrained()
    train(fw, rec, m, K.optimizers.Adam(1e-4), "k3_ft_lowlr", data, "new", 6)
    save_three(m, "ft_lowlr")

    log("[k3] ft_highlr")
    m = from_pretrained()
    train(fw, rec, m, K.optimizers.Adam(1e-2), "k3_ft_highlr", data, "new", 20)
    save_three(m, "ft_highlr")

    log("[k3] ft_frozen")
    m = from_pretrained()
    for layer in m.layers[:-1]:
        layer.trainable = False
    train(fw, rec, m, K.optimizers.Adam(1e-3), "k3_ft_frozen", data, "new", 15)
    assert_frozen_backbone(fw, m, pre_values)
    save_three(m, "ft_frozen")

    log("[k3] ft_nan")
    m = from_pretrained()
    hist = train(fw, rec, m, K.optimizers.SGD(learning_rate=NAN_LR), "k3_ft_nan", data, "new", 2)
    assert np.isnan(hist.history["loss"][-1]), "ft_nan: logged loss is not NaN"
    save_three(m, "ft_nan")
    n = assert_nan_file(out / d / "ft_nan.weights.h5", weight_paths(rec.files[f"{d}/ft_nan.weights.h5"]))
    log(f"  ft_nan: {n} saved weights contain NaN")

    log("[k3] ft_schedule")
    m = from_pretrained()
    sched = K.optimizers.schedules.ExponentialDecay(
        initial_learning_rate=0.001, decay_steps=1000, decay_rate=0.96, staircase=True)
    train(fw, rec, m, K.optimizers.Adam(sched), "k3_ft_schedule", data, "new", 5)
    save_three(m, "ft_schedule", weights=False)

    log("[k3] ft_newhead")
    base = from_pretrained()
    newm = K.Sequential([K.Input(shape=(8, 8, 1))] + base.layers[:-1] + [
        K.layers.Dense(16, activation="relu"),
        K.layers.Dense(5, activation="softmax"),
    ])
    train(fw, rec, newm, K.optimizers.Adam(1e-3), "k3_ft_newhead", data, "new", 5,
          label_offset=5)
    save_three(newm, "ft_newhead", weights=False)

    log("[k3] overfit log")
    # A small MLP memorising 100 samples whose labels are 30% wrong: training loss falls
    # monotonically while val_loss bottoms out early and then climbs steadily.
    K.utils.clear_session()
    K.utils.set_random_seed(SEED)
    of = K.Sequential([K.Input(shape=(8, 8, 1)), K.layers.Flatten(),
                       K.layers.Dense(64, activation="relu"),
                       K.layers.Dense(10, activation="softmax")])
    xs, ys = small_subset(data, per_class=OVERFIT_PER_CLASS)
    ys, flipped = noisy_labels(ys, OVERFIT_NOISE)
    hist = train(fw, rec, of, K.optimizers.Adam(1e-2), "overfit", data, "old", OVERFIT_EPOCHS,
                 x_train=xs, y_train=ys, batch_size=len(xs))
    check_overfit(hist.history)
    rec.runs["overfit"].update({"trainSamples": int(len(xs)), "flippedLabels": flipped,
                                "model": "Flatten-Dense(64)-Dense(10) MLP, full-batch Adam(1e-2)"})

    # Last in this worker (fresh session, reseeded), so no sample written above changes.
    log("[k3] series")
    K.utils.clear_session()
    K.utils.set_random_seed(SEED)
    m = from_pretrained()
    checkpoints = []

    class SaveEveryEpoch(K.callbacks.Callback):
        """save_weights after every epoch: samples/k3/series/epoch_XX.weights.h5."""

        def on_epoch_end(self, epoch, logs=None):
            run = f"series_epoch_{epoch + 1:02d}"
            rel = f"{d}/series/epoch_{epoch + 1:02d}.weights.h5"
            rec.save(self.model, rel, "weights-h5", run)
            checkpoints.append(rel)

    train(fw, rec, m, K.optimizers.Adam(SERIES_LR), "k3_series", data, "new", SERIES_EPOCHS,
          batch_size=SERIES_BATCH, callbacks=[SaveEveryEpoch()])
    rec.runs["k3_series"]["batchSize"] = SERIES_BATCH
    assert len(checkpoints) == SERIES_EPOCHS, checkpoints
    base_rel = f"{d}/pretrained.weights.h5"
    rec.series = series_entry(out, base_rel, rec.files[base_rel], checkpoints,
                              [rec.files[c] for c in checkpoints])
    check_series(rec.series)
    rec.dump(work, "k3")


# Epoch series for `weightdrift trend`: Adam fine-tune on digits 5-9, a checkpoint per epoch.
# Large batches (5 steps an epoch) sample the early, steep part of Adam's drift curve finely,
# so the per-layer relative change climbs steadily and crosses SERIES_THRESHOLD mid-series.
SERIES_LR = 3e-3
SERIES_EPOCHS = 6
SERIES_BATCH = 160
SERIES_THRESHOLD = 0.2


def layer_relative_changes(out, base_rel, base_entry, rel, entry):
    """Per layer: sqrt(sum over its weights of ||W_t - W_0||^2) / sqrt(sum ||W_0||^2), float64.

    Both files are read from disk; weights are paired by dataset path (same architecture,
    same object-path layout)."""
    base_src, src = H5Source(out / base_rel), H5Source(out / rel)
    try:
        assert [l["name"] for l in entry["layers"]] == [l["name"] for l in base_entry["layers"]]
        result = {}
        for layer, base_layer in zip(entry["layers"], base_entry["layers"]):
            paths = [w["path"] for w in layer["weights"]]
            assert paths == [w["path"] for w in base_layer["weights"]], (rel, layer["name"])
            diff_sq = base_sq = 0.0
            for path in paths:
                w0 = base_src.get(path)[()].astype(np.float64)
                wt = src.get(path)[()].astype(np.float64)
                assert w0.shape == wt.shape, (rel, path)
                diff_sq += float(np.sum(np.square(wt - w0)))
                base_sq += float(np.sum(np.square(w0)))
            assert base_sq > 0 and np.isfinite(diff_sq), (rel, layer["name"])
            result[layer["name"]] = float(np.sqrt(diff_sq) / np.sqrt(base_sq))
        return result
    finally:
        base_src.close()
        src.close()


def series_entry(out, base_rel, base_entry, checkpoints, entries):
    per_epoch = [layer_relative_changes(out, base_rel, base_entry, rel, e)
                 for rel, e in zip(checkpoints, entries)]
    maxima = [max(r.values()) for r in per_epoch]
    over = [i + 1 for i, v in enumerate(maxima) if v > SERIES_THRESHOLD]
    return {
        "base": base_rel,
        "checkpoints": checkpoints,
        "run": "k3_series",
        "threshold": SERIES_THRESHOLD,
        "layerRelativeChange": {name: [r[name] for r in per_epoch] for name in per_epoch[0]},
        "maxLayerRelativeChange": maxima,
        f"firstEpochOver{SERIES_THRESHOLD}": over[0] if over else None,
    }


def check_series(series):
    """The breach must come in the middle of the series: epoch 1 under, a later epoch over."""
    maxima = series["maxLayerRelativeChange"]
    first = series[f"firstEpochOver{SERIES_THRESHOLD}"]
    log("  series max layer relative change per epoch: "
        + ", ".join(f"{v:.4f}" for v in maxima) + f"; first over {SERIES_THRESHOLD}: epoch {first}")
    assert maxima[0] < SERIES_THRESHOLD, "series: a layer breaches the threshold at epoch 1"
    assert first is not None, "series: no epoch exceeds the threshold"
    assert 1 < first < len(maxima), f"series: first breach at epoch {first}, not mid-series"
    assert all(b > a for a, b in zip(maxima, maxima[1:])), f"series: drift not growing {maxima}"


NAN_LR = 1e10  # SGD step this large overflows float32 in the first epoch


OVERFIT_PER_CLASS = 20
OVERFIT_NOISE = 0.3
OVERFIT_EPOCHS = 200


def noisy_labels(y, fraction):
    """Replace `fraction` of the labels by a different class of the same task (seeded)."""
    rng = np.random.default_rng(SEED)
    y = y.copy()
    flip = rng.random(len(y)) < fraction
    shift = rng.integers(1, len(ORIGINAL_DIGITS), int(flip.sum()))
    y[flip] = (y[flip] + shift) % len(ORIGINAL_DIGITS)
    return y, int(flip.sum())


def small_subset(data, per_class):
    x, y = data["x_old_train"], data["y_old_train"]
    idx = np.concatenate([np.where(y == c)[0][:per_class] for c in ORIGINAL_DIGITS])
    return x[idx], y[idx]


def check_overfit(h):
    loss, val = np.array(h["loss"]), np.array(h["val_loss"])
    best = int(np.argmin(val))
    assert best < len(val) // 4, f"val_loss minimum too late (epoch {best})"
    assert val[-1] > 2.0 * val[best], f"val_loss did not turn up enough: {val[best]} -> {val[-1]}"
    assert np.all(np.diff(loss[best:]) < 0), "training loss did not keep falling"
    log(f"  overfit: val_loss min {val[best]:.4f} at epoch {best}, final {val[-1]:.4f}; "
        f"loss {loss[best]:.4f} -> {loss[-1]:.4f}")


def pick_shard_size(fw, model, work):
    """Smallest-first search for a max_shard_size giving exactly 3 shards with a split group."""
    total = sum(fw.numpy(v).nbytes for v in model.weights) + \
        sum(fw.numpy(v).nbytes for v in model.optimizer.variables)
    tmp = work / "shard_probe"
    for frac in np.linspace(0.34, 0.60, 27):
        gb = round(float(total * frac) / 1024 ** 3, 9)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        try:
            model.save_weights(str(tmp / "p.weights.json"), max_shard_size=gb)
        except ValueError:
            continue
        index = json.loads((tmp / "p.weights.json").read_text())
        shards = {s for v in index["weight_map"].values() for s in v}
        split = [k for k, v in index["weight_map"].items() if len(v) > 1]
        if len(shards) == 3 and "/optimizer/vars" in split:
            shutil.rmtree(tmp)
            log(f"  sharding: max_shard_size={gb} GB (total {total} bytes)")
            return gb
    raise AssertionError("no shard size gives 3 shards with a split optimizer group")


def check_sharded(index_path):
    index = json.loads(index_path.read_text())
    shards = sorted({s for v in index["weight_map"].values() for s in v})
    split = {k: v for k, v in index["weight_map"].items() if len(v) > 1}
    assert len(shards) == 3 and split, (shards, split)
    log(f"  sharded: {len(shards)} shards, split groups: {split}")


# ---------------------------------------------------------------------------
# Worker: tf-keras (Keras 2 API)
# ---------------------------------------------------------------------------

def worker_tfk(out, work):
    fw = Framework("tfk")
    K = fw.K
    data = load_data(work)
    rec = Recorder(fw, out)
    d = "tfk"

    def save_all(model, run, four=False, keras=False):
        if four or keras:
            rec.save(model, f"{d}/{run}.keras", "keras-zip", run)
        if four:
            rec.save(model, f"{d}/{run}.weights.h5", "weights-h5", run)
            rec.save(model, f"{d}/{run}_w.h5", "legacy-weights-h5", run)
        rec.save(model, f"{d}/{run}.h5", "legacy-h5", run)

    log("[tfk] pretrained")
    pre = build_cnn(K)
    train(fw, rec, pre, K.optimizers.Adam(1e-3), "tfk_pretrained", data, "old", 15)
    pre_values = snapshot(fw, pre)
    save_all(pre, "pretrained", four=True)
    pre_keras = str(out / d / "pretrained.keras")

    log("[tfk] ft_renamed")
    ren = build_cnn(K)
    ren.load_weights(str(out / d / "pretrained_w.h5"))
    train(fw, rec, ren, K.optimizers.Adam(1e-4), "tfk_ft_renamed", data, "new", 2)
    assert ren.layers[0].name != pre.layers[0].name, "names did not shift"
    save_all(ren, "ft_renamed")

    def from_pretrained():
        return K.models.load_model(pre_keras)

    log("[tfk] ft_lowlr")
    m = from_pretrained()
    train(fw, rec, m, K.optimizers.Adam(1e-4), "tfk_ft_lowlr", data, "new", 6)
    save_all(m, "ft_lowlr", four=True)

    log("[tfk] ft_highlr")
    m = from_pretrained()
    train(fw, rec, m, K.optimizers.Adam(1e-2), "tfk_ft_highlr", data, "new", 20)
    save_all(m, "ft_highlr")

    log("[tfk] ft_frozen")
    m = from_pretrained()
    for layer in m.layers[:-1]:
        layer.trainable = False
    train(fw, rec, m, K.optimizers.Adam(1e-3), "tfk_ft_frozen", data, "new", 15)
    assert_frozen_backbone(fw, m, pre_values)
    save_all(m, "ft_frozen")

    log("[tfk] ft_nan")
    m = from_pretrained()
    hist = train(fw, rec, m, K.optimizers.SGD(learning_rate=NAN_LR), "tfk_ft_nan", data, "new", 2)
    assert np.isnan(hist.history["loss"][-1]), "ft_nan: logged loss is not NaN"
    save_all(m, "ft_nan")
    n = assert_nan_file(out / d / "ft_nan.h5", weight_paths(rec.files[f"{d}/ft_nan.h5"]))
    log(f"  ft_nan: {n} saved weights contain NaN")

    log("[tfk] ft_schedule")
    m = from_pretrained()
    sched = K.optimizers.schedules.ExponentialDecay(
        initial_learning_rate=0.001, decay_steps=1000, decay_rate=0.96, staircase=True)
    train(fw, rec, m, K.optimizers.Adam(sched), "tfk_ft_schedule", data, "new", 5)
    save_all(m, "ft_schedule", keras=True)

    # Last in this worker, so no sample above sees the policy or this run's random draws.
    log("[tfk] ft_mixed")
    K.backend.clear_session()  # auto names start again: the same layer names as pretrained
    K.mixed_precision.set_global_policy("mixed_float16")
    try:
        K.utils.set_random_seed(SEED)
        m = build_cnn(K)  # layers built now take the policy: float16 compute, float32 variables
        assert [l.name for l in m.layers] == [l.name for l in pre.layers]
        m.load_weights(str(out / d / "pretrained_w.h5"))
        assert all(raw_bits(fw.numpy(w)) == raw_bits(v) for w, v in zip(m.weights, pre_values))
        assert m.layers[0].dtype_policy.name == "mixed_float16"
        # compile() wraps the Adam in a LossScaleOptimizer under this policy
        train(fw, rec, m, K.optimizers.Adam(5e-4), "tfk_ft_mixed", data, "new", 2)
        assert "LossScaleOptimizer" in type(m.optimizer).__name__, type(m.optimizer)
        rec.runs["tfk_ft_mixed"].update({"dtypePolicy": "mixed_float16",
                                         "wrappedIn": type(m.optimizer).__name__})
        rec.save(m, f"{d}/ft_mixed.h5", "legacy-h5", "ft_mixed")
    finally:
        K.mixed_precision.set_global_policy("float32")
    assert K.mixed_precision.global_policy().name == "float32"
    rec.dump(work, "tfk")


# ---------------------------------------------------------------------------
# Workers: edge cases
# ---------------------------------------------------------------------------

def set_seeded_weights(fw, model, rng):
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights([rng.normal(0, 1, size=w.shape).astype(np.float32) for w in ws])


def build_nested(K):
    inner = K.Sequential([
        K.Input(shape=(4,)),
        K.layers.Dense(6, activation="relu"),
        K.layers.Dense(5, activation="relu"),
    ], name="inner_seq")
    inp = K.Input(shape=(4,))
    out = K.layers.Dense(3)(inner(inp))
    return K.Model(inp, out)


DTYPE_LAYERS = [("f16", "float16"), ("bf16", "bfloat16"), ("f64", "float64"), ("f32", "float32")]
# Values that exercise the decoders: extremes, subnormals, negative zero.
SPECIAL_BIAS = {
    "float16": [65504.0, 2.0 ** -24, -0.0],          # max finite, smallest subnormal, -0
    "bfloat16": [3.0e38, 2.0 ** -133, -2.5],         # near max, subnormal, plain
    "float64": [1.0e300, 5e-324, -0.1],              # large, smallest subnormal, inexact
    "float32": [3.4028234663852886e38, 1.401298464324817e-45, -0.0],
}


def build_dtypes(fw, rng):
    K = fw.K
    inp = K.Input(shape=(4,))
    outs = [K.layers.Dense(3, dtype=dt, name=name)(inp) for name, dt in DTYPE_LAYERS]
    model = K.Model(inp, outs)
    for name, dt in DTYPE_LAYERS:
        layer = model.get_layer(name)
        kernel = rng.normal(0, 2, size=(4, 3))
        layer.set_weights([kernel.astype(np.float64 if dt == "float64" else np.float32),
                           np.array(SPECIAL_BIAS[dt], dtype=np.float64 if dt == "float64"
                                    else np.float32)])
    return model


def worker_edge_k3(out, work):
    fw = Framework("k3")
    K = fw.K
    rec = Recorder(fw, out)
    rng = np.random.default_rng(SEED)
    nested = build_nested(K)
    set_seeded_weights(fw, nested, rng)
    rec.save(nested, "edge/nested_k3.keras", "keras-zip", "nested")
    rec.save(nested, "edge/nested_k3.weights.h5", "weights-h5", "nested")
    rec.save(nested, "edge/nested_k3.h5", "legacy-h5", "nested")
    dt = build_dtypes(fw, rng)
    rec.save(dt, "edge/dtypes_k3.weights.h5", "weights-h5", "dtypes", with_values=True)
    rec.save(dt, "edge/dtypes_k3.h5", "legacy-h5", "dtypes", with_values=True)
    rec.dump(work, "edge_k3")


CHUNK_LAYERS = 48
CHUNK_NAME_LEN = 1400


def worker_edge_tfk(out, work):
    fw = Framework("tfk")
    K = fw.K
    rec = Recorder(fw, out)
    rng = np.random.default_rng(SEED + 1)
    nested = build_nested(K)
    set_seeded_weights(fw, nested, rng)
    rec.save(nested, "edge/nested_tfk.h5", "legacy-h5", "nested")
    dt = build_dtypes(fw, rng)
    rec.save(dt, "edge/dtypes_tfk.h5", "legacy-h5", "dtypes", with_values=True)

    # Many weightless layers with long names: `layer_names` exceeds the 64512-byte
    # attribute budget and is split into layer_names0, layer_names1.
    stem = "passthrough_layer_with_a_deliberately_long_name_"
    layers = [K.Input(shape=(4,)), K.layers.Dense(3)]
    for i in range(CHUNK_LAYERS):
        name = (stem * (CHUNK_NAME_LEN // len(stem) + 1))[:CHUNK_NAME_LEN - 5] + f"{i:05d}"
        layers.append(K.layers.Activation("linear", name=name))
    layers.append(K.layers.Dense(2))
    chunky = K.Sequential(layers)
    set_seeded_weights(fw, chunky, rng)
    entry = rec.save(chunky, "edge/chunked_names_tfk.h5", "legacy-h5", "chunked_names")
    import h5py
    with h5py.File(out / "edge/chunked_names_tfk.h5", "r") as f:
        attrs = f["model_weights"].attrs
        assert "layer_names" not in attrs and "layer_names0" in attrs and "layer_names1" in attrs, \
            list(attrs)
        n = len(read_name_list(attrs, "layer_names"))
    assert n == len(chunky.layers)
    entry["layerNameCount"] = n
    rec.dump(work, "edge_tfk")


# ---------------------------------------------------------------------------
# Worker: learning-rate schedules (Keras 3)
# ---------------------------------------------------------------------------

def worker_schedules(out, work):
    fw = Framework("k3")
    S = fw.K.optimizers.schedules
    cases = [
        ("ExponentialDecay staircase", S.ExponentialDecay(0.001, 1000, 0.96, staircase=True)),
        ("ExponentialDecay smooth", S.ExponentialDecay(0.001, 1000, 0.96, staircase=False)),
        ("PiecewiseConstantDecay", S.PiecewiseConstantDecay([100, 1000, 2500],
                                                            [0.001, 0.0005, 0.0002, 0.0001])),
        ("PolynomialDecay power1", S.PolynomialDecay(0.001, 1000, end_learning_rate=1e-5,
                                                     power=1.0, cycle=False)),
        ("PolynomialDecay power2", S.PolynomialDecay(0.001, 1000, end_learning_rate=1e-5,
                                                     power=2.0, cycle=False)),
        ("PolynomialDecay power1 cycle", S.PolynomialDecay(0.001, 1000, end_learning_rate=1e-5,
                                                           power=1.0, cycle=True)),
        ("PolynomialDecay power2 cycle", S.PolynomialDecay(0.001, 1000, end_learning_rate=1e-5,
                                                           power=2.0, cycle=True)),
        ("InverseTimeDecay smooth", S.InverseTimeDecay(0.001, 1000, 0.5, staircase=False)),
        ("InverseTimeDecay staircase", S.InverseTimeDecay(0.001, 1000, 0.5, staircase=True)),
        ("CosineDecay", S.CosineDecay(0.001, 2000, alpha=0.1)),
        ("CosineDecay warmup", S.CosineDecay(0.0, 2000, alpha=0.0, warmup_target=0.001,
                                             warmup_steps=100)),
        ("CosineDecayRestarts", S.CosineDecayRestarts(0.001, 1000, t_mul=2.0, m_mul=0.9,
                                                      alpha=0.05)),
    ]
    result = []
    for label, sched in cases:
        values = []
        for step in SCHEDULE_STEPS:
            v = fw.K.ops.convert_to_numpy(sched(step))
            values.append({"step": step, "lr": float(v)})
        result.append({
            "name": label,
            "className": type(sched).__name__,
            "serialized": json.loads(json.dumps(S.serialize(sched), default=json_default)),
            "computeDtype": str(fw.K.ops.convert_to_numpy(sched(0)).dtype),
            "values": values,
        })
    doc = {
        "generator": {"keras": fw.version, "backend": fw.K.backend.backend()},
        "steps": SCHEDULE_STEPS,
        "note": "lr is the value Keras 3 computes for the step (float32 on the TF backend) "
                "widened to float64.",
        "schedules": result,
    }
    (out / "schedules.json").write_text(json.dumps(doc, sort_keys=True, indent=2, allow_nan=False)
                                        + "\n")
    log(f"[schedules] wrote schedules.json ({len(result)} schedules)")


# ---------------------------------------------------------------------------
# Worker: tf.keras 2.13 (optional, separate venv)
# ---------------------------------------------------------------------------

def locate_by_value(src, live, prefix):
    """Find the dataset under `prefix` holding exactly these bits (tf.keras 2.13 layout)."""
    hits = []

    def visit(name, obj):
        if hasattr(obj, "shape") and obj.shape == live.shape and obj.dtype == live.dtype:
            if raw_bits(obj[()]) == raw_bits(live):
                hits.append("/" + name)
    src.root[prefix].visititems(lambda n, o: visit(f"{prefix}/{n}", o))
    return hits


def worker_tf213(out, work):
    fw = Framework("tf213")
    K = fw.K
    data = load_data(work)
    rec = Recorder(fw, out)
    d = TF213_DIR
    (out / d).mkdir(parents=True, exist_ok=True)

    def save_weights_h5(model, run):
        rel = f"{d}/{run}.weights.h5"
        model.save_weights(str(out / rel))
        # The 2.13 writer's container names (double-counted suffixes) are not derived here:
        # every weight is located in the file by its exact bits and the match must be unique.
        layers, checks = describe_layers(fw, model, "weights-h5")
        src = H5Source(out / rel)
        try:
            prefix = "_layer_checkpoint_dependencies"
            assert prefix in src.root, list(src.root)
            for recw, w in checks:
                hits = locate_by_value(src, fw.numpy(w), prefix)
                assert len(hits) == 1, (recw, hits)
                recw["path"] = hits[0]
            opt_it = int(np.asarray(model.optimizer.iterations))
            it_path = None
            for cand in ("/optimizer/vars/0",):
                if cand in src.root and src.root[cand].shape == () and \
                        int(src.root[cand][()]) == opt_it:
                    it_path = cand
        finally:
            src.close()
        rec.files[rel] = {"format": "weights-h5", "framework": fw.label, "run": run,
                          "kerasVersion": None, "backend": None, "layers": layers,
                          "optimizer": None if it_path is None else {
                              "className": None, "iterations": opt_it,
                              "iterationsPath": it_path, "learningRate": None}}
        log(f"  wrote {rel}")

    def save_keras(model, run):
        rel = f"{d}/{run}.keras"
        model.save(str(out / rel))
        layers, checks = describe_layers(fw, model, "weights-h5")
        src = H5Source(out / rel)
        try:
            prefix = "_layer_checkpoint_dependencies"
            for recw, w in checks:
                hits = locate_by_value(src, fw.numpy(w), prefix)
                assert len(hits) == 1, (recw, hits)
                recw["path"] = hits[0]
            meta = src.zip_meta
            oc = src.zip_config["compile_config"]["optimizer"]
            opt = model.optimizer
            it = int(np.asarray(opt.iterations))
            it_path = "/optimizer/vars/0"
            assert int(src.root[it_path][()]) == it
        finally:
            src.close()
        rec.files[rel] = {"format": "keras-zip", "framework": fw.label, "run": run,
                          "kerasVersion": meta["keras_version"], "backend": meta.get("backend"),
                          "layers": layers,
                          "optimizer": {"className": type(opt).__name__,
                                        "storedClassName": oc["class_name"],
                                        "iterations": it, "iterationsPath": it_path,
                                        "learningRate": oc["config"]["learning_rate"]}}
        log(f"  wrote {rel}")

    log("[tf213] pretrained")
    pre = build_cnn(K)
    train(fw, rec, pre, K.optimizers.Adam(1e-3), "tf213_pretrained", data, "old", 15)
    save_keras(pre, "pretrained")
    save_weights_h5(pre, "pretrained")
    rec.save(pre, f"{d}/pretrained.h5", "legacy-h5", "pretrained")

    log("[tf213] ft_lowlr")
    m = K.models.load_model(str(out / d / "pretrained.keras"))
    train(fw, rec, m, K.optimizers.Adam(1e-4), "tf213_ft_lowlr", data, "new", 6)
    save_weights_h5(m, "ft_lowlr")
    rec.dump(work, "tf213")


# ---------------------------------------------------------------------------
# Parent: orchestration, repack, final verification, manifest
# ---------------------------------------------------------------------------

def prepare_data(work):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    y = digits.target.astype(np.int64)
    arrays = {}
    for task, classes in (("old", ORIGINAL_DIGITS), ("new", NEW_DIGITS)):
        mask = np.isin(y, classes)
        xt, xv, yt, yv = train_test_split(x[mask], y[mask], test_size=0.25,
                                          random_state=SEED, stratify=y[mask])
        arrays.update({f"x_{task}_train": xt, f"y_{task}_train": yt,
                       f"x_{task}_val": xv, f"y_{task}_val": yv})
    np.savez(work / "digits.npz", **arrays)
    return {k: int(len(v)) for k, v in arrays.items() if k.startswith("y_")}


def run_worker(python, name, out, work):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0",
               TF_DETERMINISTIC_OPS="1", CUDA_VISIBLE_DEVICES="")
    cmd = [python, str(Path(__file__).resolve()), "_worker", name,
           "--out", str(out), "--work", str(work)]
    log(f"== worker {name}: {' '.join(cmd)}")
    res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in res.stdout.splitlines():
        log("   " + line)
    if res.returncode != 0:
        sys.stderr.write(res.stderr[-20000:])
        raise SystemExit(f"worker {name} failed with exit code {res.returncode}")


def repack(out, files):
    src = out / "tfk" / "pretrained.h5"
    dst = out / "edge" / "repacked_gzip.h5"
    if dst.exists():
        dst.unlink()
    subprocess.run(["h5repack", "-f", "SHUF", "-f", "GZIP=6", str(src), str(dst)], check=True)
    import h5py
    scalars, filtered = [], []
    with h5py.File(dst, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                if obj.shape == ():
                    scalars.append("/" + name)
                else:
                    assert obj.chunks is not None and obj.compression == "gzip" and obj.shuffle, \
                        (name, obj.chunks, obj.compression, obj.shuffle)
                    filtered.append("/" + name)
        f.visititems(visit)
    dump = subprocess.run(["h5dump", "-p", "-H", str(dst)], check=True, stdout=subprocess.PIPE,
                          text=True).stdout
    assert dump.count("PREPROCESSING SHUFFLE") == len(filtered), "h5dump disagrees on filters"
    assert dump.count("COMPRESSION DEFLATE { LEVEL 6 }") == len(filtered)
    entry = json.loads(json.dumps(files["tfk/pretrained.h5"]))
    entry["repackedFrom"] = "tfk/pretrained.h5"
    entry["repackCommand"] = "h5repack -f SHUF -f GZIP=6 tfk/pretrained.h5 edge/repacked_gzip.h5"
    entry["unfilteredScalarDatasets"] = scalars
    files["edge/repacked_gzip.h5"] = entry
    log(f"== repacked: {len(filtered)} datasets chunked+shuffle+deflate, "
        f"{len(scalars)} scalar datasets left unchunked {scalars}")


def repack_lzf(out, files):
    """edge/repacked_lzf.h5: a copy of tfk/pretrained.h5 in which every weight array is chunked,
    shuffled and compressed with h5py's LZF filter (`compression="lzf"`, filter 32000), the
    attributes kept. With shuffle, LZF shrinks some chunks and not others (h5py then stores the
    chunk as it is and marks it in the chunk's filter mask): both kinds are checked below."""
    import h5py
    src, dst = out / "tfk" / "pretrained.h5", out / "edge" / "repacked_lzf.h5"
    shutil.copyfile(src, dst)
    shrunk = kept = 0
    with h5py.File(dst, "r+") as f:
        names = []
        f["model_weights"].visititems(lambda name, obj: names.append("model_weights/" + name)
                                      if isinstance(obj, h5py.Dataset) and obj.shape != () else None)
        for name in names:
            value, attrs = f[name][()], dict(f[name].attrs)
            del f[name]
            chunks = tuple(max(1, n // 2) for n in value.shape)
            d = f.create_dataset(name, data=value, chunks=chunks, shuffle=True, compression="lzf")
            for key, item in attrs.items():
                d.attrs[key] = item
        for name in names:
            d = f[name]
            for index in range(d.id.get_num_chunks()):
                if d.id.get_chunk_info(index).filter_mask == 0:
                    shrunk += 1
                else:
                    kept += 1
    assert shrunk > 0 and kept > 0, (shrunk, kept)
    entry = json.loads(json.dumps(files["tfk/pretrained.h5"]))
    entry["repackedFrom"] = "tfk/pretrained.h5"
    entry["repackCommand"] = ("h5py: every model_weights dataset rewritten with chunks of half its shape, "
                              "shuffle=True, compression='lzf'")
    files["edge/repacked_lzf.h5"] = entry
    log(f"== repacked with lzf: {len(names)} datasets, {shrunk} chunks compressed, {kept} stored as they are")


def check_chunked_with_h5dump(path):
    """h5dump must show layer_names0/layer_names1 (fixed-length strings) and no layer_names."""
    dump = subprocess.run(["h5dump", "-H", "-A", str(path)], check=True, stdout=subprocess.PIPE,
                          text=True).stdout
    names = re.findall(r'ATTRIBUTE "(layer_names\d*)"', dump)
    assert "layer_names" not in names and {"layer_names0", "layer_names1"} <= set(names), names
    log(f"== h5dump {path.name}: {sorted(set(names))}")


def final_verification(out, files):
    """Independent pass in the parent: every manifest path opens with h5py and matches."""
    count = 0
    for rel, entry in sorted(files.items()):
        src = H5Source(out / rel)
        try:
            for layer in entry["layers"]:
                for w in layer["weights"]:
                    ds = src.get(w["path"])
                    assert list(ds.shape) == w["shape"], (rel, w["path"])
                    assert h5_dtype_name(ds) == w["dtype"], (rel, w["path"], ds.dtype)
                    if "values" in w:
                        got = decode_values(ds)
                        want = np.array(w["values"], dtype=np.float64)
                        assert raw_bits(got) == raw_bits(want), (rel, w["path"], got, want)
                    if w["dtype"] == "bfloat16" and entry["format"] != "legacy-h5":
                        assert decode_str(ds.attrs["dtype"]) == "bfloat16"
                    count += 1
            if entry["format"] in ("legacy-h5", "legacy-weights-h5"):
                g = src.root["model_weights"] if entry["format"] == "legacy-h5" else src.root
                names = read_name_list(g.attrs, "layer_names")
                weighted = [n for n in names if read_name_list(g[n].attrs, "weight_names")]
                tops = []
                for layer in entry["layers"]:
                    top = layer["name"].split("/")[0] if "/" in layer["name"] and \
                        layer["name"].split("/")[0] in names else layer["name"]
                    if not tops or tops[-1] != top:
                        tops.append(top)
                assert tops == weighted, (rel, tops, weighted)
                if "layerNameCount" in entry:
                    assert entry["layerNameCount"] == len(names)
            if entry.get("optimizer"):
                ds = src.get(entry["optimizer"]["iterationsPath"])
                assert int(ds[()]) == entry["optimizer"]["iterations"]
        finally:
            src.close()
    log(f"== final verification: {len(files)} files, {count} weight datasets OK")


def versions(python):
    code = ("import json,sys,importlib.metadata as m\n"
            "out={'python':sys.version.split()[0]}\n"
            "for p in ['tensorflow-cpu','tensorflow','tf-keras','keras','h5py','numpy',"
            "'scikit-learn','ml-dtypes']:\n"
            "    try: out[p]=m.version(p)\n"
            "    except Exception: pass\n"
            "import h5py; out['hdf5 (h5py)']=h5py.version.hdf5_version\n"
            "print(json.dumps(out))")
    res = subprocess.run([python, "-c", code], check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(res.stdout)


def tool_version(tool):
    res = subprocess.run([tool, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    return res.stdout.strip().splitlines()[0] if res.stdout.strip() else None


def fmt_size(n):
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MiB"


def summary(out, files):
    rows = []
    for p in sorted(out.rglob("*")):
        if p.is_file():
            rel = str(p.relative_to(out))
            fmt = files.get(rel, {}).get("format")
            if fmt is None:
                fmt = "shard" if ".weights.h5" in rel and "/sharded/" in "/" + rel else \
                    {"csv": "csv-log", "json": "json"}.get(p.suffix[1:], "-")
            rows.append((rel, fmt, p.stat().st_size))
    w = max(len(r[0]) for r in rows)
    log("")
    log(f"{'file'.ljust(w)}  {'format'.ljust(17)}  size")
    log(f"{'-' * w}  {'-' * 17}  ----------")
    for rel, fmt, size in rows:
        log(f"{rel.ljust(w)}  {fmt.ljust(17)}  {fmt_size(size)}")
    total = sum(r[2] for r in rows)
    log(f"{len(rows)} files, {fmt_size(total)} of file data")


def main_generate(args):
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for name in OWNED + ([TF213_DIR] if args.tf213 else []):
        p = out / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    old_manifest = {}
    work = Path(tempfile.mkdtemp(prefix="make_samples_"))
    try:
        split_sizes = prepare_data(work)
        log(f"== digits split sizes: {split_sizes}")
        py = sys.executable
        for name in ("k3", "tfk", "edge_k3", "edge_tfk", "schedules"):
            run_worker(py, name, out, work)
        if args.tf213:
            run_worker(args.tf213_python, "tf213", out, work)
        files, runs, series = {}, {}, None
        for part in sorted(work.glob("part_*.json")):
            doc = json.loads(part.read_text())
            files.update(doc["files"])
            runs.update(doc["runs"])
            series = doc.get("series", series)
        repack(out, files)
        repack_lzf(out, files)
        check_chunked_with_h5dump(out / "edge" / "chunked_names_tfk.h5")
        generator = {"seed": SEED, "packages": versions(py),
                     "h5repack": tool_version("h5repack"), "platform": platform.platform(),
                     "digitsSplit": split_sizes}
        if args.tf213:
            generator["packagesTf213"] = versions(args.tf213_python)
        elif (out / TF213_DIR).is_dir():
            # keep the optional part from an earlier `--tf213` run
            prev = json.loads(args.previous_manifest) if args.previous_manifest else {}
            for k, v in prev.get("files", {}).items():
                if k.startswith(TF213_DIR + "/"):
                    files[k] = v
            for k, v in prev.get("runs", {}).items():
                if k.startswith("tf213_"):
                    runs[k] = v
            if "packagesTf213" in prev.get("generator", {}):
                generator["packagesTf213"] = prev["generator"]["packagesTf213"]
            log("== kept samples/tf213 from the previous run (pass --tf213 to regenerate it)")
        final_verification(out, files)
        manifest = {"generator": generator, "files": files, "runs": runs}
        if series is not None:
            # recompute the series' relative changes here from the files on disk
            again = series_entry(out, series["base"], files[series["base"]],
                                 series["checkpoints"], [files[c] for c in series["checkpoints"]])
            assert again == series, "series: relative changes differ on recomputation"
            check_series(series)
            manifest["series"] = series
        (out / "manifest.json").write_text(
            json.dumps(manifest, sort_keys=True, indent=2, allow_nan=False) + "\n")
        log("== accuracy on digits 0-4 (original task) / 5-9 (new task):")
        for k in sorted(runs):
            r = runs[k]
            o = r.get("originalTaskAccuracy")
            log(f"   {k:22s} original {('%.3f' % o) if o is not None else '  n/a'}   "
                f"new {r['newTaskAccuracy']:.3f}   nan={r['weightsHaveNaN']}")
        summary(out, files)
        du = subprocess.run(["du", "-sh", str(out)], stdout=subprocess.PIPE, text=True).stdout
        log(f"du -sh: {du.strip()}")
        total = int(subprocess.run(["du", "-sb", str(out)], stdout=subprocess.PIPE,
                                   text=True).stdout.split()[0])
        assert total < 5 * 1024 * 1024, f"samples/ is {total} bytes, over 5 MB"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="samples directory (default: %(default)s)")
    ap.add_argument("--tf213", action="store_true",
                    help="also write samples/tf213 with tf.keras 2.13 (separate venv)")
    ap.add_argument("--tf213-python", default=DEFAULT_TF213_PYTHON,
                    help="python of the tools/requirements-tf213.txt venv (default: %(default)s)")
    w = sub.add_parser("_worker", help="internal: run one generation step")
    w.add_argument("name", choices=["k3", "tfk", "edge_k3", "edge_tfk", "schedules", "tf213"])
    w.add_argument("--out", required=True)
    w.add_argument("--work", required=True)
    args = ap.parse_args()
    if args.cmd == "_worker":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        fn = globals()["worker_" + args.name]
        fn(Path(args.out), Path(args.work))
        return
    prev = Path(args.out) / "manifest.json"
    args.previous_manifest = prev.read_text() if prev.exists() else None
    main_generate(args)


if __name__ == "__main__":
    main()
