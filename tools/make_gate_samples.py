#!/usr/bin/env python3
"""Writes samples/gate/: real Keras checkpoints and h5py edits of them for the gate-trust tests.

Run from the repository root inside the venv of tools/requirements-samples.txt (TensorFlow 2.21,
tf-keras 2.21, h5py, numpy):

    python tools/make_gate_samples.py

What it writes, and why:

* ``era_tfk_pretrained.h5`` / ``era_tfk_ft_lowlr.h5``: a small sequence model saved by tf-keras
  2.21 (``model.save(..., save_format="h5")``, the legacy layout Keras 2 also wrote), pretrained
  and then really fine-tuned at a low learning rate. The model repeats same-shaped layers (four
  Conv1D 8->8, a TimeDistributed Dense 8->8 and a Dense 8->8), so names at an offset pair
  same-shaped layers at the wrong depth.
* ``era_k20_pretrained.h5``: the pretrained file renamed at the HDF5 level the way Keras 2.0
  named layers. Keras 2.0 gave the first layer of a class the counter ``_1`` (``conv1d_1``,
  ``dense_1``), and tf.keras 2.2+ gives it no suffix (``conv1d``, then ``conv1d_1``): Keras 2.0's
  ``Layer.__init__`` built the default name as ``prefix + '_' + str(K.get_uid(prefix))`` with
  uids starting at 1, while tf.keras's ``backend.unique_object_name(..., zero_based=True)`` starts
  at 0 and drops the suffix for 0. The rename touches what a Keras 2.0 file stores with the name:
  the ``layer_names`` attribute of ``model_weights``, each layer's group and inner group, its
  ``weight_names`` (``conv1d_1/kernel:0``), the ``model_config`` JSON (layer names and the
  inbound-node references), the optimizer-weight paths, and ``keras_version`` = ``2.0.8`` with
  ``backend`` = ``tensorflow``. Values are untouched, so comparing it with ``era_tfk_ft_lowlr.h5``
  must give the same figures as comparing the two tf-keras files.
* ``weightless.h5``: a tf-keras model with no weights at all (Flatten only).
* ``deep400_pretrained.h5`` / ``deep400_ft.h5``: a 400-layer Dense stack saved by tf-keras, then
  fine-tuned one epoch at a low rate, with the middle layer's kernel scaled by 1.6 (h5py) so one
  layer in the middle fails; ``deep1000.h5``: a 1,000-layer stack (compared with itself). For the
  readability checks of big models.
* ``inf_base.weights.h5``: ``k3/pretrained.weights.h5`` with one layer's kernel set to +Inf.
* ``int64_a.weights.h5`` / ``int64_b.weights.h5``: a layer of int64 values above 2**53, identical
  but for one element that differs by 1 (as Double the two values are equal).
* ``userblock.weights.h5``: ``k3/ft_lowlr.weights.h5`` copied object by object into a file with a
  512-byte user block (the superblock at byte 512, as ``h5jam`` or ``userblock_size`` leave it);
  the user block holds text, so the file does not start with the HDF5 signature.

Deterministic: seeds are fixed and TensorFlow runs with op determinism on one thread.
"""

import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "samples")
GATE = os.path.join(ROOT, "gate")
SEED = 20261201


def train():
    """Child process: builds, pretrains and fine-tunes with tf-keras, saves legacy .h5 files."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ["TF_DETERMINISTIC_OPS"] = "1"
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(SEED)

    rng = np.random.default_rng(SEED)

    def task(n, flip):
        # Sequences of 16 steps x 4 channels; the class is which channel carries a bump.
        x = rng.normal(0, 0.3, size=(n, 16, 4)).astype("float32")
        y = rng.integers(0, 3, size=n)
        for i in range(n):
            x[i, 4:10, y[i]] += 1.0
        if flip:  # the fine-tune task: the same inputs, the labels rotated
            y = (y + 1) % 3
        return x, y

    layers = keras.layers
    inputs = keras.Input((16, 4))
    h = layers.TimeDistributed(layers.Dense(8))(inputs)          # time_distributed   4x8
    for _ in range(4):
        h = layers.Conv1D(8, 3, padding="same", activation="relu")(h)  # conv1d … conv1d_3  3x8x8
    h = layers.TimeDistributed(layers.Dense(8))(h)               # time_distributed_1 8x8
    h = layers.GlobalAveragePooling1D()(h)
    h = layers.Dense(8, activation="relu")(h)                   # dense              8x8
    outputs = layers.Dense(3, activation="softmax")(h)          # dense_1            8x3
    model = keras.Model(inputs, outputs)

    x, y = task(600, flip=False)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=6, batch_size=32, verbose=0, shuffle=False)
    model.save(os.path.join(GATE, "era_tfk_pretrained.h5"), save_format="h5")

    x2, y2 = task(300, flip=True)
    model.compile(keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x2, y2, epochs=2, batch_size=32, verbose=0, shuffle=False)
    model.save(os.path.join(GATE, "era_tfk_ft_lowlr.h5"), save_format="h5")

    empty = keras.Sequential([keras.Input((4, 4)), layers.Flatten()])
    empty.save(os.path.join(GATE, "weightless.h5"), save_format="h5")

    # Deep models for the readability checks (table folding, Markdown size, charts at scale): a
    # 400-layer stack, saved, then fine-tuned for one epoch at a low rate and saved again; and a
    # 1,000-layer stack saved once (compared with itself).
    deep = keras.Sequential([keras.Input((3,))] + [layers.Dense(3, kernel_initializer="identity") for _ in range(400)])
    deep.compile(keras.optimizers.SGD(1e-4), "mse")
    deep.save(os.path.join(GATE, "deep400_pretrained.h5"), save_format="h5", include_optimizer=False)
    xs = rng.normal(size=(64, 3)).astype("float32")
    deep.fit(xs, xs * 0.9, epochs=1, batch_size=16, verbose=0, shuffle=False)
    deep.save(os.path.join(GATE, "deep400_ft.h5"), save_format="h5", include_optimizer=False)
    sys.setrecursionlimit(100_000)  # tf-keras builds a 1,000-layer graph recursively
    deeper = keras.Sequential([keras.Input((2,))] + [layers.Dense(2) for _ in range(1000)])
    deeper.save(os.path.join(GATE, "deep1000.h5"), save_format="h5", include_optimizer=False)


def keras20_name(name):
    """tf.keras 2.2+ counter -> Keras 2.0 counter: `conv1d` -> `conv1d_1`, `conv1d_1` -> `conv1d_2`."""
    match = re.fullmatch(r"(.*?)(?:_(\d+))?", name)
    prefix, counter = match.group(1), match.group(2)
    return f"{prefix}_{int(counter) + 1 if counter else 1}"


def rename_to_keras20(src, dst):
    import h5py
    import numpy as np

    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        weights = f["model_weights"]
        old = [n.decode() if isinstance(n, bytes) else str(n) for n in weights.attrs["layer_names"]]
        # Input layers were already counted from 1 by tf.keras (`input_1`): Keras 2.0 named them alike.
        mapping = {n: (n if n.startswith("input_") else keras20_name(n)) for n in old}

        def rename_component(path):
            return "/".join(mapping.get(part, part) for part in path.split("/"))

        # Groups: move everything to temporary names first (`conv1d` -> `conv1d_1` collides otherwise).
        for index, name in enumerate(old):
            weights.move(name, f"__tmp{index}")
        for index, name in enumerate(old):
            weights.move(f"__tmp{index}", mapping[name])
            group = weights[mapping[name]]
            if name in group and name != mapping[name]:
                group.move(name, mapping[name])
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get("weight_names", [])]
            if names:
                group.attrs["weight_names"] = np.array([rename_component(n).encode() for n in names], dtype="S")
        weights.attrs["layer_names"] = np.array([mapping[n].encode() for n in old], dtype="S")

        def rewrite(value):
            if isinstance(value, dict):
                return {k: rewrite(v) for k, v in value.items()}
            if isinstance(value, list):
                return [rewrite(v) for v in value]
            if isinstance(value, str):
                return mapping.get(value, value)
            return value

        config = json.loads(f.attrs["model_config"])
        f.attrs["model_config"] = json.dumps(rewrite(config)).encode()

        if "optimizer_weights" in f:
            paths = []
            f["optimizer_weights"].visit(lambda p: paths.append(p))
            for path in sorted(paths, key=lambda p: -p.count("/")):
                parent, _, leaf = path.rpartition("/")
                if leaf in mapping and mapping[leaf] != leaf:
                    group = f["optimizer_weights"][parent] if parent else f["optimizer_weights"]
                    group.move(leaf, f"__tmp_{leaf}")
            for path in sorted(paths, key=lambda p: p.count("/")):
                pass
            renamed = []
            f["optimizer_weights"].visit(lambda p: renamed.append(p))
            for path in sorted(renamed, key=lambda p: -p.count("/")):
                parent, _, leaf = path.rpartition("/")
                if leaf.startswith("__tmp_"):
                    group = f["optimizer_weights"][parent] if parent else f["optimizer_weights"]
                    group.move(leaf, mapping[leaf[len("__tmp_"):]])
            names = f["optimizer_weights"].attrs.get("weight_names")
            if names is not None:
                f["optimizer_weights"].attrs["weight_names"] = np.array(
                    [rename_component(n.decode() if isinstance(n, bytes) else str(n)).encode() for n in names], dtype="S")

        f.attrs["keras_version"] = b"2.0.8"
        f.attrs["backend"] = b"tensorflow"


def edits():
    import h5py
    import numpy as np

    inf_base = os.path.join(GATE, "inf_base.weights.h5")
    shutil.copyfile(os.path.join(ROOT, "k3", "pretrained.weights.h5"), inf_base)
    with h5py.File(inf_base, "r+") as f:
        kernel = f["layers/dense/vars/0"]
        kernel[...] = np.full(kernel.shape, np.inf, dtype=kernel.dtype)

    # One layer in the middle of the deep fine-tune moved far (the row a reader must find).
    with h5py.File(os.path.join(GATE, "deep400_ft.h5"), "r+") as f:
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["model_weights"].attrs["layer_names"]]
        middle = names[len(names) // 2]
        kernel = f[f"model_weights/{middle}/{middle}/kernel:0"]
        kernel[...] = kernel[...] * 1.6

    big = (2**53 + np.arange(24, dtype=np.int64) * 4).reshape(4, 6)
    for name, delta in (("int64_a.weights.h5", 0), ("int64_b.weights.h5", 1)):
        values = big.copy()
        values[2, 3] += delta  # 2**53 + 60 + 1 rounds to 2**53 + 60 as a Double (ties to even)
        with h5py.File(os.path.join(GATE, name), "w") as f:
            f.create_group("layers/lookup/vars").create_dataset("0", data=values)
            f.create_group("layers/dense/vars").create_dataset("0", data=np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4))


def userblock():
    import h5py

    source = os.path.join(ROOT, "k3", "ft_lowlr.weights.h5")
    target = os.path.join(GATE, "userblock.weights.h5")
    with h5py.File(source, "r") as src, h5py.File(target, "w", userblock_size=512) as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        for key in src:
            src.copy(src[key], dst, name=key)
    with open(target, "r+b") as f:
        f.write(b"user block written by tools/make_gate_samples.py\n".ljust(512, b" "))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--train":
        train()
        return
    os.makedirs(GATE, exist_ok=True)
    for name in os.listdir(GATE):
        os.remove(os.path.join(GATE, name))
    subprocess.run([sys.executable, __file__, "--train"], check=True)
    rename_to_keras20(os.path.join(GATE, "era_tfk_pretrained.h5"), os.path.join(GATE, "era_k20_pretrained.h5"))
    edits()
    userblock()
    for name in sorted(os.listdir(GATE)):
        print(f"{os.path.getsize(os.path.join(GATE, name)):>8}  gate/{name}")


if __name__ == "__main__":
    main()
