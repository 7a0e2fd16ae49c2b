"""Metrics are EMF lines with the channel as a dimension; logs never carry an address or message text."""

from __future__ import annotations

import json

import pytest

from chalicelib.adapters.observability import count


def test_count_emits_one_emf_line_per_channel(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    count("WebhookEvents", channel="twilio", value=2)
    [line] = [json.loads(raw) for raw in capsys.readouterr().out.splitlines() if raw.startswith("{")]
    assert line["WebhookEvents"] == [2.0] and line["channel"] == "twilio"
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Omnihub"


def test_count_is_silent_when_metrics_are_disabled(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    count("WebhookEvents", channel="twilio")
    assert capsys.readouterr().out == ""


def test_the_webhook_path_logs_no_text_or_address(caplog: pytest.LogCaptureFixture) -> None:
    from chalicelib.ingest.webhook import ingest_webhook
    from chalicelib.providers.base import WebhookRequest
    from devstack.simulators.api import simulate_api_message

    class Inbox:
        def put(self, *args: object, **kwargs: object) -> bool:
            return True

        def needs_payload_pointer(self, raw_body: bytes, events: object) -> bool:
            return False

        def archive_payload(self, provider: str, received_at: str, raw_body: bytes) -> str:
            raise AssertionError("not large")

    class Secrets:
        def get_many(self, names: tuple[str, ...]) -> dict[str, str]:
            return {"OMNIHUB_API_SIGNING_SECRET": "s"}

    simulated = simulate_api_message("s", "maria@example.com", "my secret order 4242", name="Maria Rossi")
    request = WebhookRequest("POST", simulated.path, {k.lower(): v for k, v in simulated.headers.items()},
                             simulated.body, received_at="2026-11-22T10:00:00.000Z")
    with caplog.at_level("DEBUG"):
        assert ingest_webhook("api", request, inbox=Inbox(),  # type: ignore[arg-type]
                               secrets=Secrets()).response.status == 200
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "webhook event stored" in logged and "event_ref" in logged
    for private in ("maria@example.com", "my secret order", "Maria Rossi"):
        assert private not in logged
