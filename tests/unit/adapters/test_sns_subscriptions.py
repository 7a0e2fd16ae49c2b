"""Confirming an SNS subscription: the URL rule (twin and HTTP adapter alike), a real GET on loopback for
the local stage's fake, no redirect followed, a forged URL never fetched."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chalicelib.adapters.memory.subscriptions import MemorySubscriptionConfirmer
from chalicelib.adapters.sns_subscriptions import ConfirmationFailed, ConfirmationRefused, HttpSubscriptionConfirmer

SNS_URL = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:eu-west-1:1:t&Token=abc"
FORGED = [
    "https://evil.example/?Action=ConfirmSubscription",
    "https://sns.eu-west-1.amazonaws.com.evil.example/?Action=ConfirmSubscription",
    "https://sns.eu-west-1.amazonaws.com@evil.example/?Action=ConfirmSubscription",
    "http://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
    "https://sns.eu-west-1.amazonaws.com:8443/?Action=ConfirmSubscription",
    "http://127.0.0.1:9/confirm?Token=x",  # a loopback URL the deployment did not name
    "",
]


class Recorder(BaseHTTPRequestHandler):
    answers: list[tuple[int, bytes, dict[str, str]]] = []
    seen: list[str] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        status, body, headers = type(self).answers.pop(0) if type(self).answers else (200, b"<ok/>", {})
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake() -> Iterator[str]:
    Recorder.answers, Recorder.seen = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sns/confirm"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("url", FORGED)
@pytest.mark.parametrize("confirmer", [MemorySubscriptionConfirmer(), HttpSubscriptionConfirmer()],
                         ids=["twin", "http"])
def test_a_url_off_sns_is_refused_before_any_request(confirmer: Any, url: str) -> None:
    with pytest.raises(ConfirmationRefused):
        confirmer.confirm(url)


def test_the_twin_records_what_it_confirmed_and_can_fail() -> None:
    twin = MemorySubscriptionConfirmer()
    twin.confirm(SNS_URL)
    twin.confirm(SNS_URL)
    assert twin.confirmed == [SNS_URL, SNS_URL]
    twin.fail = True
    with pytest.raises(ConfirmationFailed):
        twin.confirm(SNS_URL)


def test_the_local_fake_is_visited_with_path_and_query(fake: str) -> None:
    HttpSubscriptionConfirmer(local_subscribe_url=fake).confirm(f"{fake}?Action=ConfirmSubscription&Token=t1")
    assert Recorder.seen == ["/sns/confirm?Action=ConfirmSubscription&Token=t1"]


def test_a_redirect_is_not_followed_and_a_5xx_is_retried(fake: str) -> None:
    confirmer = HttpSubscriptionConfirmer(local_subscribe_url=fake)
    Recorder.answers = [(302, b"", {"Location": "http://127.0.0.1:9/elsewhere"}), (503, b"busy", {})]
    with pytest.raises(ConfirmationFailed):
        confirmer.confirm(f"{fake}?Token=t")
    with pytest.raises(ConfirmationFailed):
        confirmer.confirm(f"{fake}?Token=t")
    assert Recorder.seen == ["/sns/confirm?Token=t", "/sns/confirm?Token=t"]  # never /elsewhere


def test_an_oversized_answer_is_refused(fake: str) -> None:
    Recorder.answers = [(200, b"x" * 20_000, {})]
    with pytest.raises(ConfirmationFailed):
        HttpSubscriptionConfirmer(local_subscribe_url=fake).confirm(f"{fake}?Token=t")


def test_a_local_prefix_that_is_not_loopback_is_never_trusted() -> None:
    with pytest.raises(ConfirmationRefused):
        HttpSubscriptionConfirmer(local_subscribe_url="http://evil.example/").confirm("http://evil.example/x")


def test_an_unreachable_sns_is_retried() -> None:
    with pytest.raises(ConfirmationFailed):  # port 9 (discard) on loopback: connection refused
        HttpSubscriptionConfirmer(local_subscribe_url="http://127.0.0.1:9/").confirm("http://127.0.0.1:9/c?T=1")
