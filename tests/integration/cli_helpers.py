"""Run the real `exportcenter` CLI in-process against a fresh EXPORTCENTER_HOME."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from exportcenter.cli.main import app
from exportcenter.config import reset_settings_cache


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


class Cli:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.runner = CliRunner()

    def __call__(self, *args: str | Path, env: dict[str, str] | None = None) -> CliResult:
        reset_settings_cache()
        result = self.runner.invoke(app, [str(a) for a in args], env={"EXPORTCENTER_HOME": str(self.home),
                                                                       **(env or {})})
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return CliResult(result.exit_code, result.stdout, result.stderr)
