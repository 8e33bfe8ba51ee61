"""Tests of the float64 oracle itself: tiny hand-built checkpoints whose answers are
known on paper. Run: python3 -m pytest -q tools/test_reference_drift.py"""

import io
import json
import math
import os
import re
import subprocess
import sys
import zipfile
from fractions import Fraction

import h5py
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_drift as oracle  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_drift.py")


# ----------------------------------------------------------------------------------------
# Builders for the three on-disk layouts
# ----------------------------------------------------------------------------------------


def write_weights_h5(target, layers, extra=None):
    """layers: {"layers/dense": [array, ...]} -> `.weights.h5` (vars/<i>) at target
    (a path or a file object). Adds an optimizer group that must be ignored."""
    with h5py.File(target, "w") as h5:
        for path, arrays in layers.items():
            group = h5.require_group(f"{path}/vars")
            for index, array in enumerate(arrays):
                group.create_dataset(str(index), data=array)
        optimizer = h5.require_group("optimizer/vars")
        optimizer.create_dataset("0", data=np.int64(7))
        optimizer.create_dataset("1", data=np.float32(0.001))
        h5.require_group("metrics/mean/vars").create_dataset("0", data=np.float32(3))
        h5.require_group("vars")  # the model's own (empty) variable list
        if extra:
            extra(h5)


def write_legacy(target, layers, full_model=True, chunk_names=False, fixed_strings=False):
    """layers: [(layer_name, [(weight_name, array), ...]), ...] in model order."""
    with h5py.File(target, "w") as h5:
        if full_model:
            h5.attrs["keras_version"] = "2.21.0"
            h5.attrs["model_config"] = b'{"class_name": "Sequential"}'
            root = h5.create_group("model_weights")
            opt = h5.create_group("optimizer_weights")
            opt.attrs["weight_names"] = [b"iteration:0", b"Adam/m/dense/kernel:0"]
            opt.create_dataset("iteration:0", data=np.int64(600))
            opt.create_dataset("Adam/m/dense/kernel:0", data=np.ones((2, 2), np.float32))
        else:
            root = h5
        names = [name.encode() for name, _ in layers]
        if chunk_names:
            half = (len(names) + 1) // 2
            root.attrs["layer_names0"] = np.array(names[:half])
            root.attrs["layer_names1"] = np.array(names[half:])
        elif fixed_strings:
            root.attrs["layer_names"] = np.array(names)  # S<n>, NULLPAD
        else:
            root.attrs["layer_names"] = names  # vlen
        for name, weights in sorted(layers, key=lambda item: item[0]):
            group = root.create_group(name)
            weight_names = [w.encode() for w, _ in weights]
            if not weight_names:
                group.attrs["weight_names"] = np.asarray([])  # float64, 0 elements
            elif fixed_strings:
                group.attrs["weight_names"] = np.array(weight_names)
            else:
                group.attrs["weight_names"] = weight_names
            for weight_name, array in weights:
                group.create_dataset(weight_name, data=array)


def keras_config(layer_classes):
    return {
        "module": "keras", "class_name": "Sequential", "registered_name": None,
        "config": {"name": "sequential", "layers": [
            {"module": "keras.layers", "class_name": "InputLayer", "config": {"name": "input_layer"}},
        ] + [
            {"module": "keras.layers", "class_name": cls, "config": {"name": name}}
            for cls, name in layer_classes
        ]},
    }


def write_keras(path, layers, config):
    buffer = io.BytesIO()
    write_weights_h5(buffer, layers)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", buffer.getvalue())


def one_weight(tmp_path, a, b, name="w"):
    """Compares single-weight .weights.h5 files; returns the weight entry."""
    base = tmp_path / f"{name}_base.weights.h5"
    tuned = tmp_path / f"{name}_tuned.weights.h5"
    write_weights_h5(base, {"layers/dense": [a]})
    write_weights_h5(tuned, {"layers/dense": [b]})
    result = oracle.compare(str(base), str(tuned))
    assert result["matching"] == "position"
    (layer,) = result["layers"]
    (weight,) = layer["weights"]
    return weight


def bf16(bits):
    """bfloat16 as h5py stores it: 2-byte opaque (numpy void 'V2')."""
    return np.asarray(bits, dtype="<u2").view("V2")


# ----------------------------------------------------------------------------------------
# Metrics known on paper
# ----------------------------------------------------------------------------------------


def test_identical_weights_are_frozen(tmp_path):
    w = one_weight(tmp_path, np.array([3, 4], np.float32), np.array([3, 4], np.float32))
    assert w["status"] == "paired"
    assert w["frozen"] is True and w["changedCount"] == 0 and w["changedFraction"] == 0.0
    assert w["relativeChange"] == 0.0 and w["relativeTo"] == "norm"
    assert w["baseNorm"] == 5.0 and w["tunedNorm"] == 5.0 and w["diffNorm"] == 0.0
    assert w["cosine"] == 1.0 and w["angleDegrees"] == 0.0 and w["normRatio"] == 1.0
    assert w["count"] == 2 and w["finiteCount"] == 2 and w["maxAbsChange"] == 0.0
    assert w["baseDtype"] == "float32" and w["shape"] == [2]
    assert w["basePath"] == "/layers/dense/vars/0"


def test_orthogonal_weights(tmp_path):
    w = one_weight(tmp_path, np.array([1, 0], np.float64), np.array([0, 1], np.float64))
    assert w["cosine"] == 0.0 and w["angleDegrees"] == 90.0
    assert w["diffNorm"] == pytest.approx(math.sqrt(2), rel=1e-15)
    assert w["relativeChange"] == pytest.approx(math.sqrt(2), rel=1e-15)
    assert w["rmsChange"] == pytest.approx(1.0, rel=1e-15)
    assert w["normRatio"] == 1.0 and w["maxAbsChange"] == 1.0
    assert w["changedCount"] == 2 and w["changedFraction"] == 1.0 and w["frozen"] is False
    assert (w["sumBaseSq"], w["sumTunedSq"], w["sumDot"], w["sumDiffSq"]) == (1.0, 1.0, 0.0, 2.0)


def test_opposite_weights_clamp_cosine(tmp_path):
    w = one_weight(tmp_path, np.array([0.1, 0.2, 0.3]), -np.array([0.1, 0.2, 0.3]))
    assert w["cosine"] == -1.0 and w["angleDegrees"] == 180.0


def test_tiny_drift_on_large_values_is_not_cancelled(tmp_path):
    # Σa² + Σb² − 2Σab would cancel to ~0 here; d = b − a must be formed directly.
    n = 1000
    a = np.full(n, 1e3)
    b = a * (1 + 1e-7)
    w = one_weight(tmp_path, a, b)
    d = Fraction(float(b[0])) - Fraction(float(a[0]))  # every element has the same d
    exact = float(abs(d) / Fraction(float(a[0])))
    assert w["relativeTo"] == "norm"
    assert w["relativeChange"] == pytest.approx(exact, rel=1e-12)
    assert w["relativeChange"] == pytest.approx(1e-7, rel=1e-8)
    assert w["diffNorm"] == pytest.approx(float(abs(d)) * math.sqrt(n), rel=1e-12)
    assert w["cosine"] == pytest.approx(1.0, rel=1e-15) and w["changedCount"] == n


def test_zero_base_is_relative_to_rms(tmp_path):
    w = one_weight(tmp_path, np.zeros(4, np.float32), np.array([0.5, -0.5, 0.5, -0.5], np.float32))
    assert w["relativeTo"] == "rms"
    assert w["relativeChange"] == 0.5 and w["rmsChange"] == 0.5
    assert w["baseNorm"] == 0.0
    assert w["normRatio"] is None and w["cosine"] is None and w["angleDegrees"] is None


def test_near_zero_base_is_relative_to_rms(tmp_path):
    w = one_weight(tmp_path, np.full(4, 1e-9), np.full(4, 2e-9))
    assert w["relativeTo"] == "rms"  # rms of base 1e-9 < 1e-8
    assert w["relativeChange"] == pytest.approx(1e-9, rel=1e-12)
    assert w["normRatio"] == pytest.approx(2.0, rel=1e-12)  # still reported
    assert w["cosine"] == pytest.approx(1.0, rel=1e-15)
    w = one_weight(tmp_path, np.full(4, 1e-7), np.full(4, 2e-7), name="above")
    assert w["relativeTo"] == "norm" and w["relativeChange"] == pytest.approx(1.0, rel=1e-12)


def test_non_finite_values_are_counted_and_excluded(tmp_path):
    a = np.array([1, 2, 3, 4, -np.inf], np.float32)
    b = np.array([1, np.nan, np.inf, 5, -np.inf], np.float32)
    w = one_weight(tmp_path, a, b)
    assert (w["count"], w["finiteCount"]) == (5, 2)
    assert (w["baseNaN"], w["baseInf"], w["tunedNaN"], w["tunedInf"]) == (0, 1, 1, 2)
    assert w["sumBaseSq"] == 17.0 and w["sumTunedSq"] == 26.0 and w["sumDot"] == 21.0
    assert w["sumDiffSq"] == 1.0 and w["maxAbsChange"] == 1.0
    assert w["changedCount"] == 3  # 2→NaN, 3→Inf, 4→5; -Inf stayed -Inf bit for bit
    assert w["changedFraction"] == pytest.approx(0.6)


def test_all_nan_gives_nulls(tmp_path):
    # Nothing finite in both files: no figure can be computed, so every one is null (never 0,
    # which would read as "unchanged").
    w = one_weight(tmp_path, np.array([1, 2], np.float32), np.full(2, np.nan, np.float32))
    assert w["finiteCount"] == 0 and w["tunedNaN"] == 2 and w["changedFraction"] == 1.0
    for key in ("relativeTo", "relativeChange", "rmsChange", "maxAbsChange", "cosine", "normRatio",
                "baseNorm", "tunedNorm", "diffNorm", "angleDegrees"):
        assert w[key] is None, key


def test_identical_nan_is_unchanged_but_different_payload_is_changed(tmp_path):
    nan_bits = np.array([0x7FC00000, 0x7FC00001], np.uint32)
    a = np.array([0x7FC00000, 0x7FC00000], np.uint32).view(np.float32)
    w = one_weight(tmp_path, a, nan_bits.view(np.float32))
    assert w["changedCount"] == 1 and w["baseNaN"] == 2 and w["tunedNaN"] == 2


def test_signed_zero_is_a_bit_change_without_drift(tmp_path):
    w = one_weight(tmp_path, np.array([0.0, 1.0], np.float32), np.array([-0.0, 1.0], np.float32))
    assert w["changedCount"] == 1 and w["frozen"] is False
    assert w["diffNorm"] == 0.0 and w["relativeChange"] == 0.0


def test_float16_values(tmp_path):
    a = np.array([0.5, 1.5, 65504.0], np.float16)
    b = np.array([0.5, 2.0, -65504.0], np.float16)
    w = one_weight(tmp_path, a, b)
    assert w["baseDtype"] == "float16" and w["tunedDtype"] == "float16"
    assert w["sumBaseSq"] == 0.25 + 2.25 + 65504.0 ** 2
    assert w["sumDiffSq"] == 0.25 + (2 * 65504.0) ** 2  # no float16 overflow: widened first
    assert w["maxAbsChange"] == 131008.0 and w["changedCount"] == 2


def test_bfloat16_decoding(tmp_path):
    # 0x3F80 = 1.0, 0x4000 = 2.0, 0xC040 = -3.0, 0x3FC0 = 1.5, 0x8000 = -0.0, 0x0000 = 0.0
    a = bf16([0x3F80, 0x4000, 0x0000])
    b = bf16([0xC040, 0x3FC0, 0x8000])

    def mark(h5):
        h5["layers/dense/vars/0"].attrs["dtype"] = "bfloat16"

    base, tuned = tmp_path / "a.weights.h5", tmp_path / "b.weights.h5"
    write_weights_h5(base, {"layers/dense": [a]}, extra=mark)
    write_weights_h5(tuned, {"layers/dense": [b]}, extra=mark)
    with h5py.File(base, "r") as h5:
        assert h5["layers/dense/vars/0"].dtype == np.dtype("V2")
    (w,) = oracle.compare(str(base), str(tuned))["layers"][0]["weights"]
    assert w["baseDtype"] == "bfloat16" and w["tunedDtype"] == "bfloat16"
    assert w["sumBaseSq"] == 5.0 and w["sumTunedSq"] == 11.25 and w["sumDot"] == 0.0
    assert w["cosine"] == 0.0 and w["angleDegrees"] == 90.0
    assert w["maxAbsChange"] == 4.0 and w["changedCount"] == 3  # 0.0 → -0.0 counts
    assert w["sumDiffSq"] == 16.0 + 0.25


def test_widen_bfloat16_matches_float32_bits():
    values = np.array([1.0, -2.5, 3.140625, 1e38, -1e-38, np.inf], np.float32)
    bits = (values.view(np.uint32) >> 16).astype("<u2")
    widened = oracle.widen(bits.view("V2"))
    truncated = (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    assert np.array_equal(widened, truncated)
    assert widened[0] == 1.0 and widened[1] == -2.5 and widened[2] == 3.140625


def test_layer_aggregate_sums_weights_together(tmp_path):
    base, tuned = tmp_path / "a.weights.h5", tmp_path / "b.weights.h5"
    write_weights_h5(base, {"layers/dense": [np.array([3, 4], np.float32), np.zeros(2, np.float32)]})
    write_weights_h5(tuned, {"layers/dense": [np.array([3, 4], np.float32), np.array([1, 0], np.float32)]})
    (layer,) = oracle.compare(str(base), str(tuned))["layers"]
    assert layer["name"] == "layers/dense" and layer["tunedName"] == "layers/dense"
    kernel, bias = layer["weights"]
    assert kernel["frozen"] is True and bias["relativeTo"] == "rms"
    assert bias["relativeChange"] == pytest.approx(math.sqrt(0.5), rel=1e-15)
    assert layer["count"] == 4 and layer["changedCount"] == 1 and layer["changedFraction"] == 0.25
    assert layer["sumBaseSq"] == 25.0 and layer["sumDiffSq"] == 1.0 and layer["maxAbsChange"] == 1.0
    assert layer["relativeTo"] == "norm" and layer["relativeChange"] == pytest.approx(0.2, rel=1e-15)
    assert layer["frozen"] is False
    assert layer["cosine"] == pytest.approx(25 / (5 * math.sqrt(26)), rel=1e-15)


def test_blocked_streaming_matches_whole_tensor(tmp_path, monkeypatch):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((37, 5, 3)).astype(np.float32)
    b = (a + 0.01 * rng.standard_normal(a.shape)).astype(np.float32)
    b[4, 2, 1] = np.nan
    whole = one_weight(tmp_path, a, b, name="whole")
    monkeypatch.setattr(oracle, "BLOCK_ELEMENTS", 16)  # one row of 15 elements per block
    assert list(oracle.row_blocks((37, 5, 3)))[:2] == [(0, 1), (1, 2)]
    blocked = one_weight(tmp_path, a, b, name="blocked")
    for key in ("count", "finiteCount", "changedCount", "tunedNaN", "maxAbsChange"):
        assert blocked[key] == whole[key]
    for key in ("sumBaseSq", "sumTunedSq", "sumDot", "sumDiffSq", "relativeChange", "cosine"):
        assert blocked[key] == pytest.approx(whole[key], rel=1e-12)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    keep = np.isfinite(b64)
    assert whole["sumDiffSq"] == pytest.approx(float(np.sum((b64 - a64)[keep] ** 2)), rel=1e-12)


def test_scalar_weights(tmp_path):
    w = one_weight(tmp_path, np.float32(2.0), np.float32(3.0))
    assert w["shape"] == [] and w["count"] == 1 and w["relativeChange"] == 0.5


# ----------------------------------------------------------------------------------------
# Layouts
# ----------------------------------------------------------------------------------------


def test_weights_h5_vars_sorted_numerically_and_optimizer_skipped(tmp_path):
    path = tmp_path / "many.weights.h5"
    write_weights_h5(path, {
        "layers/custom": [np.zeros(i + 1, np.float32) for i in range(12)],
        "layers/sequential/layers/dense": [np.ones((2, 3), np.float32)],
        "layers/dropout": [],
    })
    with oracle.open_checkpoint(str(path)) as checkpoint:
        labels = [layer.label for layer in checkpoint.layers]
        assert labels == ["layers/custom", "layers/sequential/layers/dense"]
        assert [w.shape for w in checkpoint.layers[0].weights] == [(i + 1,) for i in range(12)]
        assert checkpoint.layers[0].weights[10].path == "/layers/custom/vars/10"


def test_tf_keras_213_layer_checkpoint_dependencies(tmp_path):
    path = tmp_path / "old.weights.h5"
    write_weights_h5(path, {"_layer_checkpoint_dependencies/conv2d": [np.ones(3, np.float32)],
                            "_layer_checkpoint_dependencies/conv2d_2": [np.ones(2, np.float32)]})
    with oracle.open_checkpoint(str(path)) as checkpoint:
        assert [l.label for l in checkpoint.layers] == [
            "_layer_checkpoint_dependencies/conv2d", "_layer_checkpoint_dependencies/conv2d_2"]


@pytest.mark.parametrize("full_model", [True, False])
@pytest.mark.parametrize("strings", ["vlen", "fixed", "chunked"])
def test_legacy_follows_layer_and_weight_names(tmp_path, full_model, strings):
    layers = [
        ("dense_1", [("dense_1/kernel:0", np.ones((2, 2), np.float32)),
                     ("dense_1/bias:0", np.zeros(2, np.float32))]),
        ("dropout", []),
        ("dense", [("dense/kernel:0", np.full((2, 1), 2.0, np.float32))]),
    ]
    path = tmp_path / "legacy.h5"
    write_legacy(path, layers, full_model=full_model, chunk_names=strings == "chunked",
                 fixed_strings=strings == "fixed")
    prefix = "/model_weights" if full_model else ""
    with oracle.open_checkpoint(str(path)) as checkpoint:
        assert [l.label for l in checkpoint.layers] == ["dense_1", "dense"]  # layer_names order
        assert [w.path for w in checkpoint.layers[0].weights] == [
            f"{prefix}/dense_1/dense_1/kernel:0", f"{prefix}/dense_1/dense_1/bias:0"]  # not alphabetical
        assert checkpoint.layers[1].weights[0].shape == (2, 1)


def test_legacy_truncated_file_skips_missing_dataset(tmp_path, capsys):
    path = tmp_path / "truncated.h5"
    write_legacy(path, [("dense", [("dense/kernel:0", np.ones(2, np.float32))])])
    with h5py.File(path, "a") as h5:
        h5["model_weights/dense"].attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
    with oracle.open_checkpoint(str(path)) as checkpoint:
        assert [w.path for w in checkpoint.layers[0].weights] == ["/model_weights/dense/dense/kernel:0"]
    assert "missing" in capsys.readouterr().err


def test_keras_zip_uses_config_order_and_pairs_with_legacy(tmp_path):
    kernel = np.arange(6, dtype=np.float32).reshape(2, 3)
    gamma = np.ones(3, np.float32)
    # Model order dense → batch_normalization → dense_1; path order would put BN first.
    keras_path = tmp_path / "m.keras"
    write_keras(keras_path,
                {"layers/dense": [kernel, np.zeros(3, np.float32)],
                 "layers/batch_normalization": [gamma, gamma * 0],
                 "layers/dense_1": [np.ones((3, 1), np.float32)]},
                keras_config([("Dense", "d0"), ("BatchNormalization", "bn"), ("Dense", "d1")]))
    with oracle.open_checkpoint(str(keras_path)) as checkpoint:
        assert [l.label for l in checkpoint.layers] == ["layers/dense", "layers/batch_normalization",
                                                         "layers/dense_1"]
    legacy_path = tmp_path / "m.h5"
    write_legacy(legacy_path, [
        ("d0", [("d0/kernel:0", kernel + 1), ("d0/bias:0", np.zeros(3, np.float32))]),
        ("bn", [("bn/gamma:0", gamma), ("bn/beta:0", gamma * 0)]),
        ("d1", [("d1/kernel:0", np.ones((3, 1), np.float32))]),
    ])
    result = oracle.compare(str(keras_path), str(legacy_path))
    assert result["matching"] == "position"
    assert [(l["name"], l["tunedName"]) for l in result["layers"]] == [
        ("layers/dense", "d0"), ("layers/batch_normalization", "bn"), ("layers/dense_1", "d1")]
    dense = result["layers"][0]
    assert dense["weights"][0]["tunedPath"] == "/model_weights/d0/d0/kernel:0"
    assert dense["weights"][0]["maxAbsChange"] == 1.0 and dense["weights"][1]["frozen"] is True
    assert result["layers"][1]["frozen"] is True


def test_snake_case_and_config_paths():
    assert oracle.to_snake_case("Conv2D") == "conv2d"
    assert oracle.to_snake_case("BatchNormalization") == "batch_normalization"
    assert oracle.to_snake_case("MaxPooling2D") == "max_pooling2d"
    assert oracle.to_snake_case("LSTM") == "lstm"
    config = keras_config([("Dense", "a"), ("Dense", "b")])
    config["config"]["layers"].append({"class_name": "Sequential", "config": {"name": "inner", "layers": [
        {"class_name": "Dense", "config": {"name": "c"}}]}})
    assert oracle.layer_paths_from_config(config) == [
        "layers/input_layer", "layers/dense", "layers/dense_1", "layers/sequential",
        "layers/sequential/layers/dense"]


def write_sharded(folder, stem, layers, shard_of):
    """Splits each layer's vars over shards: shard_of(path, index) -> shard number."""
    shards = {}
    weight_map = {}
    for path, arrays in layers.items():
        for index, array in enumerate(arrays):
            number = shard_of(path, index)
            name = f"{stem}_{number:05d}.weights.h5"
            shards.setdefault(name, []).append((f"{path}/vars/{index}", array))
            files = weight_map.setdefault(f"/{path}/vars", [])
            if name not in files:
                files.append(name)
    for name, entries in shards.items():
        with h5py.File(folder / name, "w") as h5:
            for dataset_path, array in entries:
                h5.create_dataset(dataset_path, data=array)
    index_path = folder / f"{stem}.weights.json"
    index_path.write_text(json.dumps({"metadata": {"total_size": 1.0}, "weight_map": weight_map}, indent=4))
    return index_path


def test_sharded_union_with_split_group(tmp_path):
    layers = {"layers/conv2d": [np.ones((2, 2), np.float32), np.zeros(2, np.float32)],
              "layers/dense": [np.full(3, 2.0, np.float32)]}
    index = write_sharded(tmp_path, "x", layers, lambda path, i: 0 if (path, i) == ("layers/conv2d", 0) else 1)
    single = tmp_path / "single.weights.h5"
    write_weights_h5(single, {"layers/conv2d": [np.ones((2, 2), np.float32), np.ones(2, np.float32)],
                              "layers/dense": [np.full(3, 2.0, np.float32)]})
    with oracle.open_checkpoint(str(index)) as checkpoint:
        assert [[w.path for w in l.weights] for l in checkpoint.layers] == [
            ["x_00000.weights.h5:/layers/conv2d/vars/0", "x_00001.weights.h5:/layers/conv2d/vars/1"],
            ["x_00001.weights.h5:/layers/dense/vars/0"]]
    result = oracle.compare(str(index), str(single))
    assert result["matching"] == "position"
    assert result["layers"][0]["weights"][1]["sumDiffSq"] == 2.0
    assert result["layers"][1]["frozen"] is True


@pytest.mark.parametrize("bad", ["../evil.weights.h5", "/tmp/evil.weights.h5", "sub/evil.weights.h5"])
def test_sharded_refuses_paths_outside_folder(tmp_path, bad):
    index = tmp_path / "y.weights.json"
    index.write_text(json.dumps({"metadata": {"total_size": 1}, "weight_map": {"/layers/dense/vars": [bad]}}))
    with pytest.raises(oracle.OracleError, match="refusing"):
        oracle.open_checkpoint(str(index))


def test_name_pairing_reports_new_removed_reshaped(tmp_path):
    base, tuned = tmp_path / "a.weights.h5", tmp_path / "b.weights.h5"
    write_weights_h5(base, {"layers/dense": [np.ones((2, 2), np.float32), np.zeros(2, np.float32)],
                            "layers/dense_1": [np.ones(4, np.float32)],
                            "layers/old": [np.ones(1, np.float32)]})
    write_weights_h5(tuned, {"layers/dense": [np.ones((2, 2), np.float32), np.zeros(3, np.float32),
                                              np.zeros(1, np.float32)],
                             "layers/dense_1": [np.ones(4, np.float32)],
                             "layers/fresh": [np.ones(1, np.float32)]})
    result = oracle.compare(str(base), str(tuned))
    assert result["matching"] == "name"
    by_name = {(l["name"], l["tunedName"]): l for l in result["layers"]}
    dense = by_name[("layers/dense", "layers/dense")]
    assert [w["status"] for w in dense["weights"]] == ["paired", "reshaped", "new"]
    assert dense["count"] == 4 and dense["frozen"] is True  # aggregate over paired weights only
    assert dense["weights"][1]["baseShape"] == [2] and dense["weights"][1]["tunedShape"] == [3]
    assert by_name[("layers/dense_1", "layers/dense_1")]["frozen"] is True
    old = by_name[("layers/old", None)]
    assert old["status"] == "removed" and old["weights"][0]["status"] == "removed" and "count" not in old
    fresh = by_name[(None, "layers/fresh")]
    assert fresh["status"] == "new" and fresh["weights"][0]["status"] == "new"


# ----------------------------------------------------------------------------------------
# Command line and JSON
# ----------------------------------------------------------------------------------------


def strict_json(text):
    def refuse(token):
        raise AssertionError(f"non-JSON number {token}")
    return json.loads(text, parse_constant=refuse)


def test_cli_single_pair_prints_strict_sorted_json(tmp_path):
    base, tuned = tmp_path / "a.weights.h5", tmp_path / "b.weights.h5"
    write_weights_h5(base, {"layers/dense": [np.array([1e308, 1, 0], np.float64)]})
    write_weights_h5(tuned, {"layers/dense": [np.array([-1e308, np.nan, 0], np.float64)]})
    run = subprocess.run([sys.executable, SCRIPT, str(base), str(tuned)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert not re.search(r"\b(NaN|-?Infinity)\b", run.stdout)
    document = strict_json(run.stdout)
    assert document["base"] == str(base) and document["matching"] == "position"
    weight = document["layers"][0]["weights"][0]
    # Σa² overflows to +inf in float64: written as null, never as a token.
    assert weight["sumBaseSq"] is None and weight["tunedNaN"] == 1
    assert run.stdout == json.dumps(document, sort_keys=True, indent=1) + "\n"


def test_cli_pairs_file_is_deterministic(tmp_path):
    root = tmp_path / "root"
    (root / "k").mkdir(parents=True)
    write_weights_h5(root / "k" / "a.weights.h5", {"layers/dense": [np.ones(3, np.float32)]})
    write_weights_h5(root / "k" / "b.weights.h5", {"layers/dense": [np.full(3, 1.5, np.float32)]})
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("# comment line\n\nk/a.weights.h5 k/b.weights.h5  # trailing comment\n"
                     "k/b.weights.h5 k/b.weights.h5\n")
    outputs = []
    for attempt in range(2):
        out = tmp_path / f"out{attempt}" / "oracle.json"
        assert oracle.main(["--pairs", str(pairs), "--root", str(root), "--out", str(out)]) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    document = strict_json(outputs[0].decode())
    assert list(document) == ["pairs"]
    first, second = document["pairs"]
    assert (first["base"], first["tuned"]) == ("k/a.weights.h5", "k/b.weights.h5")
    assert first["layers"][0]["relativeChange"] == pytest.approx(0.5, rel=1e-15)
    assert second["layers"][0]["frozen"] is True


def test_cli_error_exit_code(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a checkpoint")
    run = subprocess.run([sys.executable, SCRIPT, str(junk), str(junk)], capture_output=True, text=True)
    assert run.returncode == 2 and "error" in run.stderr and run.stdout == ""


def test_hdf5_without_keras_weights_is_an_error(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("data", data=np.ones(3))
    with pytest.raises(oracle.OracleError, match="no model weights"):
        oracle.compare(str(path), str(path))


SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "samples")


@pytest.mark.parametrize("tuned", ["safetensors/ft_lowlr.safetensors", "safetensors/sharded/model.safetensors.index.json"])
def test_safetensors_export_gives_the_keras_pairs_sums(tuned):
    """The safetensors files written from the k3 pair (tools/make_safetensors_samples.py) hold
    the same values: every layer's sums equal those of the Keras .h5 pair."""
    keras = oracle.compare(os.path.join(SAMPLES, "k3/pretrained.h5"), os.path.join(SAMPLES, "k3/ft_lowlr.h5"))
    exported = oracle.compare(os.path.join(SAMPLES, "safetensors/pretrained.safetensors"), os.path.join(SAMPLES, tuned))
    by_name = {layer["name"]: layer for layer in exported["layers"]}
    assert len(keras["layers"]) == 5 and sorted(by_name) == sorted(layer["name"] for layer in keras["layers"])
    for layer in keras["layers"]:
        for field in oracle.SUM_FIELDS:
            assert by_name[layer["name"]][field] == pytest.approx(layer[field], rel=1e-12), (layer["name"], field)


def test_safetensors_layers_are_module_paths_in_natural_order():
    layers = oracle.safetensors_layers([os.path.join(SAMPLES, "safetensors/dtypes.safetensors")])
    assert [layer.label for layer in layers] == ["float", "int", "layers.2", "layers.9", "layers.10", "scalar"]
    dtypes = {weight.path: weight.dtype_name for layer in layers for weight in layer.weights}
    assert dtypes["float.bf16"] == "bfloat16" and dtypes["int.u64"] == "uint64"
