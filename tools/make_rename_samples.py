#!/usr/bin/env python3
"""Writes samples/rename/: a real fine-tune whose modules and weights were renamed, for the tests
of the policy's ``rename:`` rules.

Run from the repository root with h5py and numpy (no training; it edits a committed sample):

    python tools/make_rename_samples.py

``ft_lowlr_torchnames.h5`` is ``samples/k3/ft_lowlr.h5`` (a Keras 3 legacy ``.h5``) with every
layer and weight renamed at the HDF5 level the way a PyTorch port of the model names them:
``conv2d`` -> ``features.0``, ``batch_normalization`` -> ``features.1``, ``conv2d_1`` ->
``features.3``, ``dense`` -> ``classifier.0``, ``dense_1`` -> ``classifier.2``; ``kernel`` ->
``weight``, BatchNormalization's ``gamma``/``beta``/``moving_mean``/``moving_variance`` ->
``weight``/``bias``/``running_mean``/``running_var``. Each layer's ``weight_names`` are stored
sorted by name (as a safetensors file lists them), so pairing weights by position fails and only
names renamed back pair them. The group names, ``layer_names``, ``weight_names`` and the
``model_config`` JSON are rewritten; the optimizer state is dropped. Values are untouched, so
comparing ``k3/pretrained.h5`` with it through rename rules must give the figures of comparing
``k3/pretrained.h5`` with ``k3/ft_lowlr.h5``.
"""

import json
import os
import shutil

import h5py
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "samples")
LAYERS = {"conv2d": "features.0", "batch_normalization": "features.1", "conv2d_1": "features.3",
          "dense": "classifier.0", "dense_1": "classifier.2"}
WEIGHTS = {"kernel": "weight", "gamma": "weight", "beta": "bias", "moving_mean": "running_mean",
           "moving_variance": "running_var"}


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def rename(src, dst):
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        del f["optimizer_weights"]
        weights = f["model_weights"]
        old = [text(n) for n in weights.attrs["layer_names"]]
        for name in old:
            new = LAYERS.get(name, name)
            if new == name:
                continue
            weights.move(name, new)
            group = weights[new]
            group.move(name, new)
            names = []
            for stored in group.attrs["weight_names"]:
                leaf = text(stored).split("/")[-1]
                group[new].move(leaf, WEIGHTS.get(leaf, leaf))
                names.append(f"{new}/{WEIGHTS.get(leaf, leaf)}")
            group.attrs["weight_names"] = np.array(sorted(names), dtype=object)
        weights.attrs["layer_names"] = np.array([LAYERS.get(n, n) for n in old], dtype=object)

        def rewrite(value):
            if isinstance(value, dict):
                return {k: rewrite(v) for k, v in value.items()}
            if isinstance(value, list):
                return [rewrite(v) for v in value]
            return LAYERS.get(value, value) if isinstance(value, str) else value

        f.attrs["model_config"] = json.dumps(rewrite(json.loads(f.attrs["model_config"])))


def main():
    out = os.path.join(ROOT, "rename")
    os.makedirs(out, exist_ok=True)
    dst = os.path.join(out, "ft_lowlr_torchnames.h5")
    rename(os.path.join(ROOT, "k3", "ft_lowlr.h5"), dst)
    print(f"{os.path.getsize(dst):>8}  rename/ft_lowlr_torchnames.h5")


if __name__ == "__main__":
    main()
