"""weightdrift.compare / weightdrift.inspect on the real sample checkpoints, through the binary
the wheel installed. Figures are checked against the float64 oracle (samples/expected/oracle.json,
tools/reference_drift.py: h5py + numpy) and the generator's manifest, never against constants."""

import copy
import json
import math

import pytest

import weightdrift
from conftest import ROOT, SAMPLES, run
from weightdrift import CompareReport, SchemaError, WeightDriftError

BASE = SAMPLES / "k3" / "pretrained.keras"


def close(a, b, rel=1e-9):
    return a is not None and b is not None and math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def test_figures_equal_the_oracle_on_every_recorded_pair(oracle):
    # the oracle recorded every pair of its list, and only those
    listed = [line.split() for line in (ROOT / "tools" / "oracle_pairs.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert listed and all(len(words) == 2 for words in listed)
    assert sorted([pair["base"], pair["tuned"]] for pair in oracle["pairs"]) == sorted(listed)
    for pair in oracle["pairs"]:
        report = weightdrift.compare(SAMPLES / pair["base"], SAMPLES / pair["tuned"], hash=False)
        assert isinstance(report, CompareReport)
        assert report.passed == (report.exit_code == 0)
        ours = {(w.base_path, w.tuned_path): w for layer in report.layers for w in layer.weights}
        checked = 0
        for layer in pair["layers"]:
            for expected in layer["weights"]:
                if expected["status"] != "paired":
                    continue
                got = ours[(expected["basePath"], expected["tunedPath"])]
                what = (pair["tuned"], expected["tunedPath"])
                for mine, theirs in (("relative_change", "relativeChange"), ("cosine", "cosine"),
                                     ("max_abs_change", "maxAbsChange"), ("rms_change", "rmsChange"),
                                     ("base_norm", "baseNorm"), ("tuned_norm", "tunedNorm")):
                    want = expected[theirs]
                    if want is None or not math.isfinite(want):
                        assert getattr(got, mine) is None, (what, mine)
                    else:
                        assert close(getattr(got, mine), want), (what, mine, getattr(got, mine), want)
                assert got.nan_count == expected["tunedNaN"], what
                checked += 1
        assert checked > 0, pair


def test_gate_result_is_a_value():
    low = weightdrift.compare(BASE, SAMPLES / "k3" / "ft_lowlr.keras")
    high = weightdrift.compare(BASE, SAMPLES / "k3" / "ft_highlr.keras", hash=True)
    assert (low.passed, low.exit_code, low.verdict) == (True, 0, "pass")
    assert (high.passed, high.exit_code, high.verdict) == (False, 1, "fail")
    failing = [layer.name for layer in high.layers if layer.fails_gate]
    assert len(high.failures) == len(failing) and high.failures == tuple(high.raw["summary"]["failures"])
    assert all(any(f.startswith(name + ":") for f in high.failures) for name in failing)
    assert high.failures and not low.failures
    assert high.max_relative_change == max(layer["relativeChange"] for layer in high.raw["layers"]
                                           if layer["relativeChange"] is not None)
    assert high.forgetting.risk == high.raw["forgetting"]["risk"] == "high"
    assert high.forgetting.score == high.raw["forgetting"]["score"]
    assert len(high.base.sha256) == 64 and high.base.format == "keras-zip"
    assert high.raw["schemaVersion"] == 1


def test_nan_weights_fail_the_gate_not_raise(manifest):
    report = weightdrift.compare(BASE, SAMPLES / "k3" / "ft_nan.keras")
    assert manifest["runs"]["k3_ft_nan"]["weightsHaveNaN"] is True
    assert not report.passed and report.nan_count > 0
    health = weightdrift.inspect(SAMPLES / "k3" / "ft_nan.keras", stats=True)
    assert (health.healthy, health.exit_code) == (False, 1)
    assert weightdrift.inspect(BASE, stats=True).healthy


def test_gate_options_reach_the_tool(tmp_path):
    tuned = SAMPLES / "k3" / "ft_highlr.keras"
    loose = weightdrift.compare(BASE, tuned, fail_relative_change=10, fail_cosine=-1, warn_relative_change=5,
                                warn_cosine=-1)
    assert loose.passed and loose.raw["thresholds"]["fail"]["relativeChange"] == 10
    risky = weightdrift.compare(BASE, tuned, fail_relative_change=10, fail_cosine=-1, fail_on_risk="high")
    assert not risky.passed
    low = SAMPLES / "k3" / "ft_lowlr.keras"
    assert not weightdrift.compare(BASE, low, fail_on_warn=True).passed
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nrules:\n  - match: \"conv2d*\"\n    frozen: true\n")
    frozen = weightdrift.compare(BASE, low, policy=policy)
    assert not frozen.passed and frozen.layer("conv2d").fails_gate and frozen.layer("conv2d").status == "fail"
    head = weightdrift.compare(BASE, low, head=["dense_1"])
    assert "dense_1" in head.forgetting.head_layers


def test_bad_input_raises_with_exit_code_and_line(tmp_path):
    missing = tmp_path / "missing.keras"
    with pytest.raises(WeightDriftError) as caught:
        weightdrift.compare(BASE, missing)
    assert caught.value.exit_code == 2 and str(missing) in caught.value.message
    assert "\n" not in caught.value.message
    bad = SAMPLES / "bad" / "not_keras.h5"
    with pytest.raises(WeightDriftError) as caught:
        weightdrift.inspect(bad)
    assert caught.value.exit_code == 2 and str(bad) in caught.value.message
    with pytest.raises(WeightDriftError) as caught:  # a usage error is exit 2 as well
        weightdrift.compare(BASE, BASE, fail_relative_change=-1)
    assert caught.value.exit_code == 2 and "--fail-relative-change" in caught.value.message
    with pytest.raises(TypeError):
        weightdrift.compare(BASE, BASE, fail_relativ_change=0.1)
    # A path that looks like a flag is still a path.
    with pytest.raises(WeightDriftError) as caught:
        weightdrift.inspect("--stats")
    assert caught.value.exit_code == 2 and "--stats" in caught.value.message


def test_inspect_matches_the_manifest(manifest):
    for name in ("k3/pretrained.keras", "k3/pretrained.h5", "tfk/pretrained.h5", "k3/pretrained.weights.h5"):
        expected = manifest["files"][name]
        report = weightdrift.inspect(SAMPLES / name)
        assert report.format == expected["format"]
        want_layers = expected["layers"]
        if report.layer_order == "path":  # a bare .weights.h5 does not store model order
            want_layers = sorted(want_layers, key=lambda layer: layer["name"])
        # inspect lists weightless layers too (Flatten, Dropout, …); the manifest lists those with weights
        weighted = [layer for layer in report.layers if layer.weights]
        assert [layer.name for layer in weighted] == [layer["name"] for layer in want_layers]
        for layer, want in zip(weighted, want_layers):
            assert [(w.name, list(w.shape), w.dtype) for w in layer.weights] == \
                   [(w["name"], w["shape"], w["dtype"]) for w in want["weights"]]


def test_schema_version_checked_and_added_fields_tolerated():
    proc = run(weightdrift.find_binary(), "compare", "--format", "json", BASE, SAMPLES / "k3" / "ft_lowlr.keras")
    data = json.loads(proc.stdout)
    newer = copy.deepcopy(data)
    newer["coverage"] = {"comparedParameters": 1}
    newer["summary"]["decision"] = {"reasons": []}
    newer["layers"][0]["somethingNew"] = 3
    report = CompareReport.from_json(newer, 0)
    assert report.raw["coverage"] == {"comparedParameters": 1} and report.passed
    for version in (2, None, "1"):
        changed = copy.deepcopy(data)
        changed["schemaVersion"] = version
        with pytest.raises(SchemaError):
            CompareReport.from_json(changed, 0)
    with pytest.raises(SchemaError):  # verdict and exit code must agree
        CompareReport.from_json(data, 1)
