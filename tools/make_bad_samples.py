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

    # A dataset compressed with Blosc (filter 32001, hdf5plugin's), which WeightDrift does not
    # decode (libhdf5 has no Blosc and plugin loading is off). The filter is optional, so h5py can
    # write it without the plugin: libhdf5 stores the chunks as they are and marks them, but the
    # dataset still declares the filter, and WeightDrift refuses what declares a filter it lacks.
    if os.path.exists(os.path.join(BAD, "lzf.weights.h5")):
        os.remove(os.path.join(BAD, "lzf.weights.h5"))  # LZF is decoded now (make_samples.py: edge/repacked_lzf.h5)
    with h5py.File(os.path.join(BAD, "blosc.weights.h5"), "w") as f:
        g = f.create_group("layers/dense/vars")
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((16, 8))
        dcpl.set_obj_track_times(False)  # deterministic bytes
        dcpl.set_filter(32001, h5py.h5z.FLAG_OPTIONAL, (2, 2, 4, 512, 5, 1, 0))
        kernel = h5py.h5d.create(g.id, b"0", h5py.h5t.IEEE_F32LE, h5py.h5s.create_simple((64, 8)), dcpl=dcpl)
        h5py.Dataset(kernel)[...] = np.ones((64, 8), dtype=np.float32)
        g.create_dataset("1", data=np.zeros((8,), dtype=np.float32))

    # Files from other tools, each to be named for what it is: a NumPy array (np.save), a NumPy
    # archive (np.savez: a zip of .npy members; written here with a fixed date for stable bytes),
    # the first bytes of a GGUF model (magic "GGUF", version 3) and of a TensorFlow Lite
    # flatbuffer (file identifier "TFL3" at byte 4).
    import io
    np.save(os.path.join(BAD, "array.npy"), np.arange(6, dtype=np.float32))
    with zipfile.ZipFile(os.path.join(BAD, "arrays.npz"), "w", zipfile.ZIP_STORED) as z:
        for name, value in (("kernel", np.ones((2, 3), np.float32)), ("bias", np.zeros(3, np.float32))):
            buffer = io.BytesIO()
            np.save(buffer, value)
            z.writestr(zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0)), buffer.getvalue())
    with open(os.path.join(BAD, "model.gguf"), "wb") as f:
        f.write(b"GGUF" + (3).to_bytes(4, "little") + bytes(56))
    with open(os.path.join(BAD, "model.tflite"), "wb") as f:
        f.write((28).to_bytes(4, "little") + b"TFL3" + bytes(56))

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

    # Another dtype for the same values: float16 and bfloat16 weights stored as float32
    # (compares by value: all frozen).
    with h5py.File(os.path.join(ROOT, "edge", "dtypes_k3.weights.h5"), "r") as src, \
            h5py.File(os.path.join(BAD, "dtypes_as_float32.weights.h5"), "w") as dst:
        def copy(name, obj):
            if isinstance(obj, h5py.Group):
                dst.require_group(name)
                for key, value in obj.attrs.items():
                    dst[name].attrs[key] = value
            elif isinstance(obj, h5py.Dataset):
                raw = obj[()]
                if obj.dtype.kind == "V" and obj.dtype.itemsize == 2:  # bfloat16 as opaque
                    raw = (np.frombuffer(raw.tobytes(), dtype="<u2").astype(np.uint32) << 16).view(np.float32).reshape(obj.shape)
                dst.create_dataset(name, data=np.asarray(raw, dtype=np.float32) if obj.dtype.itemsize == 2 else raw)
        src.visititems(copy)

    # Zero-size and scalar weights, and integer weights (a lookup table).
    with h5py.File(os.path.join(BAD, "odd_tensors.weights.h5"), "w") as f:
        g = f.create_group("layers/custom_layer/vars")
        g.create_dataset("0", data=np.zeros((0, 3), dtype=np.float32))
        g.create_dataset("1", data=np.float32(0.5))
        g.create_dataset("2", data=np.arange(12, dtype=np.int64).reshape(3, 4))

    # Absurd declared dimensions: 10^18 float32 values that were never written.
    with h5py.File(os.path.join(BAD, "absurd_dims.weights.h5"), "w") as f:
        g = f.create_group("layers/dense/vars")
        g.create_dataset("0", shape=(10**12, 10**6), dtype=np.float32, chunks=(1, 1000))
        g.create_dataset("1", data=np.zeros((4,), dtype=np.float32))

    # Links a reader must not follow: a soft link, and an external link to another file.
    with h5py.File(os.path.join(BAD, "links.weights.h5"), "w") as f:
        f.create_group("layers/dense/vars").create_dataset("0", data=np.ones((2, 2), dtype=np.float32))
        f["layers/alias"] = h5py.SoftLink("/layers/dense")
        f["layers/outside"] = h5py.ExternalLink("not_keras.h5", "/measurements")

    for name in sorted(os.listdir(BAD)):
        print(f"{os.path.getsize(os.path.join(BAD, name)):>8}  bad/{name}")


if __name__ == "__main__":
    main()
