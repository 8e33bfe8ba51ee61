#!/usr/bin/env python3
"""Writes samples/era/: one small file per Keras era and layout that issue 11 found read wrong,
plus inputs that are not Keras checkpoints at all, and samples/era/truth.json, the ground truth
the tests (Tests/CheckpointTests/EraTests.swift) check against.

Two kinds of file:
  * written by real Keras 3.15 (the venv of tools/requirements-samples.txt): RNN layers, a
    Normalization layer, mixed precision, an explicit LossScaleOptimizer, a subclassed model, and
    a compile config naming the optimizer by a string;
  * written with h5py, byte for byte in structure as Keras 1.2 / 2.0 / 2.2 wrote them (those
    versions do not install here). Each fact is cited where it is used: attribute names and their
    string type (Keras encodes every string with `.encode('utf8')`, which h5py stores as a
    fixed-length byte string), dataset names, config shapes.

  /work/venv-samples/bin/python tools/make_era_samples.py

Deterministic apart from Keras's own training noise (the truth is recomputed from what was written).
"""
import io
import json
import os
import pickle
import shutil
import sys
import zipfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "samples", "era")
RNG = np.random.default_rng(11)


def b(text):
    """How Keras 1/2 stored every string attribute: `str(x).encode('utf8')`, i.e. numpy bytes,
    which h5py writes as a fixed-length ASCII string (keras 2.0.5 `models.py` `save_model`)."""
    return np.bytes_(text.encode("utf8"))


def names(items):
    """Keras 1/2 name lists: `[n.encode('utf8') for n in names]`, a numpy array of fixed-length
    byte strings (keras 2.0.5 `topology.py` `save_weights_to_hdf5_group`)."""
    return np.array([n.encode("utf8") for n in items])


def dense_config(name, units, extra=None):
    config = {"name": name, "trainable": True, "units": units, "activation": "linear", "use_bias": True,
              "kernel_initializer": {"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_avg",
                                                                                 "distribution": "uniform", "seed": None}},
              "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
              "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None}
    config.update(extra or {})
    return config


def write_legacy(path, keras_version, backend, model_config, training_config, layers, optimizer_weights):
    """`layers`: [(layer name, [(stored weight name, array)])] in model order, weightless ones with [].
    The layout of keras 2.0.5 `save_model`: root attrs keras_version, backend, model_config,
    training_config; group model_weights with layer_names/backend/keras_version; one group per
    layer with weight_names; each weight a dataset at `<layer>/<stored name>` (a name with '/'
    makes h5py create the intermediate groups, as it did for Keras); optimizer_weights with
    weight_names."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b(keras_version)
        f.attrs["backend"] = b(backend)
        f.attrs["model_config"] = b(json.dumps(model_config))
        if training_config is not None:
            f.attrs["training_config"] = b(json.dumps(training_config))
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = names([name for name, _ in layers])
        g.attrs["backend"] = b(backend)
        g.attrs["keras_version"] = b(keras_version)
        for name, weights in layers:
            lg = g.create_group(name)
            lg.attrs["weight_names"] = names([w for w, _ in weights])
            for w, value in weights:
                lg.create_dataset(w, data=value)
        if optimizer_weights is not None:
            og = f.create_group("optimizer_weights")
            og.attrs["weight_names"] = names([w for w, _ in optimizer_weights])
            for w, value in optimizer_weights:
                og.create_dataset(w, data=value)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def legacy_files(truth):
    # Keras 2.0.5, TensorFlow backend, Sequential stored as a list (keras 2.0.5 `models.py`
    # `Sequential.get_config`: `config = []` + {'class_name', 'config'} per layer). SGD with
    # `lr`/`decay` (keras 2.0.5 `optimizers.py` `SGD.get_config`: lr, momentum, decay, nesterov);
    # `self.iterations = K.variable(0., name='iterations')` is float32, and a second optimizer in
    # the session is named `iterations_1:0` by TensorFlow; momenta are `K.zeros` → `Variable_N:0`.
    seq = {"class_name": "Sequential", "config": [
        {"class_name": "Dense", "config": dense_config("dense_1", 5, {"batch_input_shape": [None, 4], "dtype": "float32"})},
        {"class_name": "Dropout", "config": {"name": "dropout_1", "trainable": True, "rate": 0.5}},
        {"class_name": "Dense", "config": dense_config("dense_2", 3)},
    ]}
    training = {"optimizer_config": {"class_name": "SGD", "config": {"lr": 0.009999999776482582, "momentum": 0.8999999761581421,
                                                                       "decay": 9.999999747378752e-05, "nesterov": False}},
                "loss": "categorical_crossentropy", "metrics": ["accuracy"], "sample_weight_mode": None, "loss_weights": None}
    k1, b1, k2, b2 = f32(4, 5), f32(5), f32(5, 3), f32(3)
    write_legacy(os.path.join(OUT, "keras205_sequential.h5"), "2.0.5", "tensorflow", seq, training,
                 [("dense_1", [("dense_1/kernel:0", k1), ("dense_1/bias:0", b1)]), ("dropout_1", []),
                  ("dense_2", [("dense_2/kernel:0", k2), ("dense_2/bias:0", b2)])],
                 [("iterations_1:0", np.float32(150.0)), ("Variable:0", np.zeros_like(k1)), ("Variable_1:0", np.zeros_like(b1)),
                  ("Variable_2:0", np.zeros_like(k2)), ("Variable_3:0", np.zeros_like(b2))])
    truth["keras205_sequential.h5"] = {
        "era": "Keras 2.0.5 (h5py reproduction)", "format": "legacy-h5",
        "layers": [["dense_1", "Dense", ["kernel", "bias"]], ["dropout_1", "Dropout", []], ["dense_2", "Dense", ["kernel", "bias"]]],
        "optimizer": "SGD", "iterations": 150, "learningRateInitial": 0.009999999776482582,
        "learningRateAtSavedStep": 0.009999999776482582 / (1 + 9.999999747378752e-05 * 150), "schedule": "TimeBasedDecay"}

    # Keras 1.2.2, Theano backend: Sequential as a list; Theano weights are named `<layer>_W`,
    # `<layer>_b` (no `:0`; keras 1.2.2 `layers/core.py` Dense.build: name='{}_W'.format(self.name));
    # Adam config with `lr` (keras 1.2.2 `optimizers.py` Adam.get_config). No optimizer weights.
    seq1 = {"class_name": "Sequential", "config": [
        {"class_name": "Dense", "config": {"name": "dense_1", "output_dim": 3, "input_dim": 2, "batch_input_shape": [None, 2],
                                           "activation": "linear", "bias": True, "trainable": True}},
        {"class_name": "Activation", "config": {"name": "activation_1", "activation": "relu", "trainable": True}},
    ]}
    training1 = {"optimizer_config": {"class_name": "Adam", "config": {"lr": 0.0010000000474974513, "beta_1": 0.8999999761581421,
                                                                         "beta_2": 0.9990000128746033, "epsilon": 1e-08, "decay": 0.0}},
                 "loss": "mse", "metrics": [], "sample_weight_mode": None, "loss_weights": None}
    write_legacy(os.path.join(OUT, "keras122_theano.h5"), "1.2.2", "theano", seq1, training1,
                 [("dense_1", [("dense_1_W", f32(2, 3)), ("dense_1_b", f32(3))]), ("activation_1", [])], None)
    truth["keras122_theano.h5"] = {
        "era": "Keras 1.2.2 (h5py reproduction)", "format": "legacy-h5",
        "layers": [["dense_1", "Dense", ["dense_1_W", "dense_1_b"]], ["activation_1", "Activation", []]],
        "optimizer": "Adam", "iterations": None, "learningRateInitial": 0.0010000000474974513,
        "learningRateAtSavedStep": 0.0010000000474974513, "schedule": "constant"}

    # Keras 2.2.4 functional model with a Bidirectional LSTM: the wrapper names its directions
    # `forward_<layer>`/`backward_<layer>` and builds them in their name scopes, so weight_names
    # read `bidirectional_1/forward_lstm_1/kernel:0` (keras 2.2.4 `layers/wrappers.py`
    # Bidirectional.__init__/build); Adam's counter is `K.variable(0, dtype='int64',
    # name='iterations')` in `K.name_scope('Adam')` (keras 2.2.4 `optimizers.py`).
    lstm = {"class_name": "LSTM", "config": {"name": "lstm_1", "trainable": True, "units": 2, "use_bias": True,
                                             "return_sequences": False}}
    functional = {"class_name": "Model", "config": {"name": "model_1", "layers": [
        {"name": "input_1", "class_name": "InputLayer", "config": {"batch_input_shape": [None, 5, 3], "dtype": "float32",
                                                                   "sparse": False, "name": "input_1"}, "inbound_nodes": []},
        {"name": "bidirectional_1", "class_name": "Bidirectional",
         "config": {"name": "bidirectional_1", "trainable": True, "layer": lstm, "merge_mode": "concat"},
         "inbound_nodes": [[["input_1", 0, 0, {}]]]},
        {"name": "dense_1", "class_name": "Dense", "config": dense_config("dense_1", 1),
         "inbound_nodes": [[["bidirectional_1", 0, 0, {}]]]},
    ], "input_layers": [["input_1", 0, 0]], "output_layers": [["dense_1", 0, 0]]}}
    training2 = {"optimizer_config": {"class_name": "Adam", "config": {"lr": 0.0010000000474974513, "beta_1": 0.8999999761581421,
                                                                         "beta_2": 0.9990000128746033, "decay": 0.0010000000474974513,
                                                                         "amsgrad": False}},
                 "loss": "mse", "metrics": [], "sample_weight_mode": None, "loss_weights": None}
    bi = [(f"bidirectional_1/{d}_lstm_1/{w}:0", v) for d in ("forward", "backward")
          for w, v in (("kernel", f32(3, 8)), ("recurrent_kernel", f32(2, 8)), ("bias", f32(8)))]
    dk, db = f32(4, 1), f32(1)
    write_legacy(os.path.join(OUT, "keras224_bidirectional.h5"), "2.2.4", "tensorflow", functional, training2,
                 [("input_1", []), ("bidirectional_1", bi), ("dense_1", [("dense_1/kernel:0", dk), ("dense_1/bias:0", db)])],
                 [("Adam/iterations:0", np.int64(40))] + [(f"training/Adam/Variable_{i}:0", np.zeros_like(v))
                                                        for i, (_, v) in enumerate(bi)])
    # The same layers saved with save_weights: layer_names, backend and keras_version on the
    # root, no config (keras 2.2.4 `engine/saving.py` `save_weights_to_hdf5_group`).
    with h5py.File(os.path.join(OUT, "keras224_bidirectional_weights.h5"), "w") as f:
        layers = [("input_1", []), ("bidirectional_1", bi), ("dense_1", [("dense_1/kernel:0", dk), ("dense_1/bias:0", db)])]
        f.attrs["layer_names"] = names([n for n, _ in layers])
        f.attrs["backend"] = b("tensorflow")
        f.attrs["keras_version"] = b("2.2.4")
        for n, weights in layers:
            g = f.create_group(n)
            g.attrs["weight_names"] = names([w for w, _ in weights])
            for w, value in weights:
                g.create_dataset(w, data=value)
    truth["keras224_bidirectional_weights.h5"] = {
        "era": "Keras 2.2.4 (h5py reproduction)", "format": "legacy-weights-h5", "noOptimizer": True,
        "layers": [["input_1", None, []],
                   ["bidirectional_1", None, [f"{d}_lstm_1/{w}" for d in ("forward", "backward")
                                              for w in ("kernel", "recurrent_kernel", "bias")]],
                   ["dense_1", None, ["kernel", "bias"]]]}
    truth["keras224_bidirectional.h5"] = {
        "era": "Keras 2.2.4 (h5py reproduction)", "format": "legacy-h5",
        "layers": [["input_1", "InputLayer", []],
                   ["bidirectional_1", "Bidirectional", [f"{d}_lstm_1/{w}" for d in ("forward", "backward")
                                                         for w in ("kernel", "recurrent_kernel", "bias")]],
                   ["dense_1", "Dense", ["kernel", "bias"]]],
        "optimizer": "Adam", "iterations": 40, "learningRateInitial": 0.0010000000474974513,
        "learningRateAtSavedStep": 0.0010000000474974513 / (1 + 0.0010000000474974513 * 40), "schedule": "TimeBasedDecay"}


def nested_file(truth):
    # tf.keras 2.4, a Functional model holding a Sequential: the nested model is one entry of
    # layer_names, and its weight_names list `model.weights`, trainable ones first (tf.keras
    # `Model.weights` = trainable + non-trainable), so a BatchNormalization's moving statistics
    # come after the next Dense: `dense/kernel:0, dense/bias:0, batch_normalization/gamma:0,
    # batch_normalization/beta:0, dense_1/kernel:0, dense_1/bias:0, batch_normalization/moving_mean:0, …`
    # (tf-keras `saving/legacy/hdf5_format.py` `save_weights_to_hdf5_group`: `_legacy_weights(layer)`;
    # checked against a file tf-keras 2.21 wrote: the same layer_names and weight_names).
    inner = {"class_name": "Sequential", "config": {"name": "inner", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "dtype": "float32", "name": "inner_input"}},
        {"class_name": "Dense", "config": dense_config("dense", 3)},
        {"class_name": "BatchNormalization", "config": {"name": "batch_normalization", "trainable": True, "axis": [1],
                                                         "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True}},
        {"class_name": "Dropout", "config": {"name": "dropout", "trainable": True, "rate": 0.2}},
        {"class_name": "Dense", "config": dense_config("dense_1", 2)}]}}
    outer = {"class_name": "Functional", "config": {"name": "model", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "dtype": "float32", "name": "input_1"},
         "name": "input_1", "inbound_nodes": []},
        dict(inner, name="inner", inbound_nodes=[[["input_1", 0, 0, {}]]]),
        {"class_name": "Dense", "config": dense_config("head", 1), "name": "head", "inbound_nodes": [[["inner", 0, 0, {}]]]}],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["head", 0, 0]]}}
    stored = [("dense/kernel:0", f32(4, 3)), ("dense/bias:0", f32(3)), ("batch_normalization/gamma:0", f32(3)),
              ("batch_normalization/beta:0", f32(3)), ("dense_1/kernel:0", f32(3, 2)), ("dense_1/bias:0", f32(2)),
              ("batch_normalization/moving_mean:0", f32(3)), ("batch_normalization/moving_variance:0", f32(3))]
    write_legacy(os.path.join(OUT, "tfkeras24_nested.h5"), "2.4.0", "tensorflow", outer, None,
                 [("input_1", []), ("inner", stored), ("head", [("head/kernel:0", f32(2, 1)), ("head/bias:0", f32(1))])], None)
    truth["tfkeras24_nested.h5"] = {
        "era": "tf.keras 2.4 (h5py reproduction)", "format": "legacy-h5", "noOptimizer": True,
        "layers": [["input_1", "InputLayer", []], ["inner/dense", "Dense", ["kernel", "bias"]],
                   ["inner/batch_normalization", "BatchNormalization", ["gamma", "beta", "moving_mean", "moving_variance"]],
                   ["inner/dropout", "Dropout", []], ["inner/dense_1", "Dense", ["kernel", "bias"]],
                   ["head", "Dense", ["kernel", "bias"]]]}


def other_inputs(truth):
    """Files that are not Keras checkpoints, each with the words its error must contain."""
    def put(name, data, expect):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        truth[name] = {"error": expect}
    # Git LFS pointer (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md).
    put("lfs_pointer.h5", b"version https://git-lfs.github.com/spec/v1\n"
        b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n", "Git LFS pointer")
    # A model config saved under a weights name (model.to_json()).
    put("config_only.weights.json", json.dumps({"class_name": "Sequential", "config": {"name": "sequential", "layers": []},
                                                "keras_version": "3.15.1", "backend": "tensorflow"}).encode(), "model config")
    put("model.pkl", pickle.dumps({"weights": [1.0, 2.0]}, protocol=4), "pickle")
    # PyTorch >= 1.6 torch.save: a zip whose members sit in one folder, with data.pkl and version.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle.dumps({}, protocol=2))
        z.writestr("archive/version", "3\n")
    put("torch_model.pt", buffer.getvalue(), "PyTorch")
    # ONNX ModelProto: ir_version (field 1, varint 7), producer_name (field 2) "pytorch",
    # producer_version (field 3) "2.1" (onnx/onnx.proto).
    put("model.onnx", bytes([0x08, 0x07, 0x12, 0x07]) + b"pytorch" + bytes([0x1A, 0x03]) + b"2.1", "ONNX")
    # TensorFlow SavedModel folder: saved_model.pb (SavedModel proto: saved_model_schema_version = 1,
    # then meta_graphs) and variables/.
    saved = os.path.join(OUT, "saved_model")
    os.makedirs(os.path.join(saved, "variables"), exist_ok=True)
    with open(os.path.join(saved, "saved_model.pb"), "wb") as f:
        f.write(bytes([0x08, 0x01, 0x12, 0x02, 0x0A, 0x00]))
    truth["saved_model"] = {"error": "SavedModel"}
    # TensorFlow checkpoint index: an SSTable whose footer ends in the magic 0xdb4775248b80fb57
    # (tensorflow/core/lib/io/format.h kTableMagicNumber), little-endian.
    put("ckpt.index", bytes(40) + (0xDB4775248B80FB57).to_bytes(8, "little"), "TensorFlow checkpoint")


def keras3_files(truth):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    from keras import layers
    keras.utils.set_random_seed(11)

    def record(rel, model, saved_steps, lr, optimizer, extra=None):
        """The truth from the model itself: one row per Keras layer with its weights' own names;
        the step and rate given are checked against the optimizer's own variables."""
        used = getattr(model.optimizer, "inner_optimizer", model.optimizer)
        assert int(used.iterations.numpy()) == saved_steps, (rel, int(used.iterations.numpy()))
        assert abs(float(used.learning_rate.numpy()) - lr) <= 1e-7 * lr, (rel, float(used.learning_rate.numpy()))
        rows = []
        def add(layer, prefix=""):
            if isinstance(layer, keras.Model):  # a nested model: one row per inner layer, `outer/inner`
                for inner in layer.layers:
                    add(inner, prefix + layer.name + "/")
                return
            # Keras's own variable names and shapes, in the layer's `weights` order.
            rows.append([prefix + layer.name, layer.__class__.__name__, [w.name for w in layer.weights],
                         [list(w.shape) for w in layer.weights]])
        for layer in model.layers:
            add(layer)
        entry = {"era": f"Keras {keras.__version__}", "format": "keras-zip" if rel.endswith(".keras") else "weights-h5",
                 "layers": rows, "optimizer": optimizer, "iterations": saved_steps, "learningRateInitial": lr,
                 "learningRateAtSavedStep": lr, "schedule": "constant"}
        entry.update(extra or {})
        truth[rel] = entry

    x3, y2 = RNG.random((16, 3)).astype("float32"), RNG.random((16, 2)).astype("float32")
    xs = RNG.random((16, 5, 3)).astype("float32")

    # RNN layers: Keras 3 keeps a cell's variables under `layers/lstm/cell/vars`.
    rnn = keras.Sequential([keras.Input((5, 3)), layers.LSTM(4, return_sequences=True), layers.GRU(3, return_sequences=True),
                            layers.Bidirectional(layers.SimpleRNN(2, return_sequences=True)),
                            layers.TimeDistributed(layers.Dense(2)), layers.Dropout(0.1), layers.Flatten(), layers.Dense(2)])
    rnn.compile(keras.optimizers.Adam(0.002), "mse")
    rnn.fit(xs, y2, epochs=1, batch_size=8, verbose=0)
    rnn.save(os.path.join(OUT, "k3_rnn.keras"))
    rnn.save_weights(os.path.join(OUT, "k3_rnn.weights.h5"))
    record("k3_rnn.keras", rnn, 2, 0.002, "Adam")
    # Keras 3's legacy writer names weights by their full variable path
    # (`sequential/bidirectional/forward_simple_rnn/simple_rnn_cell/kernel`).
    rnn.save(os.path.join(OUT, "k3_rnn.h5"))
    record("k3_rnn.h5", rnn, 2, 0.002, "Adam", {"format": "legacy-h5"})
    # Bare: no config, so no class for the optimizer; the rate is optimizer variable 1.
    record("k3_rnn.weights.h5", rnn, 2, 0.002, None, {"layerOrder": "path"})

    # A functional model (its InputLayer is one of its layers) holding an LSTM and a nested
    # Sequential with a Dropout: weightless layers in model order, at both levels.
    inp = keras.Input((5, 3))
    inner = keras.Sequential([keras.Input((4,)), layers.Dense(3), layers.Dropout(0.1), layers.Dense(2)], name="inner")
    fn = keras.Model(inp, layers.Dense(1)(inner(layers.LSTM(4)(inp))))
    fn.compile(keras.optimizers.Adam(0.001), "mse")
    fn.fit(xs, y2[:, :1], epochs=1, batch_size=16, verbose=0)
    fn.save(os.path.join(OUT, "k3_functional_nested.keras"))
    record("k3_functional_nested.keras", fn, 1, 0.001, "Adam")

    # Normalization (mean, variance, count), compiled with a string (Keras 3.15 serialises the
    # optimizer object; Keras 3.0–3.3 stored the argument as given, keras v3.3.3
    # `trainers/trainer.py`: SerializableDict(optimizer=optimizer) after `self.optimizer =
    # optimizers.get(optimizer)` — reproduced by building the dict the same way).
    from keras.src.saving import serialization_lib
    norm = layers.Normalization()
    norm.adapt(RNG.random((20, 3)).astype("float32"))
    nm = keras.Sequential([keras.Input((3,)), norm, layers.Dense(2), layers.Activation("relu")])
    nm.compile(optimizer="rmsprop", loss="mse")
    nm._compile_config = serialization_lib.SerializableDict(optimizer="rmsprop", loss="mse", loss_weights=None, metrics=None,
                                                             weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                                                             jit_compile=False)
    nm.optimizer.learning_rate = 0.0005  # what a callback (ReduceLROnPlateau) does; Keras saves the variable
    nm.fit(x3, y2, epochs=1, batch_size=8, verbose=0)
    nm.save(os.path.join(OUT, "k3_string_optimizer.keras"))
    with zipfile.ZipFile(os.path.join(OUT, "k3_string_optimizer.keras")) as z:
        assert json.loads(z.read("config.json"))["compile_config"]["optimizer"] == "rmsprop"
    record("k3_string_optimizer.keras", nm, 2, 0.0005, "RMSprop")

    # Mixed precision: compile wraps the optimizer in a LossScaleOptimizer.
    keras.mixed_precision.set_global_policy("mixed_float16")
    mp = keras.Sequential([keras.Input((3,)), layers.Dense(4), layers.Dense(2, dtype="float32")])
    mp.compile(optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.05)), loss="mse")
    mp.fit(x3, y2, epochs=1, batch_size=8, verbose=0)
    mp.save(os.path.join(OUT, "k3_mixed.keras"))
    mp.save_weights(os.path.join(OUT, "k3_mixed.weights.h5"))
    keras.mixed_precision.set_global_policy("float32")
    inner = mp.optimizer.inner_optimizer
    record("k3_mixed.keras", mp, int(inner.iterations.numpy()), 0.05, "SGD",
           {"lossScaled": True, "innerVariables": len(inner.variables)})
    record("k3_mixed.weights.h5", mp, int(inner.iterations.numpy()), 0.05, None,
           {"lossScaled": True, "innerVariables": len(inner.variables), "layerOrder": "path"})

    # A subclassed model: its layers are attributes, saved under their attribute names.
    class Net(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dsn1 = layers.Dense(4)
            self.fuse = layers.Dense(2)

        def call(self, x):
            return self.fuse(self.dsn1(x))

    net = Net()
    net.compile(keras.optimizers.Adam(0.001), "mse")
    net.fit(x3, y2, epochs=1, batch_size=16, verbose=0)
    net.save(os.path.join(OUT, "k3_subclassed.keras"))
    # Attribute groups say nothing of the class: it must be reported unknown (None), the weights
    # by index.
    truth["k3_subclassed.keras"] = {"era": f"Keras {keras.__version__}", "format": "keras-zip",
                                    "layers": [[layer.name, None, ["0", "1"], [list(w.shape) for w in layer.weights]]
                                               for layer in (net.dsn1, net.fuse)],
                                    "optimizer": "Adam", "iterations": int(net.optimizer.iterations.numpy()),
                                    "learningRateInitial": 0.001,
                                    "learningRateAtSavedStep": 0.001, "schedule": "constant"}


def nan_config_files(truth):
    """A config holding NaN: Masking(mask_value=NaN), the idiom for sequences padded with NaN.
    Python's json writes it as the bare word NaN (json.dumps allow_nan=True, Keras's default), in
    `.keras` config.json and in the legacy file's model_config alike — not JSON by RFC 8259, so a
    strict parser refused both files."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    from keras import layers
    keras.utils.set_random_seed(12)
    xs = np.where(RNG.random((16, 5, 3)) < 0.2, np.nan, RNG.random((16, 5, 3))).astype("float32")
    y = RNG.random((16, 2)).astype("float32")
    model = keras.Sequential([keras.Input((5, 3)), layers.Masking(mask_value=float("nan")), layers.LSTM(4), layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.003), "mse")
    model.fit(np.nan_to_num(xs), y, epochs=1, batch_size=8, verbose=0)
    rows = [[l.name, l.__class__.__name__, [w.name for w in l.weights], [list(w.shape) for w in l.weights]] for l in model.layers]
    steps = int(model.optimizer.iterations.numpy())
    for rel, fmt in (("k3_masking_nan.keras", "keras-zip"), ("k3_masking_nan.h5", "legacy-h5")):
        model.save(os.path.join(OUT, rel))
        truth[rel] = {"era": f"Keras {keras.__version__}", "format": fmt, "layers": rows, "optimizer": "Adam",
                      "iterations": steps, "learningRateInitial": 0.003, "learningRateAtSavedStep": 0.003,
                      "schedule": "constant"}
    with zipfile.ZipFile(os.path.join(OUT, "k3_masking_nan.keras")) as z:
        assert b'"mask_value": NaN' in z.read("config.json")
    with h5py.File(os.path.join(OUT, "k3_masking_nan.h5"), "r") as f:
        assert '"mask_value": NaN' in f.attrs["model_config"]


TF_KERAS_STRING_OPTIMIZER = r"""
import json, os, sys, zipfile
import numpy as np
import tf_keras as keras
out = sys.argv[1]
keras.utils.set_random_seed(11)
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
model.compile(optimizer="adam", loss="mse")  # tf-keras keeps the string in compile_config
model.fit(np.ones((8, 3), "float32"), np.ones((8, 2), "float32"), batch_size=4, verbose=0)
model.save(out)
with zipfile.ZipFile(out) as z:
    assert json.loads(z.read("config.json"))["compile_config"]["optimizer"] == "adam"
def rows(m):
    return [[l.name, l.__class__.__name__, [w.name.split("/")[-1].split(":")[0] for w in l.weights],
             [list(w.shape) for w in l.weights]] for l in m.layers]
info = {"version": keras.__version__, "iterations": int(model.optimizer.iterations.numpy()), "layers": rows(model)}
# A legacy .h5 with a Bidirectional LSTM, compiled with a legacy optimizer and Keras 2's `decay`.
rnn = keras.Sequential([keras.Input((4, 3)), keras.layers.Bidirectional(keras.layers.LSTM(2)), keras.layers.Dense(1)])
rnn.compile(optimizer=keras.optimizers.legacy.SGD(learning_rate=0.05, decay=0.01), loss="mse")
rnn.fit(np.ones((8, 4, 3), "float32"), np.ones((8, 1), "float32"), batch_size=4, verbose=0)
rnn.save(sys.argv[2])
rnn.save_weights(sys.argv[3])  # legacy weights-only .h5: no config, so no classes
info["rnn"] = {"iterations": int(rnn.optimizer.iterations.numpy()), "layers": rows(rnn)}
print(json.dumps(info))
"""


def tf_keras_files(truth):
    """tf-keras (a separate process: it must not share one with Keras 3) compiled with a string:
    its optimizer stores only the step before the slots (tf-keras `optimizers/optimizer.py`),
    so the rate is the class default Keras rebuilds from the name (Adam: 0.001)."""
    import subprocess
    rel = "tfk_string_optimizer.keras"
    done = subprocess.run([sys.executable, "-c", TF_KERAS_STRING_OPTIMIZER, os.path.join(OUT, rel),
                           os.path.join(OUT, "tfk_bidirectional_decay.h5"), os.path.join(OUT, "tfk_bidirectional_weights.h5")],
                          check=True, capture_output=True, text=True)
    info = json.loads(done.stdout.strip().splitlines()[-1])
    truth[rel] = {"era": f"tf-keras {info['version']}", "format": "keras-zip", "layers": info["layers"],
                  "optimizer": "Adam", "iterations": info["iterations"], "learningRateInitial": 0.001,
                  "learningRateAtSavedStep": 0.001, "schedule": "constant"}
    # Written by tf-keras itself: the legacy optimizer's config has `learning_rate` and `decay`,
    # its counter is `iter` (int64); Bidirectional weights are `bidirectional/forward_lstm/lstm_cell/kernel:0`.
    steps = info["rnn"]["iterations"]
    truth["tfk_bidirectional_decay.h5"] = {
        "era": f"tf-keras {info['version']}", "format": "legacy-h5", "layers": info["rnn"]["layers"], "optimizer": "SGD",
        "iterations": steps, "learningRateInitial": 0.05, "learningRateAtSavedStep": 0.05 / (1 + 0.01 * steps),
        "schedule": "TimeBasedDecay"}
    # The same weights saved alone: a Bidirectional is still one row, told by its
    # forward_/backward_ owners; no config, so no classes and no optimizer.
    truth["tfk_bidirectional_weights.h5"] = {
        "era": f"tf-keras {info['version']}", "format": "legacy-weights-h5", "noOptimizer": True,
        "layers": [[name, None, weights, shapes] for name, _, weights, shapes in info["rnn"]["layers"]]}


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    truth = {}
    legacy_files(truth)
    nested_file(truth)
    other_inputs(truth)
    keras3_files(truth)
    nan_config_files(truth)
    tf_keras_files(truth)
    with open(os.path.join(OUT, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(truth)} entries to samples/era")


if __name__ == "__main__":
    sys.exit(main())
