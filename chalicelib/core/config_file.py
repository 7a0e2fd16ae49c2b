"""Reading a versioned JSON configuration file, with errors that name the file, and the file in force.

Each configuration (acknowledgments, service levels, routing, feedback, crisis) validates its own
document; this module turns "cannot read" and "not JSON" into that configuration's error type (one
message shape), and :class:`ConfigFile` is the one rule for which file is in force (an explicit path >
the environment variable > the shipped default) and for reading each file once per process.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


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


def path_in_force(path: str | os.PathLike[str] | None, env: str, default: str | os.PathLike[str]) -> str:
    """The file in force: ``path`` > ``$env`` > the shipped ``default``, resolved."""
    chosen = path if path is not None else (os.environ.get(env) or default)
    return str(Path(chosen).resolve())


class ConfigFile(Generic[T]):
    """One configuration file: which path is in force, read and validated once per resolved path.

    ``read(path)`` reads and validates the file (raising the configuration's own error); an invalid
    file is not cached, so it raises every time it is asked for (``make run`` refuses to start, a
    worker fails loudly) until it is fixed.
    """

    def __init__(self, env: str, default: str | os.PathLike[str], read: Callable[[str], T]) -> None:
        self.env = env
        self.default = default
        self._cached = functools.lru_cache(maxsize=8)(read)

    def path(self, path: str | os.PathLike[str] | None = None) -> str:
        return path_in_force(path, self.env, self.default)

    def load(self, path: str | os.PathLike[str] | None = None) -> T:
        return self._cached(self.path(path))

    def clear(self) -> None:
        """Forget loaded files (tests, or a long-running process after the file changed)."""
        self._cached.cache_clear()
