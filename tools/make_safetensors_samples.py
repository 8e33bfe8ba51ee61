#!/usr/bin/env python3
"""Writes samples/safetensors/: safetensors files written by the `safetensors` package's numpy API
(pinned in tools/requirements-samples.txt) from the Keras samples, and a catalogue of broken
headers for the bad-input tests. Needs samples/k3 from tools/make_samples.py. Deterministic.

  /work/venv-samples/bin/python tools/make_safetensors_samples.py

Written:
  pretrained.safetensors, ft_lowlr.safetensors  the k3 pair's weights (float32), Keras-style names
                                                (`conv2d/kernel`): compare equals the .keras pair
  sharded/                                      ft_lowlr in two shards + model.safetensors.index.json
  ft_lowlr_f16.safetensors                      ft_lowlr as float16, Hugging Face-style names
                                                (`model.conv2d.weight`; kernel→weight)
  dtypes.safetensors                            one small tensor per dtype (F16 BF16 F32 F64 I8..U64),
                                                `layers.N` names out of numeric order, __metadata__
  bad/*.safetensors                             headers the format's loader refuses, and dtypes not read
  truth.json                                    what the tests check against: dtypes.safetensors's values
                                                (64-bit integers as decimal strings), its metadata and
                                                layer order, and each bad file's tensor named in its error
"""
import json
import os
import re
import struct

import h5py
import ml_dtypes
import numpy as np
from safetensors.numpy import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "samples")
OUT = os.path.join(ROOT, "safetensors")

# Keras 3 stores a layer's variables as vars/0.. in creation order (keras src/layers/*).
VARIABLES = {
    "conv2d": ["kernel", "bias"],
    "conv2d_1": ["kernel", "bias"],
    "batch_normalization": ["gamma", "beta", "moving_mean", "moving_variance"],
    "dense": ["kernel", "bias"],
    "dense_1": ["kernel", "bias"],
}


def keras_weights(name):
    """The weights of samples/k3/NAME.weights.h5 as {"layer/variable": array}."""
    tensors = {}
    with h5py.File(os.path.join(ROOT, "k3", name + ".weights.h5"), "r") as f:
        for layer, variables in VARIABLES.items():
            group = f["layers"][layer]["vars"]
            assert len(group) == len(variables), (name, layer, list(group))
            for index, variable in enumerate(variables):
                tensors[f"{layer}/{variable}"] = np.asarray(group[str(index)])
    return tensors


def hf_name(name):
    layer, variable = name.split("/")
    return f"model.{layer}." + {"kernel": "weight"}.get(variable, variable)


def raw_file(path, header, data=b"", header_bytes=None):
    """Writes a safetensors file by hand: for headers the package would never write."""
    text = header_bytes if header_bytes is not None else json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def natural_key(name):
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


def exact(array):
    """Stored values as JSON: floats widened exactly to float64, 64-bit integers as strings."""
    if array.dtype.kind in "iu" and array.dtype.itemsize == 8:
        return [str(int(v)) for v in array.reshape(-1)]
    return [float(v) for v in array.astype(np.float64).reshape(-1)]


def main():
    os.makedirs(os.path.join(OUT, "sharded"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "bad"), exist_ok=True)
    meta = {"format": "np", "source": "samples/k3 (Keras 3.15)"}
    base, tuned = keras_weights("pretrained"), keras_weights("ft_lowlr")
    save_file(base, os.path.join(OUT, "pretrained.safetensors"), metadata=meta)
    save_file(tuned, os.path.join(OUT, "ft_lowlr.safetensors"), metadata=meta)

    # Two shards, as transformers' save_pretrained splits them, and the index naming each tensor's shard.
    names = sorted(tuned)
    shards = {"model-00001-of-00002.safetensors": names[: len(names) // 2],
              "model-00002-of-00002.safetensors": names[len(names) // 2:]}
    weight_map = {}
    for shard, members in shards.items():
        save_file({n: tuned[n] for n in members}, os.path.join(OUT, "sharded", shard), metadata=meta)
        weight_map.update({n: shard for n in members})
    total = sum(tuned[n].nbytes for n in names)
    with open(os.path.join(OUT, "sharded", "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)

    save_file({hf_name(n): v.astype(np.float16) for n, v in tuned.items()},
              os.path.join(OUT, "ft_lowlr_f16.safetensors"), metadata={"format": "np", "dtype": "float16"})

    rng = np.random.default_rng(7)
    values = rng.standard_normal(6).reshape(2, 3)
    dtypes = {
        "float.f16": values.astype(np.float16), "float.bf16": values.astype(ml_dtypes.bfloat16),
        "float.f32": values.astype(np.float32), "float.f64": values,
        "int.i8": np.array([-128, 0, 127], np.int8), "int.i16": np.array([-32768, 1, 32767], np.int16),
        "int.i32": np.array([-(2**31), 2, 2**31 - 1], np.int32),
        "int.i64": np.array([-(2**63), 2**53 + 1, 2**63 - 1], np.int64),
        "int.u8": np.array([0, 1, 255], np.uint8), "int.u16": np.array([0, 2, 65535], np.uint16),
        "int.u32": np.array([0, 3, 2**32 - 1], np.uint32), "int.u64": np.array([0, 2**53 + 1, 2**64 - 1], np.uint64),
        "layers.10.scale": np.array([10.0], np.float32), "layers.9.scale": np.array([9.0], np.float32),
        "layers.2.scale": np.array([2.0], np.float32), "scalar": np.array(1.5, np.float32),
    }
    dtypes_meta = {"note": "one tensor per dtype", "writer": "make_safetensors_samples.py"}
    save_file(dtypes, os.path.join(OUT, "dtypes.safetensors"), metadata=dtypes_meta)
    layers = sorted({n.rsplit(".", 1)[0] if "." in n else n for n in dtypes}, key=natural_key)
    truth = {"dtypes.safetensors": {
        "metadata": dtypes_meta, "layers": layers,
        "tensors": {n: {"dtype": str(v.dtype), "shape": list(v.shape), "values": exact(v)} for n, v in dtypes.items()}}}

    # Broken headers: each names the rule of the crate's validate() that it breaks.
    one = np.arange(4, dtype=np.float32).tobytes()  # 16 bytes: shape [4] F32
    ok = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}
    bad = os.path.join(OUT, "bad")
    raw_file(os.path.join(bad, "header_too_large.safetensors"), None, one, header_bytes=b"{" + b" " * 15)
    with open(os.path.join(bad, "header_too_large.safetensors"), "r+b") as f:
        f.write(struct.pack("<Q", 100_000_001))
    raw_file(os.path.join(bad, "header_past_end.safetensors"), None, header_bytes=b'{"a": {"dtype"')
    with open(os.path.join(bad, "header_past_end.safetensors"), "r+b") as f:
        f.write(struct.pack("<Q", 4096))
    raw_file(os.path.join(bad, "offsets_out_of_file.safetensors"), {"w": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}}, one)
    raw_file(os.path.join(bad, "overlap.safetensors"), {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                                        "b": {"dtype": "F32", "shape": [3], "data_offsets": [4, 16]}}, one)
    raw_file(os.path.join(bad, "gap.safetensors"), {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                                                    "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}, one)
    raw_file(os.path.join(bad, "trailing_bytes.safetensors"), {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}}, one)
    raw_file(os.path.join(bad, "wrong_size.safetensors"), {"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}, one)
    raw_file(os.path.join(bad, "begin_after_end.safetensors"), {"w": {"dtype": "F32", "shape": [0], "data_offsets": [16, 0]}}, one)
    raw_file(os.path.join(bad, "shape_overflow.safetensors"),
             {"w": {"dtype": "F32", "shape": [2**31, 2**31, 2**31], "data_offsets": [0, 16]}}, one)
    raw_file(os.path.join(bad, "duplicate_name.safetensors"), None, one,
             header_bytes=b'{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, '
                          b'"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}')
    raw_file(os.path.join(bad, "entry_not_an_object.safetensors"), None, one, header_bytes=b'{"w": [1, 2, 3]}')
    raw_file(os.path.join(bad, "array_header.safetensors"), None, one, header_bytes=b'[{"w": 1}]')
    raw_file(os.path.join(bad, "invalid_json.safetensors"), None, one, header_bytes=b'{"w": {"dtype": "F32",]}')
    raw_file(os.path.join(bad, "not_utf8.safetensors"), None, one, header_bytes=b'{"w\xff": {}}')
    raw_file(os.path.join(bad, "bad_dtype.safetensors"), {"w": dict(ok, dtype="F17")}, one)
    raw_file(os.path.join(bad, "bool_dtype.safetensors"), {"w": {"dtype": "BOOL", "shape": [16], "data_offsets": [0, 16]}}, one)
    raw_file(os.path.join(bad, "f8_dtype.safetensors"), {"w": {"dtype": "F8_E4M3", "shape": [16], "data_offsets": [0, 16]}}, one)
    raw_file(os.path.join(bad, "metadata_not_strings.safetensors"), {"__metadata__": {"epoch": 3}, "w": ok}, one)
    save_file({"w": np.arange(64, dtype=np.float32)}, os.path.join(bad, "truncated.safetensors"))
    with open(os.path.join(bad, "truncated.safetensors"), "r+b") as f:
        f.truncate(os.path.getsize(os.path.join(bad, "truncated.safetensors")) - 100)
    truth["bad"] = {  # file -> the tensor its error names (null: the header as a whole)
        "header_too_large.safetensors": None, "header_past_end.safetensors": None, "offsets_out_of_file.safetensors": "w",
        "overlap.safetensors": "b", "gap.safetensors": "b", "trailing_bytes.safetensors": "a", "wrong_size.safetensors": "w",
        "begin_after_end.safetensors": "w", "shape_overflow.safetensors": "w", "duplicate_name.safetensors": "w",
        "entry_not_an_object.safetensors": "w", "array_header.safetensors": None, "invalid_json.safetensors": None,
        "not_utf8.safetensors": None, "bad_dtype.safetensors": "w", "bool_dtype.safetensors": "w", "f8_dtype.safetensors": "w",
        "metadata_not_strings.safetensors": "__metadata__", "truncated.safetensors": "w",
        "misplaced/model.safetensors.index.json": "a.weight",
    }
    # A shard index whose weight_map places a tensor in the wrong shard.
    os.makedirs(os.path.join(bad, "misplaced"), exist_ok=True)
    save_file({"a.weight": np.ones(2, np.float32)}, os.path.join(bad, "misplaced", "s1.safetensors"))
    save_file({"b.weight": np.ones(2, np.float32)}, os.path.join(bad, "misplaced", "s2.safetensors"))
    with open(os.path.join(bad, "misplaced", "model.safetensors.index.json"), "w") as f:
        json.dump({"weight_map": {"a.weight": "s2.safetensors", "b.weight": "s2.safetensors"}}, f)
    missing = sorted(set(truth["bad"]) - {os.path.relpath(os.path.join(d, f), bad) for d, _, fs in os.walk(bad) for f in fs})
    assert not missing, missing
    with open(os.path.join(OUT, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
