"""A Vonage voicemail's transcript, which the transcription event only links to: the worker reads it
(twin through the call fold; the HTTP adapter on loopback), never from a forged host."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.adapters.memory import MemoryStore, memory_repositories
from chalicelib.adapters.memory.transcripts import InMemoryTranscriptFetcher
from chalicelib.adapters.vonage_transcripts import TranscriptUnavailable, VonageTranscriptFetcher
from chalicelib.conversations.call_messages import fold_call_callback
from chalicelib.conversations.calls import fold_call_events
from chalicelib.core.errors import RetryableError
from chalicelib.core.ports import Repositories, TranscriptFetcher
from chalicelib.outbound.http import HttpClient
from chalicelib.providers.vonage.transcripts import is_vonage_transcript_url, transcript_text
from tests.unit.telephony.test_call_fold import VONAGE_VOICEMAIL
from tests.unit.telephony.test_call_messages import KEY, call_messages, store_all

TRANSCRIPT = {"ver": "1.0", "request_id": "r-1", "channels": [{"duration": 4, "transcript": [
    {"sentence": "Hello, my order never arrived.", "raw_sentence": "hello my order never arrived", "words": []},
    {"sentence": "Please call me back.", "raw_sentence": "please call me back", "words": []}]}]}
SPOKEN = "Hello, my order never arrived. Please call me back."
URL = fold_call_events(VONAGE_VOICEMAIL).transcription_url or ""
FORGED = ["https://evil.example/v1/files/x", "https://api.nexmo.com.evil.example/v1/files/x",
          "https://api.nexmo.com@evil.example/v1/files/x", "http://api.nexmo.com/v1/files/x",
          "https://api.nexmo.com:8443/v1/files/x", "https://vonage.com/x", "https://www.vonage.com/x",
          "https://api-.vonage.com/x", "https://nexmo.com.evil/x", "http://127.0.0.1:9/x", "", "https://[::1/x"]


def fold_all(repos: Repositories, transcripts: TranscriptFetcher | None) -> list[str]:
    done = []
    for event in VONAGE_VOICEMAIL:
        record = repos.inbox.get(event.inbox_key)
        assert record is not None
        done.append(fold_call_callback(record, repos, id_key=lambda: KEY, transcripts=transcripts))
    return done


@pytest.fixture
def repos() -> Repositories:
    found = memory_repositories(MemoryStore())
    store_all(found, VONAGE_VOICEMAIL)
    return found


def test_the_linked_transcript_becomes_the_call_message_text(repos: Repositories) -> None:
    assert URL.startswith("https://api.nexmo.com/")
    twin = InMemoryTranscriptFetcher({URL: SPOKEN})
    fold_all(repos, twin)
    [message] = call_messages(repos)
    assert message.text == SPOKEN and dict(message.call)["outcome"] == "voicemail"
    assert set(twin.calls) == {URL}


def test_a_refused_transcript_keeps_no_transcription(repos: Repositories) -> None:
    twin = InMemoryTranscriptFetcher()  # unknown URL: refused for good, as a 4xx
    fold_all(repos, twin)
    [message] = call_messages(repos)
    assert message.text == "voicemail, no transcription" and twin.calls


def test_an_outage_is_retried_by_the_queue_then_the_text_lands(repos: Repositories) -> None:
    twin = InMemoryTranscriptFetcher({URL: SPOKEN})
    last = VONAGE_VOICEMAIL[-1]
    for event in VONAGE_VOICEMAIL[:-1]:
        record = repos.inbox.get(event.inbox_key)
        assert record is not None
        fold_call_callback(record, repos, id_key=lambda: KEY, transcripts=InMemoryTranscriptFetcher())
    record = repos.inbox.get(last.inbox_key)
    assert record is not None
    twin.fail_next = 1
    with pytest.raises(RetryableError):
        fold_call_callback(record, repos, id_key=lambda: KEY, transcripts=twin)
    fold_call_callback(record, repos, id_key=lambda: KEY, transcripts=twin)  # the queue's retry
    [message] = call_messages(repos)
    assert message.text == SPOKEN


def test_url_rule_and_transcript_shape() -> None:
    assert is_vonage_transcript_url("https://api.nexmo.com/v1/files/abc")
    assert is_vonage_transcript_url("https://api-us.vonage.com/v1/files/abc")
    assert is_vonage_transcript_url("https://api-eu-1.nexmo.com/v1/files/abc")
    assert not any(is_vonage_transcript_url(url) for url in FORGED)
    assert transcript_text(TRANSCRIPT) == SPOKEN
    assert transcript_text({"channels": [{"transcript": []}]}) is None
    assert transcript_text({"channels": "x"}) is None and transcript_text(None) is None


class Recorder(BaseHTTPRequestHandler):
    answers: list[tuple[int, bytes]] = []
    seen: list[tuple[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Authorization", "")))
        status, body = type(self).answers.pop(0) if type(self).answers else (200, json.dumps(TRANSCRIPT).encode())
        self.send_response(status)
        if status in (301, 302):
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.answers, Recorder.seen = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return pem, key.public_key()


def loopback_fetcher(base: str, pem: str, max_bytes: int = 64 * 1024) -> VonageTranscriptFetcher:
    # The loopback stands in for Vonage's host: the rule here admits only this server, over http.
    return VonageTranscriptFetcher(
        credentials=lambda: ("app-1", pem),
        http=HttpClient(connect_timeout=2, read_timeout=5, max_response_bytes=max_bytes),
        url_allowed=lambda url: urlsplit(url).netloc == urlsplit(base).netloc)


def test_adapter_gets_the_transcript_with_an_application_jwt(server: str, key_pair: tuple[str, Any]) -> None:
    pem, public = key_pair
    assert loopback_fetcher(server, pem).fetch(server + "/v1/files/abc") == SPOKEN
    [(path, authorization)] = Recorder.seen
    assert path == "/v1/files/abc" and authorization.startswith("Bearer ")
    claims = jwt.decode(authorization.removeprefix("Bearer "), public, algorithms=["RS256"])
    assert claims["application_id"] == "app-1"


def test_adapter_classifies_answers(server: str, key_pair: tuple[str, Any]) -> None:
    pem, _ = key_pair
    fetcher = loopback_fetcher(server, pem, max_bytes=2048)
    Recorder.answers = [(404, b'{"title":"Not found"}'), (503, b""), (302, b""), (200, b"x" * 4096),
                        (200, b'{"channels":[]}')]
    assert fetcher.fetch(server + "/a") is None  # 4xx: kept without it
    with pytest.raises(TranscriptUnavailable):
        fetcher.fetch(server + "/b")  # 5xx: the queue retries
    assert fetcher.fetch(server + "/c") is None  # a redirect is never followed
    assert fetcher.fetch(server + "/d") is None  # over the bound
    assert fetcher.fetch(server + "/e") is None  # no words
    assert [path for path, _ in Recorder.seen] == ["/a", "/b", "/c", "/d", "/e"]


def test_a_forged_host_is_never_fetched(server: str, key_pair: tuple[str, Any]) -> None:
    pem, _ = key_pair
    fetcher = VonageTranscriptFetcher(credentials=lambda: ("app-1", pem))  # the production URL rule
    for url in [*FORGED, server + "/v1/files/abc"]:
        assert fetcher.fetch(url) is None
    assert Recorder.seen == []


def test_without_application_credentials_nothing_is_fetched(server: str) -> None:
    fetcher = VonageTranscriptFetcher(credentials=lambda: (None, None), url_allowed=lambda url: True)
    assert fetcher.fetch(server + "/v1/files/abc") is None
    assert Recorder.seen == []
