"""An agent's reply to a phone call: the hub cannot speak, so it answers by SMS to the same number.

Allowed where an SMS sender is configured (a provider sends on SMS: ``OMNIHUB_SMS_PROVIDER`` or the
default) and the customer has not withdrawn SMS consent (STOP); otherwise refused with 409 and the
reason, never recorded as sent. The SMS leaves through the provider the call came in by when it can
send SMS, from the number the customer called (the call's ``to``) when the sender is given none.
"""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.core.consent import opted_out
from chalicelib.core.errors import Conflict
from chalicelib.core.model import PHONE_CHANNELS, Channel, Customer
from chalicelib.outbound.registry import NoOutboundProvider, provider_for


def sms_instead_of_voice(customer: Customer, environ: Mapping[str, str], inbound_provider: str | None) -> str:
    """The number to text the reply to; :class:`Conflict` (409) with the reason when it may not be."""
    phones = [i.address for i in customer.identities
              if i.channel in PHONE_CHANNELS and i.address.startswith("+")]
    voice = [i.address for i in customer.identities if i.channel is Channel.VOICE]
    address = next(iter(voice or phones), None)
    if address is None:
        raise Conflict("a call cannot be answered by voice, and the customer has no phone number to text")
    if opted_out(customer.consent, Channel.SMS):
        raise Conflict("a call cannot be answered by voice, and the customer withdrew consent to SMS (STOP)")
    try:
        provider_for(Channel.SMS, environ, inbound_provider=inbound_provider)
    except NoOutboundProvider as err:
        raise Conflict(f"a call cannot be answered by voice, and no SMS sender is configured: {err.reason}") from err
    return address
