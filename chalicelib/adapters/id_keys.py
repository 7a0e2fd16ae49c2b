"""The deployment's id key, ``OMNIHUB_ID_KEY``: the one place its users get it from.

Customer ids and inbound FIFO groups are HMACs under this key (chalicelib/core/ids.py). Like every
secret, an environment variable of that name wins (``make run`` and the tests set a development
value); on AWS it is the secret ``omnihub/{stage}/ids``, generated at deploy by infra/ and read
through :class:`SecretSource`, so with the same five-minute cache as every secret. Only the stream
relay and the conversation worker read it; the webhook path never does.

It fails closed: a key that is missing, unreadable or too short raises :class:`IdKeyUnavailable`, a
retryable error (503, or a batch item failure that is retried), never an id derived without it.
"""

from __future__ import annotations

from typing import NoReturn

from chalicelib.adapters import runtime
from chalicelib.adapters.observability import count, logger
from chalicelib.adapters.secrets import ID_KEY_SECRET, SecretSource
from chalicelib.core.errors import RetryableError
from chalicelib.core.ids import MIN_ID_KEY_BYTES


class IdKeyUnavailable(RetryableError):
    """No usable id key: retry later rather than derive an id that could be reversed."""


def id_key_from(secrets: SecretSource) -> bytes:
    try:
        value = secrets.get(ID_KEY_SECRET)
    except Exception as err:  # the secret store failed: a retry may find it, an unkeyed id never
        _unavailable(f"{ID_KEY_SECRET} could not be read ({type(err).__name__})")
    if not value:
        _unavailable(f"{ID_KEY_SECRET} is not set")
    key = value.encode()
    if len(key) < MIN_ID_KEY_BYTES:
        _unavailable(f"{ID_KEY_SECRET} is shorter than {MIN_ID_KEY_BYTES} bytes")
    return key


def id_key() -> bytes:
    """The id key, from the process's secret source (environment first, then Secrets Manager)."""
    return id_key_from(runtime.secrets())


def _unavailable(reason: str) -> NoReturn:
    # Names the secret, never its value.
    logger.error("id key unavailable", extra={"secret": ID_KEY_SECRET, "reason": reason})
    count("IdKeyUnavailable")
    raise IdKeyUnavailable(reason)
