"""What the provider registry records about one provider: its entry, webhook endpoints and simulators.

The shapes only; :mod:`chalicelib.providers.registry` holds the entries themselves and their views.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.core.model import Channel


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """One webhook route: app.py declares it (Chalice needs the function), this entry says what it is."""

    name: str  # the endpoint name the ingest use case and the stored inbox item carry
    path: str  # the route, exactly as app.py declares it
    methods: tuple[str, ...]
    spec: str  # "module:ATTRIBUTE" of its ChannelSpec
    instant_ack: bool = False  # the 2xx answer can carry the customer's acknowledgment (TwiML, method reply)
    answers_call: bool = False  # the 2xx answer is what a caller hears (TwiML, NCCO): chalicelib/ingest/call_answer.py


@dataclass(frozen=True, slots=True)
class Simulator:
    """A ``./hub simulate <command>``: a request signed exactly as the provider signs it."""

    command: str
    target: str  # "devstack.simulators.<module>:<function>(secrets, sender, text, **options)"
    summary: str  # the help line: what ``--from`` is on this channel
    options: tuple[tuple[str, str], ...] = ()  # fixed keyword arguments, e.g. (("channel", "sms"),)
    kinds: tuple[str, ...] = ()  # what the customer does (``./hub simulate x mention``); the first is the default


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    name: str  # as jobs, inbound events and OMNIHUB_<NAME>_API_BASE spell it
    channels: frozenset[Channel]  # the channels whose messages it carries, in or out
    secret_group: str | None = None  # omnihub/{stage}/{group} (+ "-send": adapters/secrets.py); None: no secret
    verify_secrets: tuple[str, ...] = ()  # what checks inbound traffic (the API Lambda)
    send_secrets: tuple[str, ...] = ()  # what sends: access tokens, private keys (the outbound Lambda)
    webhooks: tuple[WebhookEndpoint, ...] = ()
    sender: str | None = None  # "module:ATTRIBUTE" of its build_sender(SenderContext)
    sends_on: frozenset[Channel] = frozenset()
    default_sender_for: frozenset[Channel] = frozenset()  # channels it sends on unless configured otherwise
    api_base: str | None = None  # the public API OMNIHUB_<NAME>_API_BASE overrides; None: an AWS SDK sender
    retry_safe: bool = False  # resending after an ambiguous failure cannot duplicate (idempotent send API)
    simulators: tuple[Simulator, ...] = ()
    # "module:ATTRIBUTE" of what reads its input when it is no webhook: a Lambda invocation, an EventBridge event.
    invocations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if bool(self.secret_group) != bool(self.verify_secrets or self.send_secrets):
            problems.append("a secret group holds secrets, and secrets need a group")
        if bool(self.sender) != bool(self.sends_on):
            problems.append("a sender sends on some channel, and sending needs a sender")
        if not self.sends_on <= self.channels:
            problems.append("it sends on a channel it does not carry")
        if not self.default_sender_for <= self.sends_on:
            problems.append("it is the default sender of a channel it does not send on")
        if (self.api_base is not None or self.retry_safe) and not self.sender:
            problems.append("an API base or retry safety without a sender")
        if problems:
            raise ValueError(f"provider {self.name!r}: {'; '.join(problems)}")

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret it reads, each once: the contents of its Secrets Manager secret."""
        return tuple(dict.fromkeys(self.verify_secrets + self.send_secrets))

    @property
    def modules(self) -> frozenset[str]:
        """Its own modules: where its specs, sender and simulators live."""
        targets = [w.spec for w in self.webhooks] + [s.target for s in self.simulators] + [self.sender or ""]
        targets += list(self.invocations)
        return frozenset(target.partition(":")[0] for target in targets if target)
