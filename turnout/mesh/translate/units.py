"""Conversions from Istio/Kubernetes value formats to Envoy's JSON forms (durations, percents)."""

from __future__ import annotations

import re

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_SCALE = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(value: object) -> float:
    """Parse a Go/protobuf duration (`1.5s`, `100ms`, `1m30s`); raises ValueError if invalid."""
    text = str(value).strip()
    if not text:
        raise ValueError("empty duration")
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            raise ValueError(f"invalid duration {text!r}")
        total += float(m.group(1)) * _SCALE[m.group(2)]
        pos = m.end()
    if pos != len(text):
        raise ValueError(f"invalid duration {text!r}")
    return total


def is_duration(value: object) -> bool:
    try:
        seconds(value)
    except ValueError:
        return False
    return True


def duration(value: object) -> str:
    """Envoy JSON duration string (`"0.250s"`)."""
    return f"{seconds(value):.9f}".rstrip("0").rstrip(".") + "s"


def fraction(percent: float) -> dict[str, object]:
    """An Istio percentage (0-100, fractional allowed) as an Envoy FractionalPercent."""
    millionths = max(0, min(1_000_000, round(float(percent) * 10_000)))
    return {"numerator": millionths, "denominator": "MILLION"}


def istio_percent(obj: object) -> float | None:
    """`percentage: {value: 12.5}` → 12.5; legacy integer `percent` accepted by callers."""
    if isinstance(obj, dict) and "value" in obj:
        return float(obj["value"])
    return None
