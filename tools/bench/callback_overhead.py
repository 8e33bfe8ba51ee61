"""DriftMonitor's cost per epoch on the sample model: the same seeded fine-tune (the sample CNN,
digits 5-9, Adam 1e-3, batch 64) with and without the callback, and the two parts of a check
(save_weights, then `weightdrift compare` without hashing, as DriftMonitor runs it) timed
alone. Run with the test venv, which has the wheel and Keras installed (tools/test-python):
    .build-py/test/bin/python tools/bench/callback_overhead.py [--epochs 10]"""

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import weightdrift  # noqa: E402
from weightdrift.keras import DriftMonitor  # noqa: E402

BASE = Path(__file__).resolve().parents[2] / "samples" / "k3" / "pretrained.keras"


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)

    def on_train_begin(self, logs=None):
        self.times = []


def fit(epochs, monitor):
    keras.utils.set_random_seed(7)
    model = keras.models.load_model(BASE)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    d = load_digits()
    keep = d.target >= 5
    x, y = (d.images / 16.0).astype("float32")[..., None][keep], d.target[keep]
    timer = EpochTimer()
    # The timer's on_epoch_end runs after the monitor's, so it includes the check.
    model.fit(x, y, epochs=epochs, batch_size=64, verbose=0, callbacks=([monitor] if monitor else []) + [timer])
    return model, timer.times[1:]  # the first epoch includes graph tracing


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    _, plain = fit(args.epochs, None)
    model, monitored = fit(args.epochs, DriftMonitor(BASE, stop_on=None))
    saves, compares = [], []
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "weightdrift-bench.weights.h5"
    for _ in range(10):
        t = time.perf_counter(); model.save_weights(tmp); saves.append(time.perf_counter() - t)
        t = time.perf_counter(); weightdrift.compare(BASE, tmp, hash=False); compares.append(time.perf_counter() - t)
    tmp.unlink()
    med = statistics.median
    print(f"epoch without DriftMonitor: median {med(plain) * 1000:.0f} ms over {len(plain)} epochs")
    print(f"epoch with DriftMonitor(every=1): median {med(monitored) * 1000:.0f} ms")
    print(f"overhead per checked epoch: {(med(monitored) - med(plain)) * 1000:.0f} ms"
          f" (save_weights {med(saves) * 1000:.0f} ms + compare {med(compares) * 1000:.0f} ms, medians of 10)")


if __name__ == "__main__":
    main()
