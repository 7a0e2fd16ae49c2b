"""Which number a reply to a call is texted to, and why it may not be."""

from __future__ import annotations

import pytest

from chalicelib.api.voice_replies import sms_instead_of_voice
from chalicelib.core.errors import Conflict
from chalicelib.core.model import Channel, Customer, Identity


def customer(*identities: Identity, consent: dict[str, str] | None = None) -> Customer:
    return Customer(id="cus_1", name=None, language=None, tier="standard", identities=identities,
                    created_at="2026-01-01T00:00:00.000Z", consent=consent or {})


def test_the_number_that_called_is_texted() -> None:
    caller = customer(Identity(Channel.WHATSAPP, "+393330000001"), Identity(Channel.VOICE, "+393331234567"))
    assert sms_instead_of_voice(caller, {}, "twilio") == "+393331234567"


@pytest.mark.parametrize(("who", "environ", "provider", "reason"), [
    (customer(Identity(Channel.VOICE, "+393331234567"), consent={"sms": "withdrawn"}), {}, None, "consent"),
    (customer(Identity(Channel.VOICE, "+393331234567")), {"OMNIHUB_SMS_PROVIDER": "pigeon"}, "amazon_connect",
     "no SMS sender is configured"),
    (customer(Identity(Channel.TELEGRAM, "12345")), {}, None, "no phone number"),
])
def test_a_reply_that_cannot_be_texted_is_a_conflict_with_the_reason(
    who: Customer, environ: dict[str, str], provider: str | None, reason: str
) -> None:
    with pytest.raises(Conflict) as refused:
        sms_instead_of_voice(who, environ, provider)
    assert reason in refused.value.reason
