"""Reading a versioned JSON configuration file, with errors that name the file.

Each configuration (acknowledgments, service levels, routing) validates its own document; this
only turns "cannot read" and "not JSON" into that configuration's error type, one message shape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json_config(path: str, what: str, error: type[ValueError]) -> Any:
    """The decoded document at ``path``; ``error(f"{path}: ...")`` when it cannot be read or decoded."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise error(f"{path}: cannot read the {what}: {err.strerror}") from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise error(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from err
