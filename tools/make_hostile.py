#!/usr/bin/env python3
"""Builds the catalogue of hostile inputs (issue 16): structurally valid files that try to make
weightdrift read outside the files it was given, check other weights than Keras loads, hang,
exhaust memory, crash, or forge its reports.

    python3 tools/make_hostile.py                      # the small files, into samples/hostile/
    python3 tools/make_hostile.py --giant /tmp/giant   # also the big ones (never committed)

Small files are committed and checked by Tests/CLITests/HostileTests.swift; classes that need a
symlink, a FIFO or megabytes (CSV logs, YAML, link farms) are built by the test itself in a
temporary folder. The giant set is what the closing measurements of issue 16 ran on.
Needs h5py and numpy (tools/requirements-samples.txt); the .keras cases reuse samples/k3.
"""
import argparse
import io
import os
import shutil
import struct
import sys
import zipfile
import zlib

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "samples")
RNG = np.random.default_rng(16)


def kernel(*shape):
    return RNG.standard_normal(shape).astype("float32")


def legacy(path, layers, keras_version="2.15.0", layer_names=None, hook=None, libver=None):
    """tf.keras save_weights("w.h5") layout: layer_names at the root, one group per layer with
    weight_names, each weight a dataset `<layer>/<weight>`."""
    with h5py.File(path, "w", libver=libver) as f:
        f.attrs["backend"] = "tensorflow"
        f.attrs["keras_version"] = keras_version
        names = [name for name, _ in layers] if layer_names is None else layer_names
        f.attrs["layer_names"] = np.array([n.encode() for n in names])
        for name, weights in layers:
            group = f.require_group(name)
            group.attrs["weight_names"] = np.array([w.encode() for w, _ in weights])
            for weight, value in weights:
                if value is not None:
                    group.create_dataset(weight, data=value)
        if hook:
            hook(f)


def dense(name, inputs=4, units=3):
    return (name, [(f"{name}/kernel:0", kernel(inputs, units)), (f"{name}/bias:0", kernel(units))])


def weights_h5(path, layers, iterations=None, hook=None, libver=None):
    """Keras 3 save_weights("x.weights.h5") layout: /layers/<name>/vars/<i>."""
    with h5py.File(path, "w", libver=libver) as f:
        for name, values in layers:
            group = f.create_group(f"layers/{name}/vars")
            for index, value in enumerate(values):
                if value is not None:
                    group.create_dataset(str(index), data=value)
        if iterations is not None:
            f.create_group("optimizer/vars").create_dataset("0", data=np.int64(iterations))
        if hook:
            hook(f)


def small(out):
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)

    # --- reading outside the named files -------------------------------------------------
    # EXTERNAL raw storage: the kernel's 48 one-byte values are the first bytes of /etc/passwd.
    def external_kernel(f):
        del f["dense/dense/kernel:0"]
        f["dense"].create_dataset("dense/kernel:0", shape=(48,), dtype="uint8", external=[("/etc/passwd", 0, 48)])
    legacy(p("external_storage.h5"), [dense("dense")], hook=external_kernel)

    # The optimizer's iteration count (a scalar, read by a plain `inspect`) stored externally.
    def external_iterations(f):
        del f["optimizer/vars/0"]
        # h5py's high-level API drops `external` for a scalar; the low-level one keeps it.
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_external(b"/etc/passwd", 0, 8)
        h5py.h5d.create(f["optimizer/vars"].id, b"0", h5py.h5t.STD_I64LE, h5py.h5s.create(h5py.h5s.SCALAR), dcpl=dcpl)
    weights_h5(p("external_iterations.weights.h5"), [("dense", [kernel(4, 3), kernel(3)])], iterations=7,
               hook=external_iterations)

    # A virtual dataset whose values come from another file.
    with h5py.File(p("vds_source.h5"), "w") as f:
        f.create_dataset("data", data=kernel(4, 3))
    def virtual_kernel(f):
        del f["layers/dense/vars/0"]
        layout = h5py.VirtualLayout(shape=(4, 3), dtype="float32")
        layout[:] = h5py.VirtualSource("vds_source.h5", "data", shape=(4, 3))
        f["layers/dense/vars"].create_virtual_dataset("0", layout)
    weights_h5(p("vds.weights.h5"), [("dense", [kernel(4, 3), kernel(3)])], hook=virtual_kernel)

    # A layer that is an external link into another file (was reported "removed").
    def external_layer(f):
        del f["dense_1"]
        f["dense_1"] = h5py.ExternalLink("vds_source.h5", "/")
    legacy(p("external_link.h5"), [dense("dense"), dense("dense_1")], hook=external_layer)

    # A weight that is a soft link inside the file (was dropped, the layer then "reshaped").
    same = [kernel(4, 3), kernel(3)]
    weights_h5(p("soft_link_plain.weights.h5"), [("dense", same)])
    def soft_kernel(f):
        del f["layers/dense/vars/0"]
        f.create_dataset("payload/kernel", data=same[0])
        f["layers/dense/vars/0"] = h5py.SoftLink("/payload/kernel")
    weights_h5(p("soft_link.weights.h5"), [("dense", same)], hook=soft_kernel)

    # A dangling soft link where a weight should be: refused, not dropped.
    def dangling(f):
        del f["layers/dense/vars/1"]
        f["layers/dense/vars/1"] = h5py.SoftLink("/nowhere")
    weights_h5(p("dangling_soft_link.weights.h5"), [("dense", same)], hook=dangling)

    # --- walks that never end -------------------------------------------------------------
    # A hard-link DAG: 41 groups, two links per level to the next, 2^40 paths.
    def dag(f):
        groups = [f.create_group(f"dag/g{i}") for i in range(41)]
        for i in range(40):
            groups[i]["a"] = groups[i + 1]
            groups[i]["b"] = groups[i + 1]
        f["layers/dag"] = groups[0]
    weights_h5(p("hard_link_dag.weights.h5"), [("dense", same)], hook=dag)

    # A group linked into itself (a cycle).
    def cycle(f):
        f["layers/dense/loop"] = f["layers/dense"]
    weights_h5(p("hard_link_cycle.weights.h5"), [("dense", same)], hook=cycle)

    # Duplicate names in layer_names (Keras's loader refuses them).
    legacy(p("duplicate_layer_names.h5"), [dense("dense")], layer_names=["dense", "dense"])

    # --- memory ----------------------------------------------------------------------------
    # A tiny kernel in one deflated chunk of 303 MiB (the memory bound is 256 MiB per chunk).
    def big_chunk(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars"].create_dataset("0", data=kernel(4, 3), maxshape=(None, None), chunks=(8704, 8704),
                                              compression="gzip", compression_opts=9)
    weights_h5(p("big_chunk.weights.h5"), [("dense", same)], hook=big_chunk)

    # 16 weights of exactly 1 GiB each, one 4 KiB chunk of each stored, the rest fill value.
    def fill_only(f):
        for i in range(16):
            d = f["layers/big/vars"].create_dataset(str(i), shape=(1 << 28,), dtype="float32", chunks=(1024,))
            d[:1024] = kernel(1024)
    weights_h5(p("fill_only.weights.h5"), [("big", [])], hook=fill_only)

    # --- corrupt data: the real cause, not "Read failed" -------------------------------------
    corrupt_chunk(p("fletcher32_corrupt.weights.h5"), fletcher32=True)
    corrupt_chunk(p("deflate_corrupt.weights.h5"), fletcher32=False)
    lzf_damaged(p("lzf_corrupt.weights.h5"), "flip")
    lzf_damaged(p("lzf_short.weights.h5"), "short")
    lzf_damaged(p("lzf_huge.weights.h5"), "huge")

    # --- forged reports --------------------------------------------------------------------
    legacy(p("forged_names.h5"), [dense("dense\x1b[2J\x1b[31mrm -rf\x1b[0m"), dense("ok\n::error::forged annotation"),
                                  dense("::warning file=x::forged"), dense("<img src=x onerror=alert(1)>|**bold**")],
           keras_version="2.15.0\n\n## ✅ PASS\n![tracker](https://example.invalid/pixel.png)")

    # --- archives that zipfile (so Keras) reads differently ------------------------------
    zips(out)

    # An unzipped .keras folder (save_model(..., zipped=False)): the test swaps its members for
    # symbolic links leading out of it, FIFOs and devices.
    folder = p("unzipped.keras")
    os.makedirs(folder)
    for name, data in members(os.path.join(SAMPLES, "k3/pretrained.keras")):
        open(os.path.join(folder, name), "wb").write(data)


def corrupt_chunk(path, fletcher32):
    """A chunked, filtered kernel whose stored chunk has one byte flipped in the middle."""
    value = np.arange(64 * 64, dtype="float32").reshape(64, 64) / 7
    with h5py.File(path, "w") as f:
        group = f.create_group("layers/dense/vars")
        if fletcher32:
            group.create_dataset("0", data=value, chunks=(64, 64), fletcher32=True)
        else:
            group.create_dataset("0", data=value, chunks=(64, 64), compression="gzip")
        group.create_dataset("1", data=np.zeros(64, "float32"))
    with h5py.File(path, "r") as f:
        info = f["layers/dense/vars/0"].id.get_chunk_info(0)
        offset, size = info.byte_offset, info.size
    with open(path, "r+b") as f:
        # Flip a byte inside the stored chunk (past a deflate stream's header: its data, not its framing).
        f.seek(offset + size // 2)
        byte = f.read(1)
        f.seek(offset + size // 2)
        f.write(bytes([byte[0] ^ 0x5A]))


def lzf_damaged(path, how):
    """An LZF-compressed kernel (h5py's filter 32000) with a damaged chunk or filter record:
    "flip" flips a byte in the middle of a compressed chunk; "short" and "huge" rewrite the
    chunk size h5py records in the filter's third client value (4 bytes after the
    NUL-padded name "lzf" in the dataset's filter pipeline message) to 1 byte less than the
    chunk and to 4 GiB - 1: a decoder trusting either would write past its buffer or allocate
    gigabytes."""
    value = np.arange(64 * 64, dtype="float32").reshape(64, 64) / 7  # compressible: LZF shrinks it
    with h5py.File(path, "w") as f:
        group = f.create_group("layers/dense/vars")
        group.create_dataset("0", data=value, chunks=(64, 64), compression="lzf")
        group.create_dataset("1", data=np.zeros(64, "float32"))
    with h5py.File(path, "r") as f:
        info = f["layers/dense/vars/0"].id.get_chunk_info(0)
        assert info.filter_mask == 0, "the chunk must be stored compressed"
        offset, size = info.byte_offset, info.size
    data = bytearray(open(path, "rb").read())
    if how == "flip":
        data[offset + size // 2] ^= 0x5A
    else:
        chunk_bytes = (64 * 64 * 4).to_bytes(4, "little")
        name = data.index(b"lzf\0\0\0\0\0")
        record = name + 8 + 8  # past the name (padded to 8) and the first two client values
        assert data[record:record + 4] == chunk_bytes, "filter record not found"
        data[record:record + 4] = (64 * 64 * 4 - 1 if how == "short" else 0xFFFFFFFF).to_bytes(4, "little")
    open(path, "wb").write(bytes(data))


def members(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def write_zip(path, items, compression=zipfile.ZIP_STORED):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names, which is the point
        with zipfile.ZipFile(path, "w", compression) as z:
            for name, data in items:
                z.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data)


def local_header_offset(data, name):
    """Offset of the local header of member `name` (first occurrence)."""
    z = zipfile.ZipFile(io.BytesIO(data))
    return [i.header_offset for i in z.infolist() if i.filename == name][0]


def zips(out):
    p = lambda name: os.path.join(out, name)
    base = members(os.path.join(SAMPLES, "k3/pretrained.keras"))
    tuned = dict(members(os.path.join(SAMPLES, "k3/ft_highlr.keras")))

    # Two model.weights.h5 members: zipfile (so Keras) reads the last, a naive reader the first.
    write_zip(p("zip_duplicate.keras"), base + [("model.weights.h5", tuned["model.weights.h5"])])

    # The central directory says model.weights.h5, the local header model.weights.h6.
    buffer = io.BytesIO()
    write_zip(buffer, base)
    data = bytearray(buffer.getvalue())
    at = local_header_offset(bytes(data), "model.weights.h5")
    assert data[at + 30:at + 46] == b"model.weights.h5"
    data[at + 30:at + 46] = b"model.weights.h6"
    open(p("zip_name_mismatch.keras"), "wb").write(data)

    # The local header declares a different size than the central directory (no data descriptor).
    data = bytearray(buffer.getvalue())
    at = local_header_offset(bytes(data), "model.weights.h5")
    size = struct.unpack_from("<I", data, at + 18)[0]
    struct.pack_into("<II", data, at + 18, size - 4096, size - 4096)
    open(p("zip_size_mismatch.keras"), "wb").write(data)

    # The stored weights member claims (in both headers) to run into the next member.
    ordered = [m for m in base if m[0] == "model.weights.h5"] + [m for m in base if m[0] != "model.weights.h5"]
    buffer = io.BytesIO()
    write_zip(buffer, ordered)
    data = bytearray(buffer.getvalue())
    z = zipfile.ZipFile(io.BytesIO(bytes(data)))
    infos = z.infolist()
    weights = infos[0]
    grow = infos[1].header_offset + 30 + len(infos[1].filename) - (weights.header_offset + 30 + len(weights.filename)) - weights.compress_size
    new_size = weights.compress_size + grow
    struct.pack_into("<II", data, weights.header_offset + 18, new_size, new_size)
    cd = data.rfind(b"PK\x01\x02" + data[data.find(b"PK\x01\x02") + 4:data.find(b"PK\x01\x02") + 8])
    cd = data.find(b"PK\x01\x02")
    struct.pack_into("<II", data, cd + 20, new_size, new_size)
    open(p("zip_overlap.keras"), "wb").write(data)

    # An HDF5 file with a .keras zip appended: Keras's load_model reads the zip, h5py the HDF5.
    with open(p("polyglot_h5_zip.keras"), "wb") as f:
        f.write(open(os.path.join(SAMPLES, "k3/pretrained.h5"), "rb").read())
        f.write(open(os.path.join(SAMPLES, "k3/ft_highlr.keras"), "rb").read())


def giant(out):
    """The big hostile inputs, built cheaply (fill values, links, repetition); never committed."""
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)
    same = [kernel(4, 3), kernel(3)]

    # 10^6 links in one group (soft links to one dataset).
    def links(f):
        f.create_dataset("payload", data=np.zeros(1, "float32"))
        group = f.create_group("layers/many")
        for i in range(1_000_000):
            group[f"l{i}"] = h5py.SoftLink("/payload")
    weights_h5(p("million_links.weights.h5"), [("dense", same)], hook=links, libver="latest")  # dense link storage: fast to write

    # 10^6 duplicate layer names.
    legacy(p("million_duplicate_layer_names.h5"), [dense("dense")], layer_names=["dense"] * 1_000_000,
           libver="latest")  # an attribute over 64 KiB needs dense attribute storage

    # A 200 MB variable-length config attribute.
    def config(f):
        f.attrs.create("model_config", '{"class_name": "Sequential", "config": {"pad": "' + "x" * 200_000_000 + '"}}',
                       dtype=h5py.string_dtype())
    legacy(p("huge_config.h5"), [dense("dense")], hook=config)

    # A tiny kernel in one deflated chunk of exactly 1 GiB.
    def gib_chunk(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars"].create_dataset("0", data=kernel(4, 3), maxshape=(None, None), chunks=(16384, 16384),
                                              compression="gzip")
    weights_h5(p("gib_chunk.weights.h5"), [("dense", same)], hook=gib_chunk)

    # 10 million CSV rows, and one 100 MB line.
    with open(p("ten_million_rows.csv"), "w") as f:
        f.write("epoch,loss,val_loss\n")
        row = "".join(f"{i},0.5,0.6\n" for i in range(1000))
        for _ in range(10_000):
            f.write(row)
    with open(p("long_line.csv"), "w") as f:
        f.write("epoch,loss\n0," + "1" * 100_000_000 + "\n")

    # Nested YAML aliases: 10^9 values.
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("rules: [*a8]")
    open(p("billion_laughs.yaml"), "w").write("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(SAMPLES, "hostile"))
    parser.add_argument("--giant", metavar="DIR", help="also build the big inputs into DIR (never commit them)")
    args = parser.parse_args()
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    small(args.out)
    if args.giant:
        giant(args.giant)
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(args.out) for n in names)
    print(f"{len(os.listdir(args.out))} files, {total} bytes in {args.out}")


if __name__ == "__main__":
    sys.exit(main())
