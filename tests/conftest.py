import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own LEARNSIM_HOME so the user's store is never touched."""
    home = tmp_path / "learnsim_home"
    monkeypatch.setenv("LEARNSIM_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(min(2, os.cpu_count() or 1))
