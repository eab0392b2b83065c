"""The .spkc container (spec/spkc.md): header, per-scene chunks, index, metadata.

Knows bytes and checksums, not codecs: a scene is a ``dict[str, bytes]`` of named payloads.
"""

from __future__ import annotations

from spkc.container.header import Header
from spkc.container.reader import SpkcReader, VerifyReport
from spkc.container.repair import RepairReport, repair
from spkc.container.writer import SpkcWriter

__all__ = ["Header", "RepairReport", "SpkcReader", "SpkcWriter", "VerifyReport", "repair"]
