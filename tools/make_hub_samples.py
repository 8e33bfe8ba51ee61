#!/usr/bin/env python3
"""Writes what two model hubs' libraries save, each with the ground truth
Tests/CLITests/HubTests.swift checks against:

samples/hf/ and its truth.json: Hugging Face transformers' TensorFlow models.
A tiny BERT for sequence classification (random weights, seeded; 2 encoder layers, hidden
size 32, 26,819 parameters), written by transformers itself with `save_pretrained`:
  * tf_base/      tf_model.h5 + config.json: Keras `save_weights` HDF5 in which one Keras layer
                  (`bert`, a TFBertMainLayer) holds every sublayer's weights under name scopes,
                  `tf_bert_for_sequence_classification/bert/encoder/layer_._0/attention/self/query/kernel:0`;
  * tf_tuned/     the same model after every weight moved by a relative 1e-3 × (1 + layer index):
                  a "fine-tune" whose per-layer change the truth records;
  * tf_tuned_st/  the tuned model with `safe_serialization=True`: model.safetensors with TF
                  variable names (`bert/encoder/layer_._0/attention/self/query/kernel:0`);
  * tf_tuned_sharded/  the tuned model with `max_shard_size="40KB"`: tf_model.h5.index.json and
                  three .h5 shards whose datasets are the variable paths;
  * t5/           a tiny T5's tf_model.h5: three Keras layers (shared, encoder, decoder), each
                  also listing the tied embedding, which lies outside its scope.

The truth is computed here from transformers' own variables (name minus the model prefix and
the `:0` suffix; a layer is the module path, the weight the last name), not from the files.

samples/kerashub/ and its truth.json: keras-hub's `save_to_preset` (Keras 3) of a tiny random
BertBackbone (2 layers, hidden 16, 6,896 parameters) — `model.weights.h5` with `config.json`
(the backbone's hyperparameters, no layer list) and `metadata.json` — as base_preset/, and
tuned_preset/ after each layer moved by a known relative change. Its truth comes from the
backbone's own variables (`w.path`: layer = all but the last name). keras-hub runs in a child
process: it needs Keras 3, transformers' TF models need tf-keras.

Needs the sample venv (tools/requirements-samples.txt) plus tools/requirements-hub.txt:
  /work/venv-samples/bin/pip install --target /tmp/hub-pkgs -r tools/requirements-hub.txt --no-deps
  PYTHONPATH=/tmp/hub-pkgs /work/venv-samples/bin/python tools/make_hub_samples.py
(--target keeps these out of the sample venv; --no-deps keeps its numpy and safetensors, and
leaves out keras-hub's kagglehub and tensorflow-text, which saving a backbone does not use.)
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(HERE, "..", "samples")


def relative_changes(base, tuned):
    """Per layer (in `base`'s order): weights, shapes, and ‖tuned − base‖ / ‖base‖ over the layer."""
    layers = []
    for layer, weights in base.items():
        a = np.concatenate([w[2].ravel() for w in weights])
        b = np.concatenate([w[2].ravel() for w in tuned[layer]])
        layers.append({"name": layer, "weights": [w[0] for w in weights], "shapes": [w[1] for w in weights],
                       "relativeChange": float(np.linalg.norm(b - a) / np.linalg.norm(a))})
    return layers


def moved(values, layer_index, rng):
    """`values` plus noise of relative size 1e-3 × (1 + the layer's index)."""
    noise = rng.standard_normal(values.shape).astype(values.dtype)
    return values + 1e-3 * (1 + layer_index) * np.linalg.norm(values) / max(np.linalg.norm(noise), 1e-30) * noise


def write_truth(folder, truth):
    with open(os.path.join(folder, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)
        f.write("\n")


def fresh(folder):
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    return folder


def huggingface():
    """samples/hf, with tf-keras (transformers' TF models are tf-keras models)."""
    import tensorflow as tf
    import transformers
    from transformers import BertConfig, TFBertForSequenceClassification
    out = fresh(os.path.join(SAMPLES, "hf"))
    tf.keras.utils.set_random_seed(0)
    config = BertConfig(vocab_size=200, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=3)
    model = TFBertForSequenceClassification(config)
    model(model.dummy_inputs)
    model.save_pretrained(os.path.join(out, "tf_base"))

    def rows():
        """`tf_bert_for_sequence_classification/bert/embeddings/LayerNorm/gamma:0` → layer
        `bert/embeddings/LayerNorm`, weight `gamma`; in variable order."""
        table = {}
        for v in model.weights:
            name = v.name[len(model.name) + 1:] if v.name.startswith(model.name + "/") else v.name
            layer, _, weight = name.rsplit(":", 1)[0].rpartition("/")
            table.setdefault(layer, []).append((weight, list(v.shape), v.numpy().astype(np.float64)))
        return table
    base = rows()
    rng = np.random.default_rng(7)
    order = list(base)
    for v in model.weights:
        name = v.name[len(model.name) + 1:].rsplit(":", 1)[0]
        v.assign(moved(v.numpy(), order.index(name.rpartition("/")[0]), rng))
    model.save_pretrained(os.path.join(out, "tf_tuned"))
    model.save_pretrained(os.path.join(out, "tf_tuned_st"), safe_serialization=True)
    model.save_pretrained(os.path.join(out, "tf_tuned_sharded"), max_shard_size="40KB")
    layers = relative_changes(base, rows())
    parameters = int(sum(np.prod(w[1]) for ws in base.values() for w in ws))

    # A T5 (encoder-decoder): its Keras layers `shared`, `encoder` and `decoder` each list the
    # tied embedding `shared/shared/embeddings:0` beside their own blocks' variables
    # (`tft5_for_conditional_generation/encoder/block_._0/…`). Each row is a Keras layer's
    # sublayer: the variable path below the layer's own scope, or the whole path where the
    # variable is not under it (the tied embedding); a Keras layer whose variables all sit in one
    # folder (`shared`) is one row under its own name, as any plain Keras layer is.
    from transformers import T5Config, TFT5ForConditionalGeneration
    tf.keras.utils.set_random_seed(0)
    t5 = TFT5ForConditionalGeneration(T5Config(d_model=16, d_ff=32, num_layers=2, num_heads=2, d_kv=8, vocab_size=64))
    t5(t5.dummy_inputs)
    t5.save_pretrained(os.path.join(out, "t5"))
    t5_rows = {}
    for layer in t5.layers:
        folders = {tuple(v.name.rsplit(":", 1)[0].split("/")[:-1]) for v in layer.weights}
        for v in layer.weights:
            folder = v.name.rsplit(":", 1)[0].split("/")[:-1]
            below = folder[folder.index(layer.name) + 1:] if layer.name in folder else folder
            row = layer.name if not below or len(folders) == 1 else layer.name + "/" + "/".join(below)
            t5_rows.setdefault(row, 0)
            t5_rows[row] += int(np.prod(v.shape))
    t5_truth = {"rows": sorted(t5_rows), "parameters": int(sum(t5_rows.values()))}
    write_truth(out, {"transformers": transformers.__version__, "tensorflow": tf.__version__,
                      "parameters": parameters, "layers": layers, "t5": t5_truth})
    print(f"wrote {len(layers)} layers, {parameters} parameters to samples/hf")


def kerashub():
    """samples/kerashub, with Keras 3."""
    import keras
    import keras_hub
    out = fresh(os.path.join(SAMPLES, "kerashub"))
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.BertBackbone(vocabulary_size=100, num_layers=2, num_heads=2, hidden_dim=16,
                                             intermediate_dim=32, max_sequence_length=32)
    backbone.save_to_preset(os.path.join(out, "base_preset"))

    def rows():
        table = {}
        for w in backbone.weights:
            layer, _, weight = w.path.rpartition("/")
            table.setdefault(layer, []).append((weight, list(w.shape), np.asarray(w.numpy(), dtype=np.float64)))
        return table
    base = rows()
    rng = np.random.default_rng(7)
    order = list(base)
    for w in backbone.weights:
        w.assign(moved(w.numpy(), order.index(w.path.rpartition("/")[0]), rng))
    backbone.save_to_preset(os.path.join(out, "tuned_preset"))
    for preset in ("base_preset", "tuned_preset"):  # the save date would change every run
        path = os.path.join(out, preset, "metadata.json")
        with open(path) as f:
            metadata = json.load(f)
        metadata["date_saved"] = "2026-12-01@00:00:00"
        with open(path, "w") as f:
            json.dump(metadata, f, indent=4)
    write_truth(out, {"kerasHub": keras_hub.__version__, "keras": keras.__version__,
                      "parameters": int(backbone.count_params()), "layers": relative_changes(base, rows())})
    print(f"wrote {len(base)} layers, {backbone.count_params()} parameters to samples/kerashub")


def main():
    """Each library in its own process: transformers' TF models need tf-keras, keras-hub Keras 3."""
    if sys.argv[1:] == ["--huggingface"]:
        return huggingface()
    if sys.argv[1:] == ["--kerashub"]:
        return kerashub()
    quiet = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}
    legacy = dict(os.environ, TF_USE_LEGACY_KERAS="1", **quiet)
    keras3 = {k: v for k, v in dict(os.environ, KERAS_BACKEND="tensorflow", **quiet).items() if k != "TF_USE_LEGACY_KERAS"}
    me = os.path.abspath(__file__)
    subprocess.run([sys.executable, me, "--huggingface"], check=True, env=legacy)
    subprocess.run([sys.executable, me, "--kerashub"], check=True, env=keras3)


if __name__ == "__main__":
    sys.exit(main())
