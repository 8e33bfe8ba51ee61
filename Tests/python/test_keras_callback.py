"""DriftMonitor in a real Keras 3 fine-tune (TensorFlow backend, no tf-keras): the sample CNN
pretrained on digits 0-4 is fine-tuned on digits 5-9 (scikit-learn's bundled data, CPU, seeded)
with a learning rate that moves it past the gate within a few epochs. Every expectation comes
from running the CLI on the very weight files the callback checked."""

import csv
import importlib.util
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from conftest import SAMPLES, run  # noqa: E402
from weightdrift.keras import LOG_KEYS, DriftMonitor  # noqa: E402

BASE = SAMPLES / "k3" / "pretrained.keras"
FAIL_AT = 0.16  # the gate's relative-change limit for these runs (the default is 0.20)
EPOCHS = 8


def new_task():
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    keep = digits.target >= 5
    return x[keep], digits.target[keep]


def fine_tune(callbacks, epochs=EPOCHS):
    keras.utils.set_random_seed(7)
    model = keras.models.load_model(BASE)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    x, y = new_task()
    history = model.fit(x, y, epochs=epochs, batch_size=64, verbose=0, callbacks=callbacks)
    return model, history


def cli(*args):
    proc = run("weightdrift", "compare", "--format", "json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_keras_3_without_tf_keras():
    assert keras.__version__.startswith("3.")
    assert keras.backend.backend() == "tensorflow"
    assert importlib.util.find_spec("tf_keras") is None


def test_stops_at_the_epoch_the_gate_fails_and_logs_the_cli_figures(tmp_path):
    kept = tmp_path / "checked"
    monitor = DriftMonitor(BASE, every=1, stop_on="fail", restore_best=True, checkpoint_dir=kept,
                           fail_relative_change=FAIL_AT)
    log = tmp_path / "log.csv"
    model, history = fine_tune([monitor, keras.callbacks.CSVLogger(str(log))])

    # What the CLI says about each checked epoch, on the files the callback saved.
    files = sorted(kept.glob("epoch_*.weights.h5"))
    verdicts = [cli(f"--fail-relative-change={FAIL_AT}", BASE, f) for f in files]
    first_fail = next(i for i, (code, _) in enumerate(verdicts) if code == 1)
    assert all(code == 0 for code, _ in verdicts[:first_fail])
    assert first_fail >= 1, "the run must pass at least one check before it fails"
    assert first_fail < EPOCHS - 1, "the run must stop before its last epoch"
    assert monitor.stopped_epoch == first_fail
    assert len(files) == first_fail + 1
    assert len(history.history["loss"]) == first_fail + 1  # training really stopped there

    for epoch, (code, report) in enumerate(verdicts):
        figures = [layer["relativeChange"] for layer in report["layers"] if layer["relativeChange"] is not None]
        assert history.history["drift_max_relative_change"][epoch] == max(figures)
        assert history.history["drift_risk_score"][epoch] == report["forgetting"]["score"]
        assert history.history["drift_failures"][epoch] == len(report["summary"]["failures"])
        assert history.history["drift_passed"][epoch] == (1.0 if code == 0 else 0.0)
        assert history.history["drift_nan_count"][epoch] == sum(layer["nanCount"] for layer in report["layers"])
    assert history.history["drift_max_relative_change"][first_fail] > FAIL_AT

    # CSVLogger (after the monitor in the list) recorded the same figures.
    with open(log) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == first_fail + 1
    for key in LOG_KEYS:
        assert [float(row[key]) for row in rows] == pytest.approx(history.history[key], rel=1e-12)

    # restore_best put back the weights of the last passing check, bit for bit.
    assert monitor.best_epoch == first_fail - 1
    restored = tmp_path / "restored.weights.h5"
    model.save_weights(restored)
    code, same = cli(files[first_fail - 1], restored)
    assert code == 0 and {layer["status"] for layer in same["layers"]} == {"frozen"}
    code, moved = cli(files[first_fail], restored)
    assert "frozen" not in {layer["status"] for layer in moved["layers"]}


def test_every_n_epochs_and_stop_on_risk(tmp_path):
    kept = tmp_path / "checked"
    monitor = DriftMonitor(BASE, every=2, stop_on="risk", risk="high", checkpoint_dir=kept)
    _, history = fine_tune([monitor], epochs=6)
    checked = [epoch for epoch, _ in monitor.reports]
    assert checked and all(epoch % 2 == 1 for epoch in checked)
    assert sorted(p.name for p in kept.iterdir()) == [f"epoch_{e + 1:04d}.weights.h5" for e in checked]
    risks = [cli(BASE, kept / f"epoch_{e + 1:04d}.weights.h5")[1]["forgetting"]["risk"] for e in checked]
    assert risks[-1] == "high" and "high" not in risks[:-1]
    assert monitor.stopped_epoch == checked[-1]
    assert len(history.history["loss"]) == checked[-1] + 1
    assert len(history.history["drift_risk_score"]) == len(checked)  # only checked epochs log


def test_temporary_weights_are_removed_and_bad_options_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    monitor = DriftMonitor(BASE, stop_on=None, timeout=120, hash=True)
    _, history = fine_tune([monitor], epochs=1)
    assert len(monitor.reports) == 1 and len(history.history["drift_passed"]) == 1
    assert len(monitor.reports[0][1].base.sha256) == 64  # hash=True reached the tool
    assert not any(tmp_path.glob("weightdrift-*")), "the temporary weights were left behind"
    for bad in (dict(stop_on="loss"), dict(every=0), dict(risk="low"), dict(fail_relativ_change=0.1)):
        with pytest.raises((ValueError, TypeError)):
            DriftMonitor(BASE, **bad)
    with pytest.raises(FileNotFoundError):
        DriftMonitor(tmp_path / "missing.keras")
