"""Shared type aliases: Kubernetes objects travel as plain JSON dicts."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
"""A Kubernetes object (or any JSON object) as decoded from the wire."""

JSON = Any
"""Any JSON value."""
