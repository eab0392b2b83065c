"""Shared fixtures: ../shared/data location, marker handling (gpu, shared_data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SPKC_SHARED_DATA", REPO.parent / "shared" / "data"))
REDS = SHARED_DATA / "reds-spikes"


def pytest_collection_modifyitems(config, items):
    import torch

    no_gpu = pytest.mark.skip(reason="needs CUDA")
    no_data = pytest.mark.skip(reason=f"needs {SHARED_DATA} (absent)")
    for item in items:
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(no_gpu)
        if "shared_data" in item.keywords and not REDS.is_dir():
            item.add_marker(no_data)


@pytest.fixture
def reds_dir() -> Path:
    if not REDS.is_dir():
        pytest.skip(f"needs {REDS}")
    return REDS
