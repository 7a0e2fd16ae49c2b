"""Real-shaped provider payloads for the email tests: fixture files and the form bodies providers post."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.adapters.memory.inbox import MemoryInbox as TwinInbox
from chalicelib.adapters.memory.store import MemoryStore
from chalicelib.core.model import InboundEvent

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "email"
BOUNDARY = "xYzZY0f1e2d3c4b5a6"  # a boundary like SendGrid's and Mailgun's form posts
RECEIVED_AT = "2024-06-03T08:12:35.000Z"


def eml(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def form_data(fields: list[tuple[str, str | bytes]],
              files: list[tuple[str, str, str, bytes]] = (),  # type: ignore[assignment]
              boundary: str = BOUNDARY) -> tuple[str, bytes]:
    """A ``multipart/form-data`` body as an HTTP client sends it: (content type, body)."""
    chunks: list[bytes] = []
    for name, value in fields:
        data = value.encode("utf-8") if isinstance(value, str) else value
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        chunks.append(head.encode() + data + b"\r\n")
    for name, filename, content_type, data in files:
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(chunks)


Fields = list[tuple[str, str | bytes]]
Files = list[tuple[str, str, str, bytes]]


def provider_form(name: str, **overrides: str) -> tuple[Fields, Files]:
    """A form fixture's fields (``_``-keys are notes) and its files, read from the fixtures folder."""
    data = fixture_json(name)
    fields: Fields = [(k, v) for k, v in data.items() if not k.startswith("_")]
    fields = [(k, overrides.pop(k, v)) for k, v in fields] + list(overrides.items())
    files = [(field, spec["filename"], spec["content_type"], (FIXTURES / spec["fixture"]).read_bytes())
             for field, spec in data.get("_files", {}).items()]
    return fields, files


# --- the webhook use case with an in-memory inbox -------------------------------------------------


class MemoryInbox(TwinInbox):
    """The in-memory inbox twin with a view of what it holds: inbox key → stored event."""

    def __init__(self) -> None:
        super().__init__(MemoryStore())

    @property
    def items(self) -> dict[str, InboundEvent]:
        return {key: InboundEvent.from_dict(json.loads(entry.event_json)) for key, entry in self.store.inbox.items()}


class StaticSecrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get_many(self, names: tuple[str, ...]) -> dict[str, str]:
        return {name: self.values[name] for name in names if name in self.values}


def ingest(monkeypatch: Any, spec: Any, request: Any, *, secrets: dict[str, str], store: MemoryInbox,
           now: float) -> Any:
    """Run the real webhook use case with ``spec`` (e.g. an SES spec bound to a test certificate)."""
    from chalicelib.ingest import webhook

    return webhook.ingest_webhook(spec.provider, request, inbox=store, secrets=StaticSecrets(secrets), now=now,
                                  spec=spec)
