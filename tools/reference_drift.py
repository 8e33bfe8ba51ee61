#!/usr/bin/env python3
"""Float64 reference ("oracle") for WeightDrift, written with h5py + numpy only.

It is the independent implementation the Swift code is checked against, so it is
deliberately plain: every number is computed the obvious way, in float64, from the
values exactly as stored, one weight pair at a time (and that pair in row blocks),
so memory stays bounded whatever the checkpoint size.

Usage:
    python3 tools/reference_drift.py BASE TUNED
        prints {"base", "tuned", "matching", "layers": [...]} as JSON to stdout.
    python3 tools/reference_drift.py --pairs tools/oracle_pairs.txt --root samples \\
            --out samples/expected/oracle.json
        runs every "BASE TUNED" line of the pairs file (paths relative to --root,
        '#' starts a comment) and writes {"pairs": [...]}.

Supported inputs (sniffed by content, not by name): `.keras` zip (or its unzipped
directory), Keras 3 sharded `.weights.json` index, legacy full-model `.h5`, legacy
weights-only `.h5`, `.weights.h5` (Keras 3 / tf-keras, `layers/` or
`_layer_checkpoint_dependencies/`), and safetensors (a single file, or
`model.safetensors.index.json` with its shards), parsed with plain numpy: layers are
tensor names minus their last `/`- or `.`-separated component, in natural order,
weights in stored (byte) order.

Metric definitions (per weight pair; a = base, b = tuned, widened to float64):
  count          n, all elements
  baseNaN/baseInf/tunedNaN/tunedInf   counts of non-finite values
  finiteCount    elements where a and b are both finite; all sums use only these
  sumBaseSq      sum a^2        sumTunedSq  sum b^2      sumDot  sum a*b
  sumDiffSq      sum d^2 with d = b - a computed element-wise (never via the
                 expansion a^2 + b^2 - 2ab, which cancels to 0 for small drifts)
  maxAbsChange   max |d| (null when finiteCount == 0, like every figure below)
  changedCount   elements whose stored bit patterns differ, over all n (NaN too).
                 If the two stored types differ (e.g. float32 vs float16), the
                 float64-widened bit patterns are compared instead.
  changedFraction changedCount / n (0 when n == 0); frozen = changedCount == 0
  baseNorm, tunedNorm, diffNorm = sqrt of the sums; rmsChange = diffNorm/sqrt(finiteCount)
  relativeChange diffNorm/baseNorm ("norm"), or rmsChange ("rms") when finiteCount == 0
                 or baseNorm/sqrt(finiteCount) < 1e-8 (a base that is about zero)
  normRatio      tunedNorm/baseNorm (null if baseNorm == 0)
  cosine         sumDot/(baseNorm*tunedNorm) clamped to [-1, 1] (null if a norm is 0; exactly 1 when sumDiffSq is 0)
  angleDegrees   degrees(acos(cosine)) (null with cosine)
A layer carries the same fields computed from the sums and counts of its paired
weights added together (max of the maxima). Non-finite numbers are written as null.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import sys
import zipfile

import h5py
import numpy as np

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
# Rows are read in blocks of about this many elements, so a huge tensor is never
# materialised (twice, widened to float64) at once.
BLOCK_ELEMENTS = 1 << 22
NEAR_ZERO_RMS = 1e-8
SKIPPED_COMPONENTS = ("optimizer", "metrics")


class OracleError(Exception):
    """A file that cannot be read as a Keras checkpoint."""


def warn(message):
    print(f"reference_drift: warning: {message}", file=sys.stderr)


# --------------------------------------------------------------------------------------
# Checkpoint model: a list of layers, each (label, [WeightRef, ...]), model order.
# --------------------------------------------------------------------------------------


class WeightRef:
    """One stored tensor: where it is and how it is typed; values are read on demand."""

    def __init__(self, dataset, display_path):
        self.dataset = dataset
        self.path = display_path
        self.shape = tuple(int(x) for x in dataset.shape)
        self.dtype_name = stored_dtype_name(dataset)


class Layer:
    def __init__(self, label, weights):
        self.label = label
        self.weights = weights


class Checkpoint:
    """Keeps the open h5py files alive for as long as the layers are used."""

    def __init__(self, layers, files):
        self.layers = layers
        self._files = files

    def close(self):
        for handle in self._files:
            handle.close()
        self._files = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def stored_dtype_name(dataset):
    dtype = dataset.dtype
    if is_bfloat16(dtype):
        return "bfloat16"
    if dtype.kind in "fiub":
        return dtype.name
    raise OracleError(f"{dataset.name}: unsupported stored type {dtype!r}")


def is_bfloat16(dtype):
    # h5py maps the 2-byte opaque HDF5 type that Keras/TF use for bfloat16 to 'V2';
    # ml_dtypes (if some other package registered it) would call it 'bfloat16'.
    return (dtype.kind == "V" and dtype.itemsize == 2 and dtype.fields is None) or dtype.name == "bfloat16"


# --------------------------------------------------------------------------------------
# Opening files
# --------------------------------------------------------------------------------------


def open_checkpoint(path):
    if os.path.isdir(path):
        # `save_model(..., zipped=False)`: the three members of a .keras as files.
        weights = os.path.join(path, "model.weights.h5")
        if not os.path.isfile(weights):
            raise OracleError(f"{path}: directory without model.weights.h5")
        config = None
        config_path = os.path.join(path, "config.json")
        if os.path.isfile(config_path):
            with open(config_path, "rb") as handle:
                config = json.load(handle)
        h5 = h5py.File(weights, "r")
        return Checkpoint(read_weights_h5([("", h5)], config), [h5])

    with open(path, "rb") as handle:
        head = handle.read(9)
    if head.startswith(ZIP_MAGIC):
        return open_keras_zip(path)
    if is_safetensors(head):
        return Checkpoint(safetensors_layers([path]), [])
    if head.lstrip()[:1] == b"{":
        return open_sharded(path)
    if head == HDF5_MAGIC or h5py.is_hdf5(path):
        h5 = h5py.File(path, "r")
        try:
            layers = read_hdf5(h5)
        except Exception:
            h5.close()
            raise
        return Checkpoint(layers, [h5])
    raise OracleError(f"{path}: neither a zip, a JSON index nor an HDF5 file")


def open_keras_zip(path):
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if "model.weights.h5" not in names:
            raise OracleError(f"{path}: .keras archive without model.weights.h5")
        config = json.loads(archive.read("config.json")) if "config.json" in names else None
        data = io.BytesIO(archive.read("model.weights.h5"))
    h5 = h5py.File(data, "r")
    return Checkpoint(read_weights_h5([("", h5)], config), [h5])


SAFETENSORS_DTYPES = {"F16": "<f2", "BF16": "V2", "F32": "<f4", "F64": "<f8", "I8": "i1", "I16": "<i2", "I32": "<i4",
                      "I64": "<i8", "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8"}


def is_safetensors(head):
    return len(head) == 9 and int.from_bytes(head[:8], "little") >= 2 and head[8:9] == b"{"


def natural_key(name):
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


def safetensors_layers(paths):
    """Layers of one or more safetensors files, each tensor a read-only memmap of its bytes."""
    layers = {}
    for path in paths:
        with open(path, "rb") as handle:
            length = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(length))
        tensors = sorted(((name, info) for name, info in header.items() if name != "__metadata__"),
                         key=lambda item: item[1]["data_offsets"])
        for name, info in tensors:
            if info["dtype"] not in SAFETENSORS_DTYPES:
                raise OracleError(f"{path}: {name}: dtype {info['dtype']} not read")
            shape = tuple(info["shape"])
            begin, end = info["data_offsets"]
            count = int(np.prod(shape, dtype=np.int64))
            values = (np.memmap(path, dtype=SAFETENSORS_DTYPES[info["dtype"]], mode="r", offset=8 + length + begin,
                                shape=(count,)) if count else np.zeros(0, SAFETENSORS_DTYPES[info["dtype"]]))
            assert values.nbytes == end - begin, name
            cut = name.rfind("/") if "/" in name else name.rfind(".")
            label = name[:cut] if 0 < cut < len(name) - 1 else name
            layers.setdefault(label, []).append(MemoryWeight(values.reshape(shape), name))
    return [Layer(label, layers[label]) for label in sorted(layers, key=natural_key)]


class MemoryWeight(WeightRef):
    def __init__(self, array, display_path):
        self.dataset = array
        self.path = display_path
        self.shape = tuple(int(x) for x in array.shape)
        self.dtype_name = "bfloat16" if is_bfloat16(array.dtype) else array.dtype.name


def open_sharded(path):
    with open(path, "rb") as handle:
        index = json.load(handle)
    if not isinstance(index, dict) or not isinstance(index.get("weight_map"), dict):
        raise OracleError(f"{path}: JSON without a weight_map")
    shards = sorted(set(v for v in index["weight_map"].values() if isinstance(v, str)))
    folder = os.path.dirname(os.path.abspath(path))
    if shards and all(os.path.basename(s) == s for s in shards):
        with open(os.path.join(folder, shards[0]), "rb") as handle:
            if is_safetensors(handle.read(9)):
                return Checkpoint(safetensors_layers([os.path.join(folder, s) for s in shards]), [])
    shard_names = []
    for value in index["weight_map"].values():
        for name in [value] if isinstance(value, str) else value:
            if not isinstance(name, str):
                raise OracleError(f"{path}: weight_map entry is not a file name: {name!r}")
            if name not in shard_names:
                shard_names.append(name)
    folder = os.path.dirname(os.path.abspath(path))
    files = []
    try:
        for name in sorted(shard_names):
            if os.path.isabs(name) or os.path.basename(name) != name or name in ("", ".", ".."):
                raise OracleError(f"{path}: refusing shard path {name!r} (must be a file in the same folder)")
            files.append((name, h5py.File(os.path.join(folder, name), "r")))
        layers = read_weights_h5(files, None)
    except Exception:
        for _, h5 in files:
            h5.close()
        raise
    return Checkpoint(layers, [h5 for _, h5 in files])


def read_hdf5(h5):
    if "model_weights" in h5 and isinstance(h5["model_weights"], h5py.Group):
        return read_legacy(h5["model_weights"])
    if read_name_list(h5, "layer_names") is not None:
        return read_legacy(h5)
    return read_weights_h5([("", h5)], None)


# --------------------------------------------------------------------------------------
# Attribute strings
# --------------------------------------------------------------------------------------


def as_string_list(value):
    """Attribute value -> list of str. Accepts vlen/fixed, bytes/str, scalar/1-D; an
    empty non-string array (Keras writes np.asarray([]) as float64) is an empty list."""
    if isinstance(value, (str, bytes, np.str_, np.bytes_)):
        items = [value]
    else:
        array = np.asarray(value)
        if array.size == 0:
            return []
        if array.dtype.kind not in "OSU":
            raise OracleError(f"expected a string attribute, got {array.dtype}")
        items = array.reshape(-1).tolist()
    result = []
    for item in items:
        if isinstance(item, bytes):
            item = item.decode("utf-8")
        result.append(str(item).rstrip("\x00"))
    return result


def read_name_list(obj, key):
    """`key` itself, or the chunks key0, key1, ... concatenated; None if absent."""
    if key in obj.attrs:
        return as_string_list(obj.attrs[key])
    if f"{key}0" not in obj.attrs:
        return None
    names = []
    index = 0
    while f"{key}{index}" in obj.attrs:
        names.extend(as_string_list(obj.attrs[f"{key}{index}"]))
        index += 1
    return names


# --------------------------------------------------------------------------------------
# Legacy (model.save(".h5") / save_weights(".h5")): follow layer_names and weight_names
# --------------------------------------------------------------------------------------


def read_legacy(root):
    layer_names = read_name_list(root, "layer_names") or []
    extra = []
    if "top_level_model_weights" in root and "top_level_model_weights" not in layer_names:
        extra = ["top_level_model_weights"]
    layers = []
    for layer_name in layer_names + extra:
        if layer_name not in root:
            warn(f"{root.file.filename}: layer {layer_name!r} listed but has no group")
            continue
        group = root[layer_name]
        weight_names = read_name_list(group, "weight_names") or []
        weights = []
        for weight_name in weight_names:
            if weight_name not in group:
                warn(f"{root.file.filename}: {group.name}/{weight_name} listed but missing (truncated file?)")
                continue
            dataset = group[weight_name]
            weights.append(WeightRef(dataset, dataset.name))
        if weights:
            layers.append(Layer(layer_name, weights))
    return layers


# --------------------------------------------------------------------------------------
# .weights.h5 (also inside .keras and each shard): every …/vars group is a layer
# --------------------------------------------------------------------------------------


def read_weights_h5(files, config):
    """files: [(shard label or "", h5py.File)]; vars groups split across shards merge."""
    groups = {}  # vars group path -> {index: WeightRef}
    for shard, h5 in files:
        found = []

        def visit(name, obj, found=found):
            if isinstance(obj, h5py.Group) and name.split("/")[-1] == "vars":
                found.append(name)

        h5.visititems(visit)
        for name in found:
            components = name.split("/")[:-1]
            if any(c in SKIPPED_COMPONENTS for c in components):
                continue
            slots = groups.setdefault(name, {})
            for key, obj in h5[name].items():
                if not isinstance(obj, h5py.Dataset) or not key.isdigit():
                    continue
                index = int(key)
                if index in slots:
                    raise OracleError(f"{name}/{key} present in two shards")
                prefix = f"{shard}:" if shard else ""
                slots[index] = WeightRef(obj, prefix + obj.name)

    layers = {}
    for name, slots in groups.items():
        if not slots:
            continue
        indices = sorted(slots)
        if indices != list(range(len(indices))):
            warn(f"{name}: variable indices are not 0..n-1: {indices}")
        label = name[: -len("/vars")] if name.endswith("/vars") else "/"
        layers[label] = Layer(label, [slots[i] for i in indices])

    order = sorted(layers)
    if config is not None:
        config_order = layer_paths_from_config(config)
        if all(label in config_order for label in order):
            order.sort(key=config_order.index)
        else:
            missing = [label for label in order if label not in config_order]
            warn(f"config.json does not name {missing}; layers ordered by path instead")
    return [layers[label] for label in order]


def to_snake_case(name):
    """Keras' class-name -> attribute-path spelling: Conv2D -> conv2d,
    BatchNormalization -> batch_normalization, MaxPooling2D -> max_pooling2d."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)  # xBatch -> x_Batch
    name = re.sub(r"([a-z])([A-Z])", r"\1_\2", name)  # aB -> a_B
    return name.lower()


def layer_paths_from_config(config):
    """Model-order list of `.weights.h5` layer paths predicted from config.json: the
    container `layers`, each element named by its snake-cased class with _1, _2, …
    for repeats of a class; nested models recurse."""
    paths = []

    def walk(model_config, prefix):
        counters = {}
        for entry in model_config.get("layers") or []:
            base = to_snake_case(entry.get("class_name", ""))
            if base in counters:
                counters[base] += 1
                element = f"{base}_{counters[base]}"
            else:
                counters[base] = 0
                element = base
            path = f"{prefix}layers/{element}"
            paths.append(path)
            inner = entry.get("config") or {}
            if isinstance(inner, dict) and "layers" in inner:
                walk(inner, path + "/")

    walk(config.get("config") or {}, "")
    return paths


# --------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------


def widen(raw):
    """Stored values -> float64 (bfloat16: little-endian uint16 u -> float32 bits u<<16)."""
    if is_bfloat16(raw.dtype):
        bits = np.ascontiguousarray(raw).view("<u2").astype(np.uint32) << 16
        return bits.view(np.float32).astype(np.float64)
    return raw.astype(np.float64)


def bit_patterns(raw):
    """Stored bytes of each element as one unsigned integer (native byte order)."""
    raw = np.ascontiguousarray(raw)
    if raw.dtype.byteorder not in ("=", "|") and raw.dtype.kind != "V":
        raw = raw.astype(raw.dtype.newbyteorder("="))
    size = raw.dtype.itemsize
    if size not in (1, 2, 4, 8):
        raise OracleError(f"cannot compare {size}-byte elements")
    return raw.reshape(-1).view(f"u{size}")


def read_block(ref, start, stop):
    if ref.shape == ():
        return np.asarray(ref.dataset[()]).reshape(1)
    return np.asarray(ref.dataset[start:stop]).reshape(-1)


def row_blocks(shape):
    """(start, stop) row ranges along axis 0, about BLOCK_ELEMENTS elements each."""
    if shape == ():
        yield 0, 1
        return
    rows = shape[0]
    per_row = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
    if rows == 0 or per_row == 0:
        return
    step = max(1, BLOCK_ELEMENTS // per_row)
    for start in range(0, rows, step):
        yield start, min(rows, start + step)


# --------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------

SUM_FIELDS = ("count", "baseNaN", "baseInf", "tunedNaN", "tunedInf", "finiteCount", "changedCount",
              "sumBaseSq", "sumTunedSq", "sumDot", "sumDiffSq")


def empty_sums():
    sums = {field: 0 for field in SUM_FIELDS}
    for field in ("sumBaseSq", "sumTunedSq", "sumDot", "sumDiffSq"):
        sums[field] = 0.0
    sums["maxAbsChange"] = 0.0
    return sums


def accumulate_pair(base, tuned):
    """Streams one weight pair (same shape) block by block; returns raw sums."""
    sums = empty_sums()
    same_stored_type = base.dataset.dtype == tuned.dataset.dtype and base.dtype_name == tuned.dtype_name
    for start, stop in row_blocks(base.shape):
        raw_a = read_block(base, start, stop)
        raw_b = read_block(tuned, start, stop)
        a = widen(raw_a)
        b = widen(raw_b)
        if same_stored_type:
            changed = bit_patterns(raw_a) != bit_patterns(raw_b)
        else:
            changed = a.view(np.uint64) != b.view(np.uint64)
        sums["count"] += int(a.size)
        sums["changedCount"] += int(np.count_nonzero(changed))
        sums["baseNaN"] += int(np.count_nonzero(np.isnan(a)))
        sums["baseInf"] += int(np.count_nonzero(np.isinf(a)))
        sums["tunedNaN"] += int(np.count_nonzero(np.isnan(b)))
        sums["tunedInf"] += int(np.count_nonzero(np.isinf(b)))
        finite = np.isfinite(a) & np.isfinite(b)
        a = a[finite]
        b = b[finite]
        d = b - a
        sums["finiteCount"] += int(a.size)
        sums["sumBaseSq"] += float(np.sum(a * a))
        sums["sumTunedSq"] += float(np.sum(b * b))
        sums["sumDot"] += float(np.sum(a * b))
        sums["sumDiffSq"] += float(np.sum(d * d))
        if d.size:
            sums["maxAbsChange"] = max(sums["maxAbsChange"], float(np.max(np.abs(d))))
    return sums


def add_sums(total, sums):
    for field in SUM_FIELDS:
        total[field] += sums[field]
    total["maxAbsChange"] = max(total["maxAbsChange"], sums["maxAbsChange"])


def derive(sums):
    """Raw sums and counts -> the reported metric fields (same rules for weights and layers)."""
    n = sums["count"]
    finite = sums["finiteCount"]
    base_norm = math.sqrt(sums["sumBaseSq"])
    tuned_norm = math.sqrt(sums["sumTunedSq"])
    diff_norm = math.sqrt(sums["sumDiffSq"])
    rms_change = diff_norm / math.sqrt(finite) if finite > 0 else 0.0
    if finite == 0 or base_norm / math.sqrt(finite) < NEAR_ZERO_RMS:
        relative, relative_to = rms_change, "rms"
    else:
        relative, relative_to = diff_norm / base_norm, "norm"
    if base_norm == 0.0 or tuned_norm == 0.0:
        cosine = None
        angle = None
    else:
        # No difference at all is a cosine of exactly 1 (the quotient rounds to 0.9999999999999998).
        cosine = 1.0 if sums["sumDiffSq"] == 0 else min(1.0, max(-1.0, sums["sumDot"] / (base_norm * tuned_norm)))
        angle = math.degrees(math.acos(cosine)) if math.isfinite(cosine) else None
    metrics = dict(sums)
    if finite == 0:
        # No element finite in both files: every drift figure is undefined (null), never 0.
        metrics.update(changedFraction=sums["changedCount"] / n if n > 0 else 0.0, frozen=sums["changedCount"] == 0,
                       baseNorm=None, tunedNorm=None, diffNorm=None, rmsChange=None, relativeChange=None,
                       relativeTo=None, normRatio=None, cosine=None, angleDegrees=None, maxAbsChange=None)
        return metrics
    metrics.update(
        changedFraction=sums["changedCount"] / n if n > 0 else 0.0,
        frozen=sums["changedCount"] == 0,
        baseNorm=base_norm,
        tunedNorm=tuned_norm,
        diffNorm=diff_norm,
        rmsChange=rms_change,
        relativeChange=relative,
        relativeTo=relative_to,
        normRatio=tuned_norm / base_norm if base_norm != 0.0 else None,
        cosine=cosine,
        angleDegrees=angle,
    )
    return metrics


# --------------------------------------------------------------------------------------
# Pairing and the report
# --------------------------------------------------------------------------------------


def layer_shapes(checkpoint):
    return [[w.shape for w in layer.weights] for layer in checkpoint.layers]


def paired_entry(base, tuned):
    sums = accumulate_pair(base, tuned)
    entry = derive(sums)
    entry.update(status="paired", basePath=base.path, tunedPath=tuned.path, shape=list(base.shape),
                 baseDtype=base.dtype_name, tunedDtype=tuned.dtype_name)
    return entry, sums


def unpaired_entry(status, base, tuned):
    return {
        "status": status,
        "basePath": base.path if base else None,
        "tunedPath": tuned.path if tuned else None,
        "baseShape": list(base.shape) if base else None,
        "tunedShape": list(tuned.shape) if tuned else None,
        "baseDtype": base.dtype_name if base else None,
        "tunedDtype": tuned.dtype_name if tuned else None,
    }


def layer_entry(name, tuned_name, base_weights, tuned_weights):
    """Pairs weights by index within one layer pair (either side may be empty)."""
    total = empty_sums()
    entries = []
    paired = 0
    for index in range(max(len(base_weights), len(tuned_weights))):
        base = base_weights[index] if index < len(base_weights) else None
        tuned = tuned_weights[index] if index < len(tuned_weights) else None
        if base is None:
            entries.append(unpaired_entry("new", None, tuned))
        elif tuned is None:
            entries.append(unpaired_entry("removed", base, None))
        elif base.shape != tuned.shape:
            entries.append(unpaired_entry("reshaped", base, tuned))
        else:
            entry, sums = paired_entry(base, tuned)
            add_sums(total, sums)
            entries.append(entry)
            paired += 1
    layer = {"name": name, "tunedName": tuned_name, "weights": entries}
    if name is None:
        layer["status"] = "new"
    elif tuned_name is None:
        layer["status"] = "removed"
    else:
        layer["status"] = "paired"
    if paired:
        layer.update(derive(total))
    return layer


def compare(base_path, tuned_path):
    with open_checkpoint(base_path) as base, open_checkpoint(tuned_path) as tuned:
        for path, checkpoint in ((base_path, base), (tuned_path, tuned)):
            if not checkpoint.layers:
                raise OracleError(f"{path}: no model weights found (not a Keras checkpoint?)")
        if layer_shapes(base) == layer_shapes(tuned):
            matching = "position"
            layers = [layer_entry(b.label, t.label, b.weights, t.weights)
                      for b, t in zip(base.layers, tuned.layers)]
        else:
            matching = "name"
            tuned_by_label = {layer.label: layer for layer in tuned.layers}
            base_labels = {layer.label for layer in base.layers}
            layers = []
            for b in base.layers:
                t = tuned_by_label.get(b.label)
                layers.append(layer_entry(b.label, t.label if t else None, b.weights, t.weights if t else []))
            for t in tuned.layers:
                if t.label not in base_labels:
                    layers.append(layer_entry(None, t.label, [], t.weights))
    return {"matching": matching, "layers": layers}


def json_safe(value):
    """Replaces non-finite floats by None so the JSON never contains NaN/Infinity."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    return value


def dump(document):
    return json.dumps(json_safe(document), sort_keys=True, indent=1, allow_nan=False) + "\n"


def read_pairs_file(path):
    pairs = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            fields = line.split()
            if len(fields) != 2:
                raise OracleError(f"{path}:{number}: expected 'BASE TUNED', got {line!r}")
            pairs.append((fields[0], fields[1]))
    return pairs


def main(argv=None):
    parser = argparse.ArgumentParser(description="float64 weight-drift oracle (h5py + numpy)")
    parser.add_argument("base", nargs="?", help="base checkpoint")
    parser.add_argument("tuned", nargs="?", help="fine-tuned checkpoint")
    parser.add_argument("--pairs", help="file of 'BASE TUNED' lines ('#' comments)")
    parser.add_argument("--root", default=".", help="folder the --pairs paths are relative to")
    parser.add_argument("--out", help="write the JSON here instead of stdout")
    args = parser.parse_args(argv)
    if args.pairs is not None and args.base is not None:
        parser.error("give either BASE TUNED or --pairs FILE, not both")
    if args.pairs is None and (args.base is None or args.tuned is None):
        parser.error("give BASE and TUNED, or --pairs FILE")

    try:
        if args.pairs:
            results = []
            for base, tuned in read_pairs_file(args.pairs):
                result = compare(os.path.join(args.root, base), os.path.join(args.root, tuned))
                results.append({"base": base, "tuned": tuned, **result})
            document = {"pairs": results}
        else:
            document = {"base": args.base, "tuned": args.tuned, **compare(args.base, args.tuned)}
    except (OracleError, OSError, KeyError, ValueError) as error:
        print(f"reference_drift: error: {error}", file=sys.stderr)
        return 2

    text = dump(document)
    if args.out:
        folder = os.path.dirname(args.out)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
