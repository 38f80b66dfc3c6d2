"""gankit: train, evaluate, diagnose and compare GANs, the Wasserstein family first-class.

The top-level names are imported lazily, so ``import gankit.objectives`` (or
``gankit --help``) does not pay for loading the whole training stack.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_EXPORTS = {
    "train": "gankit.api",
    "resume": "gankit.api",
    "load_run": "gankit.api",
    "sample": "gankit.api",
    "evaluate": "gankit.api",
    "Run": "gankit.api",
    "export_run": "gankit.export",
    "load_export": "gankit.export",
    "interpolate": "gankit.walks",
    "build_config": "gankit.config",
    "RunConfig": "gankit.config",
    "GankitError": "gankit.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gankit' has no attribute {name!r}")
