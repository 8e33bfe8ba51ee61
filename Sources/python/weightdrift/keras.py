"""A Keras 3 callback that gates fine-tuning with `weightdrift compare`, as
keras.callbacks.EarlyStopping gates it on a metric.

    from weightdrift.keras import DriftMonitor
    model.fit(x, y, epochs=20, callbacks=[DriftMonitor("pretrained.keras", every=1,
                                                       stop_on="fail", restore_best=True)])

Every `every` epochs the model's weights are saved to a `.weights.h5` file and compared with
the pretrained checkpoint by the bundled binary; the headline figures join the epoch's `logs`
(History, CSVLogger and TensorBoard placed after this callback record them):

    drift_max_relative_change   largest layer relative change
    drift_risk_score            forgetting risk score (backbone aggregate relative change)
    drift_failures              layers failing the gate
    drift_passed                1.0 when the gate passed, 0.0 when it failed
    drift_nan_count             NaN values in the weights

Training stops (`model.stop_training = True`) when the gate fails (stop_on="fail") or the
forgetting risk reaches `risk` (stop_on="risk"); stop_on=None only logs. With
restore_best=True the weights of the last check that passed are put back when it stops.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Optional

import keras

from . import compare as _compare
from . import gate_arguments
from .report import CompareReport

_RISK_LEVELS = ("low", "medium", "high")
LOG_KEYS = ("drift_max_relative_change", "drift_risk_score", "drift_failures", "drift_passed", "drift_nan_count")


def _nan_if_none(value: Optional[float]) -> float:
    return float("nan") if value is None else float(value)


class DriftMonitor(keras.callbacks.Callback):
    """Stops fine-tuning when the weights drift past the gate or the forgetting risk.

    Args:
      base: the pretrained checkpoint (any layout `weightdrift` reads).
      policy: a YAML policy file, as `--policy`.
      every: check at the end of every N-th epoch (1 = each epoch).
      stop_on: "fail" (the gate fails), "risk" (forgetting risk reaches `risk`) or None.
      risk: "medium" or "high", the level stop_on="risk" stops at.
      restore_best: on stopping, restore the weights of the last check that passed.
      checkpoint_dir: keep each checked `epoch_NNNN.weights.h5` there (default: a temporary
        folder removed at the end of training).
      verbose: 1 prints a line when training is stopped.
      **gate_options: any other `weightdrift.compare` option (fail_relative_change=0.1,
        fail_on_risk="medium", head=["dense_1"], timeout=60, …); the inputs are not hashed
        unless hash=True.

    After training: `reports` holds (epoch, CompareReport) for each check, `stopped_epoch` the
    epoch training was stopped at (None if it was not), `best_epoch` the last passing check.
    """

    def __init__(self, base, policy=None, every: int = 1, stop_on: Optional[str] = "fail", risk: str = "high",
                 restore_best: bool = False, checkpoint_dir=None, verbose: int = 0, **gate_options):
        super().__init__()
        if stop_on not in ("fail", "risk", None):
            raise ValueError(f'stop_on must be "fail", "risk" or None, not {stop_on!r}')
        if risk not in ("medium", "high"):
            raise ValueError(f'risk must be "medium" or "high", not {risk!r}')
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a whole number ≥ 1, not {every!r}")
        self.base = os.fspath(base)
        if not os.path.exists(self.base):
            raise FileNotFoundError(f"{self.base}: no such file or folder")
        self.every = every
        self.stop_on = stop_on
        self.risk = risk
        self.restore_best = restore_best
        self.checkpoint_dir = None if checkpoint_dir is None else os.fspath(checkpoint_dir)
        self.verbose = verbose
        self.compare_options = dict(gate_options)
        if policy is not None:
            self.compare_options["policy"] = policy
        run_options = {"hash": self.compare_options.pop("hash", False),
                       "timeout": self.compare_options.pop("timeout", None)}
        gate_arguments(**self.compare_options)  # a misspelt option fails here, not at epoch N
        self.compare_options.update(run_options)
        self._reset()

    def _reset(self):
        self.reports = []
        self.stopped_epoch = None
        self.best_epoch = None
        self.best_weights = None
        self._workdir = None

    def on_train_begin(self, logs=None):
        self._reset()
        if self.checkpoint_dir is None:
            self._workdir = tempfile.mkdtemp(prefix="weightdrift-")
        else:
            os.makedirs(self.checkpoint_dir, exist_ok=True)

    def check(self, epoch: int) -> CompareReport:
        """Saves the weights and compares them with the base; the report of epoch `epoch` (0-based)."""
        folder = self.checkpoint_dir or self._workdir
        path = os.path.join(folder, f"epoch_{epoch + 1:04d}.weights.h5")
        self.model.save_weights(path)
        try:
            return _compare(self.base, path, **self.compare_options)
        finally:
            if self.checkpoint_dir is None:
                os.remove(path)

    def should_stop(self, report: CompareReport) -> bool:
        if self.stop_on == "fail":
            return not report.passed
        if self.stop_on == "risk":
            return _RISK_LEVELS.index(report.forgetting.risk) >= _RISK_LEVELS.index(self.risk)
        return False

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every != 0:
            return
        report = self.check(epoch)
        self.reports.append((epoch, report))
        if logs is not None:
            logs["drift_max_relative_change"] = _nan_if_none(report.max_relative_change)
            logs["drift_risk_score"] = _nan_if_none(report.forgetting.score)
            logs["drift_failures"] = float(len(report.failures))
            logs["drift_passed"] = 1.0 if report.passed else 0.0
            logs["drift_nan_count"] = float(report.nan_count)
        stop = self.should_stop(report)
        if not stop and report.passed:
            self.best_epoch = epoch
            if self.restore_best:
                self.best_weights = self.model.get_weights()
        if stop:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best and self.best_weights is not None:
                self.model.set_weights(self.best_weights)
            if self.verbose:
                why = "the drift gate failed" if self.stop_on == "fail" else f"forgetting risk {report.forgetting.risk}"
                restored = (f"; restored the weights of epoch {self.best_epoch + 1}"
                            if self.restore_best and self.best_weights is not None else "")
                print(f"Epoch {epoch + 1}: DriftMonitor stopped training: {why}"
                      f" ({', '.join(report.failures) or 'no failing layer'}){restored}")

    def on_train_end(self, logs=None):
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
