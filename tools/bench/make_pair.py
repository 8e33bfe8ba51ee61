#!/usr/bin/env python3
"""Writes a BERT-base-sized pair of Keras checkpoints (pretrained "base" and fine-tuned
"tuned") for the WeightDrift benchmark, with h5py + numpy only.

    python3 tools/bench/make_pair.py [--scale 4] [--out /work/bench-data]
    python3 tools/bench/make_pair.py --layers400 [--out /work/bench-data]

The files follow the layouts Keras writes (see keras-formats.md in the shared docs):

    base.h5 / tuned.h5                 legacy full model as tf-keras 2.21 `model.save("m.h5")`
                                       writes it without optimizer: root attrs keras_version,
                                       backend, model_config; model_weights/layer_names;
                                       one group per layer (created in sorted-name order) with
                                       weight_names; datasets <layer>/<layer>/kernel:0;
                                       top_level_model_weights; contiguous, unfiltered.
    base.weights.h5 / tuned.weights.h5 Keras 3.15 `save_weights`: /vars, layers/<path>/vars/<i>
                                       (path = snake_case class name + _1, _2 ... per class),
                                       every vars group with its `name` attribute.
    base.keras / tuned.keras           STORED zip: metadata.json, config.json (Functional, the
                                       layers in model order), model.weights.h5 (byte-for-byte
                                       the .weights.h5 above).
    base.safetensors / tuned.safetensors  the same float32 values as safetensors (header padded
                                       to 8 bytes as the crate pads it), tensors named
                                       `<layer>/<variable>` in model order, streamed from the .h5.

The model: 3 int inputs, word (30522x768), position (512x768) and token-type (2x768)
Embeddings, their Add and LayerNormalization, 12 blocks of query/key/value/attention-output
Dense 768x768, Add, LayerNormalization, Dense 768x3072, Dense 3072x768, Add,
LayerNormalization, and a pooler Dense 768x768: 109.5 M float32 parameters (438 MB).
The config is the layer list of such a model (names, classes, shapes, a simplified chain
of inbound nodes); it is what a reader needs for model order, not a graph Keras could run.
`--scale K` multiplies the vocabulary, the positions and the number of blocks by K
(K = 4: 438 M parameters, 1.75 GB per file); `--layers400` writes a small pair of 400
weighted layers (200 x Dense 64x64 + LayerNormalization) instead, for timing `inspect`, and
`--layers N` one of N (16 wide beyond 400: a model of many small weights, for a compare's
memory and per-weight costs).
`--dtype float16` or `--dtype bfloat16` writes the same model (the float32 values rounded to
nearest even) as a `.weights.h5` pair only, in bert<K>x-<dtype>: float16 as HDF5's IEEE half,
bfloat16 as Keras 3 stores it (2-byte opaque, attribute dtype="bfloat16").

Values: every tensor is N(mean, std) (kernels and embeddings std 0.02, LayerNorm gamma
around 1), from numpy's PCG64 seeded by (--seed, tensor index), so the files are the same
on every run. tuned = base + N(0, (drift * rms(base))^2) with --drift 1e-3, so every
weight's relative change is about 1e-3 and its cosine about 1 - 5e-7; one element of the
intermediate kernel of the middle block is NaN in tuned (the gate must fail on it).
Memory stays bounded: tensors are generated and written in blocks of 4 Mi elements.

Next to the files, pair.json records every weight dataset's byte offset in both files of
each layout (h5py `dset.id.get_offset()`; for the .keras the zip member's data offset is
added), and offsets-<layout>.txt holds the same as "base_offset tuned_offset count dtype" lines
for tools/bench/probe.c.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import sys
import time
import zipfile

import h5py
import numpy as np

BLOCK_ELEMENTS = 1 << 22
TF_KERAS_VERSION = "2.21.0"
KERAS_VERSION = "3.15.1"
LAYOUTS = ("h5", "weights.h5", "keras", "safetensors")


# --------------------------------------------------------------------------------------
# The model: a list of layers in model order
# --------------------------------------------------------------------------------------


class Layer:
    def __init__(self, name, class_name, inputs=(), weights=(), config=None, width=None):
        self.name = name
        self.class_name = class_name
        self.inputs = list(inputs)  # names of the layers feeding this one
        # (variable name, shape, mean, std), in Keras' save order (kernel/embeddings first)
        self.weights = list(weights)
        self.config = config or {}
        self.width = width  # last dimension of the output


def input_layer(name):
    return Layer(name, "InputLayer", config={"dtype": "int32"})


def embedding(name, source, rows, width):
    return Layer(name, "Embedding", [source], [("embeddings", (rows, width), 0.0, 0.02)],
                 {"input_dim": rows, "output_dim": width}, width)


def dense(name, source, n_in, n_out, activation="linear"):
    return Layer(name, "Dense", [source],
                 [("kernel", (n_in, n_out), 0.0, 0.02), ("bias", (n_out,), 0.0, 0.01)],
                 {"units": n_out, "activation": activation, "use_bias": True}, n_out)


def layer_norm(name, source, width):
    return Layer(name, "LayerNormalization", [source],
                 [("gamma", (width,), 1.0, 0.05), ("beta", (width,), 0.0, 0.02)],
                 {"axis": -1, "epsilon": 1e-12}, width)


def add(name, sources, width):
    return Layer(name, "Add", sources, width=width)


def bert(scale):
    hidden, ffn = 768, 3072
    layers = [input_layer("token_ids"), input_layer("segment_ids"), input_layer("position_ids"),
              embedding("word_embeddings", "token_ids", 30522 * scale, hidden),
              embedding("position_embeddings", "position_ids", 512 * scale, hidden),
              embedding("token_type_embeddings", "segment_ids", 2, hidden),
              add("embeddings_add", ["word_embeddings", "position_embeddings", "token_type_embeddings"], hidden),
              layer_norm("embeddings_layer_norm", "embeddings_add", hidden)]
    previous = "embeddings_layer_norm"
    for i in range(12 * scale):
        p = f"transformer_layer_{i}_"
        layers += [dense(p + "query", previous, hidden, hidden),
                   dense(p + "key", previous, hidden, hidden),
                   dense(p + "value", previous, hidden, hidden),
                   dense(p + "attention_output", p + "value", hidden, hidden),
                   add(p + "attention_add", [previous, p + "attention_output"], hidden),
                   layer_norm(p + "attention_layer_norm", p + "attention_add", hidden),
                   dense(p + "intermediate", p + "attention_layer_norm", hidden, ffn, "gelu"),
                   dense(p + "output", p + "intermediate", ffn, hidden),
                   add(p + "output_add", [p + "attention_layer_norm", p + "output"], hidden),
                   layer_norm(p + "output_layer_norm", p + "output_add", hidden)]
        previous = p + "output_layer_norm"
    layers.append(dense("pooler_dense", previous, hidden, hidden, "tanh"))
    nan_at = (f"transformer_layer_{12 * scale // 2}_intermediate", "kernel", hidden * ffn // 2 + 12345)
    return "bert", layers, nan_at


def many_layers(count):
    """`count` weighted layers: count / 2 x (Dense + LayerNormalization), 64 wide up to 400 layers
    (the pair for timing `inspect`), 16 wide beyond (a model of many small weights, for a
    compare's memory and per-weight costs)."""
    width = 64 if count <= 400 else 16
    layers = [input_layer("features")]
    previous = "features"
    for i in range(count // 2):
        layers += [dense(f"dense_block_{i}", previous, width, width, "relu"),
                   layer_norm(f"norm_block_{i}", f"dense_block_{i}", width)]
        previous = f"norm_block_{i}"
    return f"layers{count}", layers, (f"dense_block_{count // 4}", "kernel", 100)


# --------------------------------------------------------------------------------------
# Values: generated block by block, the same bytes for every layout
# --------------------------------------------------------------------------------------


def tensor_blocks(seed, index, shape, mean, std, drift, nan_index):
    """Yields (row_start, row_stop, base_block, tuned_block), float32, in row order."""
    rng = np.random.default_rng([seed, index])
    noise_rng = np.random.default_rng([seed, index, 1])
    rows = shape[0]
    per_row = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
    step = max(1, BLOCK_ELEMENTS // per_row)
    noise_std = np.float32(drift * (mean * mean + std * std) ** 0.5)
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        n = (stop - start) * per_row
        base = rng.standard_normal(n, dtype=np.float32)
        base *= np.float32(std)
        base += np.float32(mean)
        tuned = noise_rng.standard_normal(n, dtype=np.float32)
        tuned *= noise_std
        tuned += base
        if nan_index is not None and start * per_row <= nan_index < stop * per_row:
            tuned[nan_index - start * per_row] = np.nan
        block_shape = (stop - start,) + tuple(shape[1:])
        yield start, stop, base.reshape(block_shape), tuned.reshape(block_shape)


def weight_list(layers):
    """[(index, layer, variable name, shape, mean, std)] in model order."""
    out = []
    for layer in layers:
        for name, shape, mean, std in layer.weights:
            out.append((len(out), layer, name, shape, mean, std))
    return out


# --------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------


def output_shape(layer):
    return [None, None] if layer.class_name == "InputLayer" else [None, None, layer.width]


def tf_keras_config(model_name, layers):
    """model_config as tf-keras 2.21 writes it for a Functional model."""
    entries = []
    for layer in layers:
        config = {"name": layer.name, "trainable": True, "dtype": "float32", **layer.config}
        if layer.class_name == "InputLayer":
            config = {"batch_input_shape": [None, None], "dtype": "int32", "sparse": False,
                      "ragged": False, "name": layer.name}
        nodes = [[[source, 0, 0, {}] for source in layer.inputs]] if layer.inputs else []
        entries.append({"class_name": layer.class_name, "config": config, "name": layer.name,
                        "inbound_nodes": nodes})
    inputs = [[layer.name, 0, 0] for layer in layers if layer.class_name == "InputLayer"]
    return {"class_name": "Functional",
            "config": {"name": model_name, "trainable": True, "layers": entries,
                       "input_layers": inputs, "output_layers": [[layers[-1].name, 0, 0]]},
            "keras_version": TF_KERAS_VERSION, "backend": "tensorflow"}


def keras3_config(model_name, layers):
    """config.json as Keras 3 writes it for an uncompiled Functional model."""
    by_name = {layer.name: layer for layer in layers}
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
              "registered_name": None}

    def tensor(name):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": output_shape(by_name[name]),
                           "dtype": "int32" if by_name[name].class_name == "InputLayer" else "float32",
                           "keras_history": [name, 0, 0]}}

    entries = []
    for layer in layers:
        entry = {"module": "keras.layers", "class_name": layer.class_name}
        if layer.class_name == "InputLayer":
            entry["config"] = {"batch_shape": [None, None], "dtype": "int32", "sparse": False,
                               "ragged": False, "name": layer.name, "optional": False}
            entry["registered_name"] = None
        else:
            entry["config"] = {"name": layer.name, "trainable": True, "dtype": policy, **layer.config}
            entry["registered_name"] = None
            shapes = [output_shape(by_name[source]) for source in layer.inputs]
            entry["build_config"] = {"input_shape": shapes if len(shapes) > 1 else shapes[0]}
        entry["name"] = layer.name
        if layer.class_name == "InputLayer":
            entry["inbound_nodes"] = []
        elif len(layer.inputs) > 1:
            entry["inbound_nodes"] = [{"args": [[tensor(s) for s in layer.inputs]], "kwargs": {}}]
        else:
            entry["inbound_nodes"] = [{"args": [tensor(layer.inputs[0])], "kwargs": {}}]
        entries.append(entry)
    inputs = [[layer.name, 0, 0] for layer in layers if layer.class_name == "InputLayer"]
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": {"name": model_name, "trainable": True, "layers": entries,
                       "input_layers": inputs, "output_layers": [[layers[-1].name, 0, 0]]},
            "registered_name": "Functional", "build_config": {"input_shape": None},
            "compile_config": None}


def snake_case(class_name):
    out = ""
    for i, ch in enumerate(class_name):
        if ch.isupper() and i > 0 and (class_name[i - 1].islower() or
                                       (i + 1 < len(class_name) and class_name[i + 1].islower())):
            out += "_"
        out += ch.lower()
    return out


def weights_h5_paths(layers):
    """layer name -> `layers/<snake_case(class)>[_k]`, as Keras 3 names list elements."""
    seen, paths = {}, {}
    for layer in layers:
        base = snake_case(layer.class_name)
        k = seen.get(base, -1) + 1
        seen[base] = k
        paths[layer.name] = f"layers/{base}" if k == 0 else f"layers/{base}_{k}"
    return paths


# --------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------


def write_legacy(paths, model_name, layers, seed, drift, nan_at):
    """tf-keras `save_model_to_hdf5` without optimizer; groups in sorted-name order."""
    files = [h5py.File(p, "w") for p in paths]
    weights = {(w[1].name, w[2]): w for w in weight_list(layers)}
    config = json.dumps(tf_keras_config(model_name, layers)).encode("utf8")
    for f in files:
        f.attrs["keras_version"] = TF_KERAS_VERSION
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = config
        g = f.create_group("model_weights")
        names = [layer.name.encode("utf8") for layer in layers]
        assert len(names) * max(map(len, names)) <= 64512, "layer_names would be chunked"
        g.attrs["layer_names"] = names
        g.attrs["backend"] = b"tensorflow"
        g.attrs["keras_version"] = TF_KERAS_VERSION.encode("utf8")
    for layer in sorted(layers, key=lambda item: item.name):
        names = [f"{layer.name}/{var}:0".encode("utf8") for var, *_ in layer.weights]
        groups = [f["model_weights"].create_group(layer.name) for f in files]
        for g in groups:
            g.attrs["weight_names"] = names if names else np.asarray([])
        for var, shape, mean, std in layer.weights:
            index = weights[(layer.name, var)][0]
            dsets = [g.create_dataset(f"{layer.name}/{var}:0", shape, dtype="<f4") for g in groups]
            write_values(dsets, seed, index, shape, mean, std, drift, nan_at, layer.name, var)
    for f in files:
        f["model_weights"].create_group("top_level_model_weights").attrs["weight_names"] = np.asarray([])
        f.close()


def stored(values, dtype):
    """float32 values as stored in `dtype` (round to nearest even)."""
    if dtype == "float32":
        return values
    if dtype == "float16":
        return values.astype("<f2")
    bits = values.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")
    rounded[np.isnan(values)] = 0x7FC0
    return rounded.view("V2")


def write_weights_h5(paths, model_name, layers, seed, drift, nan_at, dtype="float32"):
    """Keras 3.15 `save_weights("x.weights.h5")`: /vars, then layers/<path>/vars/<i>."""
    files = [h5py.File(p, "w") for p in paths]
    layer_paths = weights_h5_paths(layers)
    for f in files:
        f.create_group("vars").attrs["name"] = model_name
    index = 0
    for layer in layers:
        groups = [f.create_group(layer_paths[layer.name] + "/vars") for f in files]
        for g in groups:
            g.attrs["name"] = layer.name
        for slot, (var, shape, mean, std) in enumerate(layer.weights):
            dsets = [g.create_dataset(str(slot), shape, dtype=stored(np.zeros(1, np.float32), dtype).dtype)
                     for g in groups]
            if dtype == "bfloat16":
                for d in dsets:
                    d.attrs["dtype"] = "bfloat16"
            write_values(dsets, seed, index, shape, mean, std, drift, nan_at, layer.name, var, dtype)
            index += 1
    for f in files:
        f.close()


def write_values(dsets, seed, index, shape, mean, std, drift, nan_at, layer_name, var, dtype="float32"):
    base_dset, tuned_dset = dsets
    nan_index = nan_at[2] if (layer_name, var) == nan_at[:2] else None
    for start, stop, base, tuned in tensor_blocks(seed, index, shape, mean, std, drift, nan_index):
        base_dset[start:stop] = stored(base, dtype)
        tuned_dset[start:stop] = stored(tuned, dtype)


def write_keras(path, weights_path, model_name, layers):
    """The archive as Keras 3 `model.save` leaves it: JSON members first, all STORED."""
    metadata = {"keras_version": KERAS_VERSION, "date_saved": time.strftime("%Y-%m-%d@%H:%M:%S")}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        with archive.open("metadata.json", "w") as member:
            member.write(json.dumps(metadata).encode())
        with archive.open("config.json", "w") as member:
            member.write(json.dumps(keras3_config(model_name, layers)).encode())
        archive.write(weights_path, "model.weights.h5")


def write_safetensors(h5_path, path, weights, dataset_paths):
    """The .h5's weights as one safetensors file, in blocks; returns each tensor's absolute data offset."""
    header, offset = {}, 0
    for (_, layer, var, shape, _, _) in weights:
        size = 4 * int(np.prod(shape, dtype=np.int64))
        header[f"{layer.name}/{var}"] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    starts = [8 + len(text) + entry["data_offsets"][0] for entry in header.values()]
    with h5py.File(h5_path, "r") as source, open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)) + text)
        for dataset_path in dataset_paths:
            dataset = source[dataset_path]
            rows = max(1, BLOCK_ELEMENTS // max(1, int(np.prod(dataset.shape[1:], dtype=np.int64))))
            for start in range(0, max(1, dataset.shape[0]) if dataset.shape else 1, rows):
                block = dataset[start:start + rows] if dataset.shape else dataset[()]
                out.write(np.ascontiguousarray(block, dtype="<f4").tobytes())
    return starts


def zip_member_data_offset(path, member_name):
    """Where a STORED member's bytes start: its local header offset + 30 + name + extra."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member_name)
        assert info.compress_type == zipfile.ZIP_STORED
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        header = handle.read(30)
    signature, name_length, extra_length = struct.unpack("<I22xHH", header)
    assert signature == 0x04034B50
    return info.header_offset + 30 + name_length + extra_length


# --------------------------------------------------------------------------------------
# pair.json: where every weight's bytes are
# --------------------------------------------------------------------------------------


def dataset_offsets(path, dataset_paths, shift=0):
    with h5py.File(path, "r") as f:
        out = []
        for p in dataset_paths:
            dset = f[p]
            assert dset.dtype.itemsize in (2, 4) and dset.chunks is None and dset.compression is None
            out.append(dset.id.get_offset() + shift)
        return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="/work/bench-data", help="parent folder (default /work/bench-data)")
    parser.add_argument("--scale", type=int, default=1, help="K x the vocabulary, positions and blocks")
    parser.add_argument("--layers400", action="store_true", help="the 400-layer pair for timing inspect (= --layers 400)")
    parser.add_argument("--layers", type=int, default=None,
                        help="a pair of this many small weighted layers (an even number), in layers<N>")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--drift", type=float, default=1e-3, help="noise std relative to each tensor's RMS")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                        help="stored type; not float32: a .weights.h5 pair only")
    args = parser.parse_args()

    if args.layers400:
        args.layers = 400
    if args.layers is not None:
        if args.layers < 2 or args.layers % 2:
            sys.exit("make_pair: --layers takes an even number of at least 2")
        model_name, layers, nan_at = many_layers(args.layers)
        folder = os.path.join(args.out, model_name)
    else:
        model_name, layers, nan_at = bert(args.scale)
        folder = os.path.join(args.out, f"bert{args.scale}x" + ("" if args.dtype == "float32" else f"-{args.dtype}"))
    layouts_written = LAYOUTS if args.dtype == "float32" else ("weights.h5",)
    repo = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
    if os.path.realpath(folder).startswith(repo + os.sep):
        sys.exit(f"make_pair: refusing to write inside the repository ({folder})")
    os.makedirs(folder, exist_ok=True)
    path = {(side, layout): os.path.join(folder, f"{side}.{layout}")
            for side in ("base", "tuned") for layout in layouts_written}
    if os.path.exists(os.path.join(folder, "pair.json")):
        os.remove(os.path.join(folder, "pair.json"))  # written last: its presence means "complete"

    started = time.time()
    if "h5" in layouts_written:
        write_legacy([path["base", "h5"], path["tuned", "h5"]], model_name, layers, args.seed, args.drift, nan_at)
    write_weights_h5([path["base", "weights.h5"], path["tuned", "weights.h5"]], model_name, layers,
                     args.seed, args.drift, nan_at, args.dtype)
    if "keras" in layouts_written:
        for side in ("base", "tuned"):
            write_keras(path[side, "keras"], path[side, "weights.h5"], model_name, layers)

    weights = weight_list(layers)
    layer_paths = weights_h5_paths(layers)
    legacy_paths = [f"/model_weights/{layer.name}/{layer.name}/{var}:0" for _, layer, var, *_ in weights]
    slots = {}
    v3_paths = []
    for _, layer, *_ in weights:
        slots[layer.name] = slots.get(layer.name, -1) + 1
        v3_paths.append(f"/{layer_paths[layer.name]}/vars/{slots[layer.name]}")
    safetensors_offsets = {side: write_safetensors(path[side, "h5"], path[side, "safetensors"], weights, legacy_paths)
                           for side in ("base", "tuned") if "safetensors" in layouts_written}
    layouts = {}
    for layout in layouts_written:
        entry = {"base": path["base", layout], "tuned": path["tuned", layout],
                 "bytes": [os.path.getsize(path["base", layout]), os.path.getsize(path["tuned", layout])]}
        offsets = {}
        for side in ("base", "tuned"):
            if layout == "h5":
                offsets[side] = dataset_offsets(path[side, layout], legacy_paths)
            elif layout == "weights.h5":
                offsets[side] = dataset_offsets(path[side, layout], v3_paths)
            elif layout == "safetensors":
                offsets[side] = safetensors_offsets[side]
            else:
                shift = zip_member_data_offset(path[side, layout], "model.weights.h5")
                offsets[side] = dataset_offsets(path[side, "weights.h5"], v3_paths, shift)
        entry["datasets"] = [
            {"layer": layer.name, "weight": var,
             "path": {"h5": legacy_paths[i], "safetensors": f"{layer.name}/{var}"}.get(layout, v3_paths[i]),
             "shape": list(shape), "count": int(np.prod(shape)),
             "base_offset": offsets["base"][i], "tuned_offset": offsets["tuned"][i]}
            for i, layer, var, shape, _, _ in weights]
        with open(os.path.join(folder, f"offsets-{layout}.txt"), "w") as handle:
            for d in entry["datasets"]:
                handle.write(f"{d['base_offset']} {d['tuned_offset']} {d['count']} {args.dtype}\n")
        layouts[layout] = entry

    parameters = sum(int(np.prod(w[3])) for w in weights)
    with open(__file__, "rb") as handle:
        generator = hashlib.sha256(handle.read()).hexdigest()
    info = {"generator": generator, "model": model_name, "scale": 1 if args.layers is not None else args.scale,
            "dtype": args.dtype, "seed": args.seed,
            "drift": args.drift, "parameters": parameters,
            "layers": len(layers), "weightedLayers": sum(1 for layer in layers if layer.weights),
            "weights": len(weights),
            "nan": {"layer": nan_at[0], "weight": nan_at[1], "index": nan_at[2]},
            "expected": {"relativeChange": args.drift, "tunedNaN": 1},
            "layouts": layouts}
    with open(os.path.join(folder, "pair.json"), "w") as handle:
        json.dump(info, handle, indent=1)
    print(f"make_pair: {folder}: {len(layers)} layers, {parameters:,} parameters, "
          f"{layouts['weights.h5']['bytes'][0] / 1e6:.0f} MB per .weights.h5, {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
