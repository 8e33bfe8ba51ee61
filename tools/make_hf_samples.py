#!/usr/bin/env python3
"""Writes samples/hf/: what Hugging Face transformers' TensorFlow models save, and
samples/hf/truth.json, the ground truth Tests/CLITests/HuggingFaceTests.swift checks against.

A tiny BERT for sequence classification (random weights, seeded; 2 encoder layers, hidden
size 32, 26,819 parameters), written by transformers itself with `save_pretrained`:
  * tf_base/      tf_model.h5 + config.json: Keras `save_weights` HDF5 in which one Keras layer
                  (`bert`, a TFBertMainLayer) holds every sublayer's weights under name scopes,
                  `tf_bert_for_sequence_classification/bert/encoder/layer_._0/attention/self/query/kernel:0`;
  * tf_tuned/     the same model after every weight moved by a relative 1e-3 × (1 + layer index):
                  a "fine-tune" whose per-layer change the truth records;
  * tf_tuned_st/  the tuned model with `safe_serialization=True`: model.safetensors with TF
                  variable names (`bert/encoder/layer_._0/attention/self/query/kernel:0`).

The truth is computed here from transformers' own variables (name minus the model prefix and
the `:0` suffix; a layer is the module path, the weight the last name), not from the files.

Needs the sample venv (tools/requirements-samples.txt) plus tools/requirements-hf.txt:
  /work/venv-samples/bin/pip install --target /tmp/hf-pkgs -r tools/requirements-hf.txt --no-deps
  PYTHONPATH=/tmp/hf-pkgs TF_USE_LEGACY_KERAS=1 /work/venv-samples/bin/python tools/make_hf_samples.py
(--target keeps transformers out of the sample venv; --no-deps keeps its numpy and safetensors.)
"""
import json
import os
import shutil
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # transformers' TF models are tf-keras models
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("PYTHONHASHSEED", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import transformers  # noqa: E402
from transformers import BertConfig, TFBertForSequenceClassification  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "samples", "hf")


def short(variable, prefix):
    """`tf_bert_for_sequence_classification/bert/embeddings/LayerNorm/gamma:0` → (`bert/embeddings/LayerNorm`, `gamma`)."""
    name = variable.name
    if name.startswith(prefix + "/"):
        name = name[len(prefix) + 1:]
    name = name.rsplit(":", 1)[0]
    layer, _, weight = name.rpartition("/")
    return layer, weight


def rows(model):
    """The layers in variable order, each with its weights, shapes and values (float64)."""
    out = {}
    for v in model.weights:
        layer, weight = short(v, model.name)
        out.setdefault(layer, []).append((weight, list(v.shape), v.numpy().astype(np.float64)))
    return out


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    tf.keras.utils.set_random_seed(0)
    config = BertConfig(vocab_size=200, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=3)
    model = TFBertForSequenceClassification(config)
    model(model.dummy_inputs)
    model.save_pretrained(os.path.join(OUT, "tf_base"))
    base = rows(model)

    rng = np.random.default_rng(7)
    for v in model.weights:
        value = v.numpy()
        layer_index = list(base).index(short(v, model.name)[0])
        noise = rng.standard_normal(value.shape).astype(np.float32)
        scale = 1e-3 * (1 + layer_index) * np.linalg.norm(value) / max(np.linalg.norm(noise), 1e-30)
        v.assign(value + scale * noise)
    model.save_pretrained(os.path.join(OUT, "tf_tuned"))
    model.save_pretrained(os.path.join(OUT, "tf_tuned_st"), safe_serialization=True)
    tuned = rows(model)

    layers = []
    for layer, weights in base.items():
        a = np.concatenate([w[2].ravel() for w in weights])
        b = np.concatenate([w[2].ravel() for w in tuned[layer]])
        layers.append({"name": layer, "weights": [w[0] for w in weights], "shapes": [w[1] for w in weights],
                       "relativeChange": float(np.linalg.norm(b - a) / np.linalg.norm(a))})
    truth = {"transformers": transformers.__version__, "tensorflow": tf.__version__,
             "parameters": int(sum(np.prod(w[1]) for ws in base.values() for w in ws)), "layers": layers}
    with open(os.path.join(OUT, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(layers)} layers, {truth['parameters']} parameters to samples/hf")


if __name__ == "__main__":
    sys.exit(main())
