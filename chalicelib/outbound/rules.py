"""Channel rules, checked before any provider call: pure functions of the job, the clock and consent.

- SMS and WhatsApp: nothing to a number whose consent on that channel is ``withdrawn`` (STOP).
- WhatsApp: free text only within 24 h of the customer's last message; after that only an
  approved template, configured per language, may be sent; without one the job is refused.
- Messenger and Instagram: the standard 24 h window; an agent's reply may use the HUMAN_AGENT
  tag up to 7 days after the customer's last message, where the Page has it
  (``OMNIHUB_HUMAN_AGENT_PAGES``: unset, every Page; ``none``, no Page; else a comma-separated
  list of Page / Instagram account ids); nothing after that. A reply to a comment
  (``job.reply_to``) is outside the messaging windows: a public comment reply may be sent at any
  time; a private reply (one per comment, no tag) only within 7 days of the comment.
- LINE: a reply token is used only while fresh (otherwise the message is pushed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core.consent import opted_out
from chalicelib.core.model import Channel, ModelError
from chalicelib.core.timestamps import parse_timestamp
from chalicelib.outbound.errors import OptedOut, WindowClosed
from chalicelib.outbound.job import OutboundJob, OutboundKind, ReplyKind, Template

CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
HUMAN_AGENT_TAG = "HUMAN_AGENT"
PRIVATE_REPLY_WINDOW = timedelta(days=7)
HUMAN_AGENT_PAGES_SETTING = "OMNIHUB_HUMAN_AGENT_PAGES"
TEMPLATE_PARAM_SOURCES = frozenset({"text", "reference"})


@dataclass(frozen=True, slots=True)
class TemplateConfig:
    """An approved WhatsApp template; ``params`` name the job fields that fill ``{{1}}``, ``{{2}}``..."""

    name: str
    language: str
    params: tuple[str, ...] = ()
    content_sid: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.params) - TEMPLATE_PARAM_SOURCES
        if unknown:
            raise ModelError(f"template params must be among {sorted(TEMPLATE_PARAM_SOURCES)}: {sorted(unknown)}")


@dataclass(frozen=True, slots=True)
class ChannelRulesConfig:
    whatsapp_templates: Mapping[str, TemplateConfig] = field(default_factory=dict)  # language → template
    default_language: str = "en"
    line_reply_token_max_age: timedelta = timedelta(seconds=50)
    human_agent_pages: frozenset[str] | None = None  # None: every Page may use HUMAN_AGENT

    def human_agent_allowed(self, page_id: str | None) -> bool:
        if self.human_agent_pages is None:
            return True
        return page_id is not None and page_id in self.human_agent_pages

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ChannelRulesConfig:
        """``OMNIHUB_WHATSAPP_TEMPLATES`` is JSON: ``{"it": {"name": "...", "language": "it",
        "params": ["text"], "content_sid": "HX..."}, ...}``."""
        raw = environ.get("OMNIHUB_WHATSAPP_TEMPLATES") or "{}"
        try:
            loaded: Any = json.loads(raw)
        except json.JSONDecodeError as err:
            raise ModelError("OMNIHUB_WHATSAPP_TEMPLATES is not JSON") from err
        if not isinstance(loaded, dict):
            raise ModelError("OMNIHUB_WHATSAPP_TEMPLATES must be an object keyed by language")
        templates = {
            str(lang).lower(): TemplateConfig(
                name=str(spec["name"]),
                language=str(spec.get("language") or lang),
                params=tuple(spec.get("params") or ()),
                content_sid=spec.get("content_sid"),
            )
            for lang, spec in loaded.items()
        }
        max_age = environ.get("OMNIHUB_LINE_REPLY_TOKEN_MAX_AGE_SECONDS")
        return cls(
            human_agent_pages=_human_agent_pages(environ.get(HUMAN_AGENT_PAGES_SETTING)),
            whatsapp_templates=templates,
            default_language=(environ.get("OMNIHUB_DEFAULT_LANGUAGE") or "en").lower(),
            line_reply_token_max_age=timedelta(seconds=float(max_age)) if max_age else timedelta(seconds=50),
        )

    def template_for(self, language: str | None) -> TemplateConfig | None:
        """Exact language (``pt-br``), then its base (``pt``), then the default language."""
        candidates: list[str] = []
        if language:
            lowered = language.lower().replace("_", "-")
            candidates += [lowered, lowered.split("-")[0]]
        candidates.append(self.default_language)
        for candidate in candidates:
            found = self.whatsapp_templates.get(candidate)
            if found is not None:
                return found
        return None


def _human_agent_pages(setting: str | None) -> frozenset[str] | None:
    if setting is None:
        return None
    pages = frozenset(page.strip() for page in setting.split(",") if page.strip())
    return frozenset() if pages == {"none"} else pages


def check_channel_rules(
    job: OutboundJob,
    now: datetime,
    consent: Mapping[str, str] | None = None,
    config: ChannelRulesConfig | None = None,
) -> OutboundJob:
    """The job as it may be sent (possibly converted), or :class:`WindowClosed` / :class:`OptedOut`.

    ``consent`` is the customer's consent per channel (``model.Customer.consent``).
    """
    config = config or ChannelRulesConfig()
    _refuse_opted_out(job, consent or {})
    if job.channel is Channel.WHATSAPP:
        return _whatsapp(job, now, config)
    if job.channel in (Channel.MESSENGER, Channel.INSTAGRAM):
        return _messenger(job, now, config)
    if job.channel is Channel.LINE:
        return _line(job, now, config)
    return job


def time_since_last_inbound(job: OutboundJob, now: datetime) -> timedelta | None:
    if not job.customer_last_inbound_at:
        return None
    return now - parse_timestamp(job.customer_last_inbound_at)


def _refuse_opted_out(job: OutboundJob, consent: Mapping[str, str]) -> None:
    if opted_out(consent, job.channel):
        raise OptedOut(f"the customer opted out of {job.channel.value} (STOP); nothing may be sent")


def _whatsapp(job: OutboundJob, now: datetime, config: ChannelRulesConfig) -> OutboundJob:
    if job.template is not None:
        return job  # an approved template may be sent at any time
    elapsed = time_since_last_inbound(job, now)
    if elapsed is not None and elapsed < CUSTOMER_SERVICE_WINDOW:
        return job
    template = config.template_for(job.language)
    if template is None:
        raise WindowClosed(
            "WhatsApp allows free text only within 24 h of the customer's last message and no approved "
            f"template is configured for language {job.language or config.default_language!r}"
        )
    values = {"text": job.text or "", "reference": job.reference or ""}
    return job.with_changes(
        template=Template(
            name=template.name,
            language=template.language,
            params=tuple(values[source] for source in template.params),
            content_sid=template.content_sid,
        )
    )


def _messenger(job: OutboundJob, now: datetime, config: ChannelRulesConfig) -> OutboundJob:
    if job.reply_to is not None:
        return _comment_reply(job, now)
    elapsed = time_since_last_inbound(job, now)
    if elapsed is not None and elapsed < CUSTOMER_SERVICE_WINDOW:
        return job.with_changes(messaging_tag=None)
    if job.kind is OutboundKind.AGENT_REPLY and elapsed is not None and elapsed < HUMAN_AGENT_WINDOW:
        if not config.human_agent_allowed(job.hint("page_id")):
            raise WindowClosed(
                f"{job.channel.value}: more than 24 h since the customer's last message, and this Page may not "
                f"use the HUMAN_AGENT tag ({HUMAN_AGENT_PAGES_SETTING})"
            )
        return job.with_changes(messaging_tag=HUMAN_AGENT_TAG)
    if job.kind is OutboundKind.AGENT_REPLY:
        raise WindowClosed(
            f"{job.channel.value}: an agent may reply with the HUMAN_AGENT tag only within 7 days of the "
            "customer's last message"
        )
    raise WindowClosed(
        f"{job.channel.value}: messages outside the 24 h standard window need a message tag, and only "
        "agent replies may use HUMAN_AGENT"
    )


def _comment_reply(job: OutboundJob, now: datetime) -> OutboundJob:
    assert job.reply_to is not None
    if job.reply_to.kind is ReplyKind.PUBLIC:
        return job.with_changes(messaging_tag=None)  # a comment reply is no message: no window, no tag
    # Meta's Private Replies: within 7 days of the comment, measured from the comment itself (the
    # customer's last message only when the comment's time is unknown); message tags do not apply.
    written = job.reply_to.created_at or job.customer_last_inbound_at
    if written is None or now - parse_timestamp(written) >= PRIVATE_REPLY_WINDOW:
        raise WindowClosed(f"{job.channel.value}: a private reply to a comment may be sent only within 7 days "
                           "of the comment")
    return job.with_changes(messaging_tag=None)


def _line(job: OutboundJob, now: datetime, config: ChannelRulesConfig) -> OutboundJob:
    if job.reply_token is None:
        return job
    elapsed = time_since_last_inbound(job, now)
    fresh = elapsed is not None and elapsed < config.line_reply_token_max_age
    if job.kind is OutboundKind.BROADCAST or not fresh:
        return job.with_changes(reply_token=None)  # pushed instead of replied
    return job
