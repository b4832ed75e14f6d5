"""Fixtures every test may use: a fresh ExportCenter home with settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exportcenter.config import reset_settings_cache


@pytest.fixture
def ec_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "ec-home"
    monkeypatch.setenv("EXPORTCENTER_HOME", str(home))
    for name in ("EXPORTCENTER_DATABASE_URL", "EXPORTCENTER_STORAGE_BACKEND", "SOURCE_DATE_EPOCH"):
        monkeypatch.delenv(name, raising=False)
    reset_settings_cache()
    yield home
    reset_settings_cache()
