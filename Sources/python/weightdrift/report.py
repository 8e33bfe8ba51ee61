"""Typed views of the JSON reports (`schemaVersion` 1). Fields the tool adds later are kept in
`raw`, the parsed JSON object; nothing here computes a figure the tool did not report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ._binary import SchemaError

SCHEMA_VERSION = 1


def _check_schema(data: Any, what: str) -> dict:
    if not isinstance(data, dict):
        raise SchemaError(f"{what}: the report is not a JSON object", 0)
    version = data.get("schemaVersion")
    if version != SCHEMA_VERSION:
        raise SchemaError(f"{what}: schemaVersion {version!r}, this package reads {SCHEMA_VERSION}", 0)
    return data


def _float(value: Any) -> Optional[float]:
    """JSON number → float; null (the tool's undefined or non-finite) → None."""
    return None if value is None else float(value)


@dataclass(frozen=True)
class Input:
    """One side of a comparison, as `compare` reports it."""

    path: str
    format: str
    sha256: Optional[str]
    keras_version: Optional[str]
    layers: int
    parameters: int
    layer_order: str
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict) -> "Input":
        return cls(d["path"], d["format"], d.get("sha256"), d.get("kerasVersion"), d.get("layers", 0),
                   d.get("parameters", 0), d.get("layerOrder", ""), d)


@dataclass(frozen=True)
class Metrics:
    """The metric fields shared by layers and weights; None where the tool reports null."""

    relative_change: Optional[float]
    relative_to: Optional[str]
    cosine: Optional[float]
    angle_degrees: Optional[float]
    norm_ratio: Optional[float]
    base_norm: Optional[float]
    tuned_norm: Optional[float]
    diff_norm: Optional[float]
    max_abs_change: Optional[float]
    rms_change: Optional[float]
    changed_fraction: Optional[float]
    frozen: Optional[bool]
    nan_count: int
    inf_count: int

    @staticmethod
    def fields_from_json(d: dict) -> dict:
        return dict(
            relative_change=_float(d.get("relativeChange")), relative_to=d.get("relativeTo"),
            cosine=_float(d.get("cosine")), angle_degrees=_float(d.get("angleDegrees")),
            norm_ratio=_float(d.get("normRatio")), base_norm=_float(d.get("baseNorm")),
            tuned_norm=_float(d.get("tunedNorm")), diff_norm=_float(d.get("diffNorm")),
            max_abs_change=_float(d.get("maxAbsChange")), rms_change=_float(d.get("rmsChange")),
            changed_fraction=_float(d.get("changedFraction")), frozen=d.get("frozen"),
            nan_count=d.get("nanCount", 0), inf_count=d.get("infCount", 0),
        )


@dataclass(frozen=True)
class WeightDrift(Metrics):
    name: str = ""
    status: str = ""
    base_path: Optional[str] = None
    tuned_path: Optional[str] = None
    shape: tuple = ()
    reasons: tuple = ()
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict) -> "WeightDrift":
        return cls(name=d["name"], status=d["status"], base_path=d.get("basePath"), tuned_path=d.get("tunedPath"),
                   shape=tuple(d.get("shape") or ()), reasons=tuple(d.get("reasons") or ()), raw=d,
                   **Metrics.fields_from_json(d))


@dataclass(frozen=True)
class LayerDrift(Metrics):
    """One row of the report: a layer's verdict and its aggregate figures."""

    name: str = ""
    status: str = ""
    fails_gate: bool = False
    reasons: tuple = ()
    base_name: Optional[str] = None
    tuned_name: Optional[str] = None
    class_name: Optional[str] = None
    matched_by: Optional[str] = None
    parameters: int = 0
    weights: tuple = ()
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict) -> "LayerDrift":
        return cls(name=d["name"], status=d["status"], fails_gate=bool(d["failsGate"]),
                   reasons=tuple(d.get("reasons") or ()), base_name=d.get("baseName"), tuned_name=d.get("tunedName"),
                   class_name=d.get("className"), matched_by=d.get("matchedBy"), parameters=d.get("parameters", 0),
                   weights=tuple(WeightDrift.from_json(w) for w in d.get("weights") or ()), raw=d,
                   **Metrics.fields_from_json(d))


@dataclass(frozen=True)
class Forgetting:
    """The catastrophic-forgetting assessment: risk "low" | "medium" | "high" and its score."""

    risk: str
    score: Optional[float]
    backbone_relative_change: Optional[float]
    early_relative_change: Optional[float]
    late_relative_change: Optional[float]
    head_layers: tuple
    explanation: str
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict) -> "Forgetting":
        return cls(d["risk"], _float(d.get("score")), _float(d.get("backboneRelativeChange")),
                   _float(d.get("earlyRelativeChange")), _float(d.get("lateRelativeChange")),
                   tuple(d.get("headLayers") or ()), d.get("explanation", ""), d)


@dataclass(frozen=True)
class CompareReport:
    """`weightdrift compare --format json`, typed. `passed` is the gate's verdict."""

    passed: bool
    exit_code: int
    base: Input
    tuned: Input
    match_mode: str
    layers: tuple
    counts: dict
    worst_layer: Optional[str]
    failures: tuple
    forgetting: Forgetting
    notes: tuple
    raw: dict = field(repr=False, compare=False)

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "fail"

    def layer(self, name: str) -> LayerDrift:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @property
    def max_relative_change(self) -> Optional[float]:
        """The largest layer relative change the tool reported (None when no layer has one)."""
        values = [layer.relative_change for layer in self.layers if layer.relative_change is not None]
        return max(values) if values else None

    @property
    def nan_count(self) -> int:
        """NaN values in the tuned checkpoint, over every layer."""
        return sum(layer.nan_count for layer in self.layers)

    @classmethod
    def from_json(cls, data: Any, exit_code: int) -> "CompareReport":
        d = _check_schema(data, "compare")
        try:
            summary = d["summary"]
            verdict = summary["verdict"]
            if verdict not in ("pass", "fail"):
                raise SchemaError(f"compare: unknown verdict {verdict!r}", exit_code)
            passed = verdict == "pass"
            # The exit code and the JSON must tell the same story; if not, nobody can trust either.
            if passed != (exit_code == 0):
                raise SchemaError(f"compare: verdict {verdict!r} but exit code {exit_code}", exit_code)
            return cls(
                passed=passed, exit_code=exit_code, base=Input.from_json(d["base"]),
                tuned=Input.from_json(d["tuned"]), match_mode=d.get("matchMode", ""),
                layers=tuple(LayerDrift.from_json(layer) for layer in d["layers"]),
                counts=dict(summary.get("counts") or {}), worst_layer=summary.get("worstLayer"),
                failures=tuple(summary.get("failures") or ()), forgetting=Forgetting.from_json(d["forgetting"]),
                notes=tuple(d.get("notes") or ()), raw=d,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise SchemaError(f"compare: the JSON report lacks or mistypes {error}", exit_code) from error


@dataclass(frozen=True)
class WeightInfo:
    name: str
    path: str
    shape: tuple
    dtype: str
    count: int
    raw: dict = field(repr=False, compare=False)


@dataclass(frozen=True)
class LayerInfo:
    name: str
    class_name: Optional[str]
    path: str
    trainable: Optional[bool]
    parameters: int
    weights: tuple
    raw: dict = field(repr=False, compare=False)


@dataclass(frozen=True)
class InspectReport:
    """`weightdrift inspect --format json`, typed. With `stats=True`, `healthy` is False when
    a value is NaN or Inf (the tool's exit 1) and each layer's `raw` holds its statistics."""

    path: str
    format: str
    keras_version: Optional[str]
    backend: Optional[str]
    layer_order: str
    total_parameters: int
    layers: tuple
    optimizer: Optional[dict]
    notes: tuple
    exit_code: int
    raw: dict = field(repr=False, compare=False)

    @property
    def healthy(self) -> bool:
        return self.exit_code == 0

    def layer(self, name: str) -> LayerInfo:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @classmethod
    def from_json(cls, data: Any, exit_code: int) -> "InspectReport":
        d = _check_schema(data, "inspect")
        try:
            layers = tuple(
                LayerInfo(layer["name"], layer.get("className"), layer["path"], layer.get("trainable"),
                          layer.get("parameters", 0),
                          tuple(WeightInfo(w["name"], w["path"], tuple(w["shape"]), w["dtype"], w["count"], w)
                                for w in layer["weights"]), layer)
                for layer in d["layers"]
            )
            return cls(d["path"], d["format"], d.get("kerasVersion"), d.get("backend"), d.get("layerOrder", ""),
                       d.get("totalParameters", 0), layers, d.get("optimizer"), tuple(d.get("notes") or ()),
                       exit_code, d)
        except (KeyError, TypeError, ValueError) as error:
            raise SchemaError(f"inspect: the JSON report lacks or mistypes {error}", exit_code) from error
