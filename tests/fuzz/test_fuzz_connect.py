"""Amazon Connect has no webhook: a contact flow invokes a Lambda function and EventBridge delivers contact
events. Both get the documented events mutated by hypothesis (fields dropped, retyped, replaced by hostile
values: lone surrogates, 2**64, 3,000-character strings, deep lists).

- the contact flow's function never raises and always answers Connect's flat map of strings (else the
  caller drops to the flow's error branch), and stores at most the call's own inbox item;
- the contact events' handler never raises for an event's ``detail`` and ``resources`` (EventBridge would
  retry a poison event for 24 h), and stores only contact-event inbox items.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import FuzzHub, examples
from tests.fuzz.strategies import FIXTURES, mutated, random_json

INVOCATION = json.loads((FIXTURES / "voice" / "connect_invocation.json").read_text())
CONTACT_EVENT = json.loads((FIXTURES / "voice" / "connect_contact_disconnected.json").read_text())


def _stored_only(hub: FuzzHub, endpoint: str) -> None:
    items, keys = stored = hub.stored()
    try:
        inbox = [item for item in items if item["sk"] == "INBOX"]
        assert all(item["endpoint"] == endpoint for item in inbox), inbox
        assert len(inbox) + sum(item["sk"] in ("REF", "CLAIM") for item in items) == len(items), items
        assert len(keys) <= len(inbox), keys
    finally:
        hub.clear(stored)


def test_the_contact_flow_always_answers_a_flat_string_map(fuzz_hub: FuzzHub) -> None:
    from chalicelib.ingest.contact_flow import FLOW_ENDPOINT
    from chalicelib.providers.connect import is_flat_string_map

    @examples(40)
    @given(event=st.one_of(mutated([INVOCATION], max_mutations=4), random_json, st.just(copy.deepcopy(INVOCATION))))
    def run(event: Any) -> None:
        answer = fuzz_hub.app_module.connect_contact_flow(event, None)
        assert is_flat_string_map(answer), answer
        _stored_only(fuzz_hub, FLOW_ENDPOINT)

    run()


def test_a_contact_event_never_raises_and_stores_only_contact_events(fuzz_hub: FuzzHub) -> None:
    from chalicelib.ingest.contact_flow import CONTACT_EVENTS_ENDPOINT

    # EventBridge guarantees the envelope (Chalice's CloudWatchEvent reads version, id, time, ...): the
    # event's own part, ``detail`` and ``resources``, is what can be anything.
    @examples(40)
    @given(detail=st.one_of(mutated([CONTACT_EVENT["detail"]], max_mutations=4), random_json,
                            st.just(CONTACT_EVENT["detail"])),
           resources=st.one_of(st.just(CONTACT_EVENT["resources"]), random_json))
    def run(detail: Any, resources: Any) -> None:
        event = {**copy.deepcopy(CONTACT_EVENT), "detail": detail, "resources": resources}
        answer = fuzz_hub.app_module.connect_contact_events(event, None)
        assert isinstance(answer, dict) and answer.get("stored") in (0, 1), answer
        _stored_only(fuzz_hub, CONTACT_EVENTS_ENDPOINT)

    run()
