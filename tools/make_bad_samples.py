#!/usr/bin/env python3
"""Writes samples/bad/: small files that are NOT valid Keras checkpoints, for the bad-input
tests. Needs h5py and numpy (tools/requirements-oracle.txt) and samples/tfk/pretrained.h5 from
tools/make_samples.py. Deterministic: rerunning rewrites the same content.

  python3 tools/make_bad_samples.py
"""
import os
import shutil
import zipfile

import h5py
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "samples")
BAD = os.path.join(ROOT, "bad")


def main():
    os.makedirs(BAD, exist_ok=True)

    # A valid HDF5 file that is not a Keras checkpoint.
    with h5py.File(os.path.join(BAD, "not_keras.h5"), "w", track_order=False) as f:
        f.create_dataset("measurements/temperature", data=np.arange(12, dtype=np.float32).reshape(3, 4))
        f.attrs["instrument"] = "thermometer"

    # What a crashed save leaves: weight_names lists a dataset that is not there.
    crashed = os.path.join(BAD, "missing_dataset.h5")
    shutil.copyfile(os.path.join(ROOT, "tfk", "pretrained.h5"), crashed)
    with h5py.File(crashed, "r+") as f:
        del f["model_weights/dense/dense/kernel:0"]
        # Drop the optimizer: keeps the file small and is what a crashed save also lacks.
        del f["optimizer_weights"]
    repack = shutil.which("h5repack")
    if repack:  # reclaim the space of the deleted objects
        tmp = crashed + ".tmp"
        os.system(f"{repack} {crashed} {tmp} && mv {tmp} {crashed}")

    # A dataset compressed with h5py's LZF filter (id 32000), which libhdf5 cannot decode.
    with h5py.File(os.path.join(BAD, "lzf.weights.h5"), "w") as f:
        g = f.create_group("layers/dense/vars")
        g.create_dataset("0", data=np.ones((64, 8), dtype=np.float32), compression="lzf", chunks=(16, 8))
        g.create_dataset("1", data=np.zeros((8,), dtype=np.float32))

    # A zip with a Keras config but no model.weights.h5.
    with zipfile.ZipFile(os.path.join(BAD, "no_weights.keras"), "w", zipfile.ZIP_STORED) as z:
        info = zipfile.ZipInfo("metadata.json", date_time=(1980, 1, 1, 0, 0, 0))
        z.writestr(info, '{"keras_version": "3.15.1", "date_saved": "2026-11-29@00:00:00"}')
        info = zipfile.ZipInfo("config.json", date_time=(1980, 1, 1, 0, 0, 0))
        z.writestr(info, '{"class_name": "Sequential", "config": {"name": "sequential", "layers": []}}')

    # A .keras whose members were re-zipped with DEFLATE.
    with zipfile.ZipFile(os.path.join(ROOT, "k3", "pretrained.keras")) as src, \
            zipfile.ZipFile(os.path.join(BAD, "deflated.keras"), "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=item.date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, src.read(item.filename))

    for name in sorted(os.listdir(BAD)):
        print(f"{os.path.getsize(os.path.join(BAD, name)):>8}  bad/{name}")


if __name__ == "__main__":
    main()
