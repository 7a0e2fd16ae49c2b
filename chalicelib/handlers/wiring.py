"""How the app's handlers get their ports: each builds a use case's ports from the lazy runtime wiring.

app.py declares the routes and event sources and hands over; what a worker, the outbound sender, the
crisis API or the SES endpoint is built from lives here, once (tests clear the cached ones).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from chalicelib.adapters import runtime


def ses_channel() -> Any:
    """The SES (SNS) endpoint's spec, bound to this deployment's topics and certificate fetcher."""
    from chalicelib.providers.ses import sns_trust_from_environ

    settings = runtime.settings()
    return ses_channel_for(sns_trust_from_environ(settings.environ, settings.stage))


@lru_cache(maxsize=2)
def ses_channel_for(trust: Any) -> Any:
    # Built on the first SNS post, cached with its certificates for the container's life.
    from chalicelib.adapters.sns_certificates import fetch_sns_certificate
    from chalicelib.providers.ses import ses_channel

    return ses_channel(fetch_sns_certificate, trust)


def instant_acknowledger() -> Any:
    from chalicelib.acknowledgments import load_policy
    from chalicelib.ingest.instant_ack import instant_acknowledgment

    repos, policy = runtime.repositories(), load_policy()
    return lambda event: instant_acknowledgment(repos, event, policy)


def crisis_ports() -> Any:
    from chalicelib.crisis.config import load_crisis_config
    from chalicelib.crisis.ports import CrisisPorts

    return CrisisPorts(
        repos=runtime.repositories(), store=runtime.crisis_store(), pacer=runtime.pacer(), bus=runtime.bus(),
        config=load_crisis_config(), environ=runtime.settings().environ,
    )


def worker_ports() -> Any:
    from chalicelib.acknowledgments import load_policy
    from chalicelib.adapters.id_keys import id_key
    from chalicelib.conversations.inbound import WorkerPorts

    return WorkerPorts(
        repos=runtime.repositories(), bus=runtime.bus(), environ=runtime.settings().environ, ack_policy=load_policy(),
        id_key=id_key, mail_objects=runtime.mail_objects(), bucket_name=runtime.settings().bucket_name,
        crisis=runtime.crisis_store(), crisis_fallback_language=crisis_config().fallback_language,
        mentions=mention_lookup(),
        subscriptions=subscription_confirmer(),
        transcripts=transcript_fetcher(),
    )


def transcript_fetcher() -> Any:
    """Vonage voicemail transcripts, read with the Vonage application's key (on first use)."""
    from chalicelib.adapters.vonage_transcripts import VonageTranscriptFetcher
    from chalicelib.providers.vonage.transcripts import TRANSCRIPT_SECRETS

    secrets = runtime.secrets()
    application_id, private_key = TRANSCRIPT_SECRETS
    return VonageTranscriptFetcher(credentials=lambda: (secrets.get(application_id), secrets.get(private_key)))


def mention_lookup() -> Any:
    """Instagram mentions looked up through Graph with the Meta sending token (read on first use; the
    secret source is cached, so building this per batch costs nothing)."""
    from chalicelib.adapters.graph_mentions import GraphMentionLookup
    from chalicelib.outbound.registry import api_base
    from chalicelib.providers.meta.mentions import MENTION_LOOKUP_PROVIDER, MENTION_LOOKUP_SECRET

    return GraphMentionLookup(base_url=api_base(MENTION_LOOKUP_PROVIDER, runtime.settings().environ),
                              access_token=lambda: runtime.secrets().get(MENTION_LOOKUP_SECRET))


@lru_cache(maxsize=1)
def subscription_confirmer() -> Any:
    from chalicelib.adapters.sns_subscriptions import HttpSubscriptionConfirmer
    from chalicelib.providers.ses import local_subscribe_url

    settings = runtime.settings()
    return HttpSubscriptionConfirmer(local_subscribe_url=local_subscribe_url(settings.environ, settings.stage))


@lru_cache(maxsize=1)
def outbound_ports() -> Any:
    from chalicelib.outbound.delivery import OutboundPorts
    from chalicelib.outbound.registry import build_senders
    from chalicelib.outbound.rules import ChannelRulesConfig

    settings = runtime.settings()
    return OutboundPorts(
        repos=runtime.repositories(),
        senders=build_senders(settings, runtime.secrets()),
        rules=ChannelRulesConfig.from_environ(settings.environ),
        pacer=runtime.pacer(),
        send_rates=crisis_config(),
    )


def crisis_config() -> Any:
    from chalicelib.crisis.config import load_crisis_config

    return load_crisis_config()
