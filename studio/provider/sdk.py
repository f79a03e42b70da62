"""The openai SDK, imported where it is first used rather than where it is named.

`import openai` loads the types of every API the SDK covers, about a quarter of a second of CPU. The studio's
server would spend it before serving its first page, which seldom calls the SDK; the first job or health check
pays it instead. The import system's own lock makes that first use safe from any thread.
"""

from __future__ import annotations

import importlib
from typing import Any


class _ImportedOnFirstUse:
    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module("openai"), name)


openai: Any = _ImportedOnFirstUse()
