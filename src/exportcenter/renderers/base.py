"""What every renderer is: a function that writes one artifact for a snapshot to a binary stream.

A renderer never reads the database or the network: only the frozen ``ExportSnapshot``. It returns
the warnings it wants recorded on the export (cuts, replaced characters, fallbacks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from exportcenter.config import Settings
from exportcenter.model import ExportSnapshot


@dataclass
class RenderContext:
    settings: Settings
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


RenderFunction = Callable[[ExportSnapshot, BinaryIO, RenderContext], None]
