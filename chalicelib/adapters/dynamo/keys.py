"""The only place the single table's key formats live.

Item layout (pk / sk):
  INBOX#{provider}#{event id} / INBOX          one per provider event: the dedupe record and the outbox
  IDENTITY#{channel}#{address} / IDENTITY      owner customer of an address (claimed once, race-free)
  CUSTOMER#{id} / PROFILE                      the customer; open_conversation_id points at the open case
  CUSTOMER#{id} / CONV#{created_at}#{id}       the customer's conversations, oldest first
  CONV#{id} / META                             the conversation (gsi1: CONVSTATUS#{status} / {updated}#{id};
                                               gsi_sla, only while an SLA level can fall due: SLA / {due}#{id})
  CONV#{id} / MSG#{created_at}#{message id}    its messages, in order
  REF#{reference} / REF                        a reference number, reserved once
  PMSG#{provider}#{provider message id} / PMSG where a provider's message id lives (delivery statuses)
  OUTBOX#{outbound id} / OUTBOX                the leased claim to send one outbound message
  IDEMPOTENCY#{scope}#{key} / IDEMPOTENCY      an Idempotency-Key seen on the REST API
  FEEDBACK#{conversation id} / FEEDBACK        the conversation's survey and its answer (once)
  CUSTOMER#{id} / SURVEY                       the customer's latest survey (the once-per-N-days limit)
  SURVEYDUE / {due at}#{conversation id}       a delayed survey waiting for the scheduler (TTL)
  SURVEYDUE / CURSOR                           how far the scheduler has sent the delayed surveys
  KPI#{dimension kind} / {day}#{value}         the KPI counters of one business day and dimension (ADD)
  KPIEVENT#{event key} / KPIEVENT              an event already counted in the KPIs (TTL)
  CALL#{provider}#{call id} / CALL             a phone call's log: its callbacks, where its one message lives
  MAILID#{Message-ID} / MAILID                 the conversation an email Message-ID (received or sent) belongs to
  CLAIM#{key} / CLAIM                          a short-lived claim (a webhook token seen, an address acknowledged)
  INCIDENTS / INCIDENT#{id}                    a crisis incident (all in one partition: a handful a year)
  INCIDENT#{id} / UPDATE#{update id}           an update: its message, planner cursor and progress counters
  INCIDENT#{id} / CONTACT#{customer id}        a customer who wrote in with the incident's keywords
  BCAST#{incident}#{update}#{customer} / RECIPIENT  one per recipient and update: the exactly-once guard
  PACE#{bucket} / PACE                         a send-rate token bucket (channel and sender)
  MIGRATION#{name} / MIGRATION                 a one-off migration's checkpoint (``./hub backfill``)
  ERASURE#{customer id} / ERASURE              the audit of a customer's erasure (who, when, counts: no personal data)
  customer profiles also carry gsi_customers: CUSTOMERS / {created_at}#{id} (the broadcast planner's pages)
  inbox items also carry gsi_sender: ORDER#{ordering key} / {received_at}#{inbox key} (an erasure's reads)
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypedDict

from chalicelib.core.item_limits import PARTITION_KEY_MAX_BYTES, SORT_KEY_MAX_BYTES, utf8_size


class Prefix(StrEnum):
    INBOX = "INBOX#"
    IDENTITY = "IDENTITY#"
    CUSTOMER = "CUSTOMER#"
    CONVERSATION = "CONV#"
    MESSAGE = "MSG#"
    REFERENCE = "REF#"
    PROVIDER_MESSAGE = "PMSG#"
    OUTBOX = "OUTBOX#"
    IDEMPOTENCY = "IDEMPOTENCY#"
    CONVERSATION_STATUS = "CONVSTATUS#"
    FEEDBACK = "FEEDBACK#"
    KPI = "KPI#"
    KPI_EVENT = "KPIEVENT#"
    CALL = "CALL#"
    MAIL_THREAD = "MAILID#"
    EXPIRING_CLAIM = "CLAIM#"
    INCIDENT = "INCIDENT#"
    UPDATE = "UPDATE#"
    CONTACT = "CONTACT#"
    BROADCAST = "BCAST#"
    PACE = "PACE#"
    MIGRATION = "MIGRATION#"
    ERASURE = "ERASURE#"
    ORDERING = "ORDER#"


INCIDENTS_PARTITION = "INCIDENTS"
CUSTOMERS_INDEX_PARTITION = "CUSTOMERS"
SLA_INDEX_PARTITION = "SLA"  # the sparse index's one partition: only conversations whose timers run


class SortKey(StrEnum):
    INBOX = "INBOX"
    IDENTITY = "IDENTITY"
    PROFILE = "PROFILE"
    META = "META"
    REFERENCE = "REF"
    PROVIDER_MESSAGE = "PMSG"
    OUTBOX = "OUTBOX"
    IDEMPOTENCY = "IDEMPOTENCY"
    FEEDBACK = "FEEDBACK"
    SURVEY = "SURVEY"
    KPI_EVENT = "KPIEVENT"
    CALL = "CALL"
    MAIL_THREAD = "MAILID"
    EXPIRING_CLAIM = "CLAIM"
    RECIPIENT = "RECIPIENT"
    PACE = "PACE"
    MIGRATION = "MIGRATION"
    ERASURE = "ERASURE"


class Key(TypedDict):
    pk: str
    sk: str


def _key(pk: str, sk: str) -> Key:
    return {"pk": pk, "sk": sk}


def inbox(inbox_key: str) -> Key:
    return _key(f"{Prefix.INBOX}{inbox_key}", SortKey.INBOX)


def inbox_key_of(pk: str) -> str:
    """The inbox key (``provider#event id``) of an inbox item's partition key."""
    return pk.removeprefix(Prefix.INBOX)


def identity(identity_key: str) -> Key:
    return _key(f"{Prefix.IDENTITY}{identity_key}", SortKey.IDENTITY)


def customer(customer_id: str) -> Key:
    return _key(customer_partition(customer_id), SortKey.PROFILE)


def customer_partition(customer_id: str) -> str:
    return f"{Prefix.CUSTOMER}{customer_id}"


def customer_conversation(customer_id: str, created_at: str, conversation_id: str) -> Key:
    return _key(customer_partition(customer_id), f"{Prefix.CONVERSATION}{created_at}#{conversation_id}")


def conversation(conversation_id: str) -> Key:
    return _key(conversation_partition(conversation_id), SortKey.META)


def conversation_partition(conversation_id: str) -> str:
    return f"{Prefix.CONVERSATION}{conversation_id}"


def message_sort_key(created_at: str, message_id: str) -> str:
    return f"{Prefix.MESSAGE}{created_at}#{message_id}"


def message(conversation_id: str, created_at: str, message_id: str) -> Key:
    return _key(conversation_partition(conversation_id), message_sort_key(created_at, message_id))


def is_message_sort_key(sort_key: str) -> bool:
    return sort_key.startswith(Prefix.MESSAGE)


def reference(reference_text: str) -> Key:
    return _key(f"{Prefix.REFERENCE}{reference_text}", SortKey.REFERENCE)


def provider_message(provider: str, provider_message_id: str) -> Key:
    return _key(f"{Prefix.PROVIDER_MESSAGE}{provider}#{provider_message_id}", SortKey.PROVIDER_MESSAGE)


def outbox_claim(outbound_id: str) -> Key:
    return _key(f"{Prefix.OUTBOX}{outbound_id}", SortKey.OUTBOX)


def idempotency(scope: str, key_text: str) -> Key:
    return _key(f"{Prefix.IDEMPOTENCY}{scope}#{key_text}", SortKey.IDEMPOTENCY)


def mail_thread(message_id: str) -> Key:
    return _key(f"{Prefix.MAIL_THREAD}{message_id}", SortKey.MAIL_THREAD)


def expiring_claim(key_text: str) -> Key:
    return _key(f"{Prefix.EXPIRING_CLAIM}{key_text}", SortKey.EXPIRING_CLAIM)


def status_index(status: str, updated_at: str, conversation_id: str) -> dict[str, str]:
    """gsi1: conversations by status, newest activity first."""
    return {"gsi1pk": status_partition(status), "gsi1sk": f"{updated_at}#{conversation_id}"}


def status_partition(status: str) -> str:
    return f"{Prefix.CONVERSATION_STATUS}{status}"


def sla_index(attention_at: str, conversation_id: str) -> dict[str, str]:
    """gsi_sla, a sparse index: set only while an SLA level can fall due, earliest first (the sweeper's query)."""
    return {"sla_pk": SLA_INDEX_PARTITION, "sla_sk": f"{attention_at}#{conversation_id}"}


SLA_INDEX_ATTRIBUTES = ("sla_pk", "sla_sk")


def sla_index_through(now: str) -> str:
    """The largest ``sla_sk`` of a level due at or before ``now`` (ids sort below ``~``)."""
    return f"{now}#~"


def conversation_id_of_sla_key(sort_key: str) -> str:
    return sort_key.rpartition("#")[2]


SURVEY_DUE_PARTITION = "SURVEYDUE"


def feedback(conversation_id: str) -> Key:
    return _key(f"{Prefix.FEEDBACK}{conversation_id}", SortKey.FEEDBACK)


def customer_survey(customer_id: str) -> Key:
    return _key(customer_partition(customer_id), SortKey.SURVEY)


def survey_due(due_at: str, conversation_id: str) -> Key:
    return _key(SURVEY_DUE_PARTITION, f"{due_at}#{conversation_id}")


def survey_due_cursor() -> Key:
    """Sorts after every ``{due at}#…`` key (a letter after the digits): never in a due query's range."""
    return _key(SURVEY_DUE_PARTITION, "CURSOR")


def survey_due_sort_key(due_at: str, conversation_id: str) -> str:
    return survey_due(due_at, conversation_id)["sk"]


def survey_due_through(now: str) -> str:
    return f"{now}#~"


def conversation_id_of_survey_due(sort_key: str) -> str:
    return sort_key.rpartition("#")[2]


def kpi_partition(dimension_kind: str) -> str:
    return f"{Prefix.KPI}{dimension_kind}"


def kpi(dimension_kind: str, day: str, value: str) -> Key:
    return _key(kpi_partition(dimension_kind), f"{day}#{value}")


def kpi_day_range(first_day: str, last_day: str) -> tuple[str, str]:
    """The sort keys between which every value of those days lies ("$" sorts right after "#")."""
    return f"{first_day}#", f"{last_day}$"


def kpi_day_and_value(sort_key: str) -> tuple[str, str]:
    day, _, value = sort_key.partition("#")
    return day, value


def kpi_event(event_key: str) -> Key:
    return _key(f"{Prefix.KPI_EVENT}{event_key}", SortKey.KPI_EVENT)


def call(provider: str, call_id: str) -> Key:
    return _key(f"{Prefix.CALL}{provider}#{call_id}", SortKey.CALL)


def incident(incident_id: str) -> Key:
    return _key(INCIDENTS_PARTITION, f"{Prefix.INCIDENT}{incident_id}")


def incident_partition(incident_id: str) -> str:
    return f"{Prefix.INCIDENT}{incident_id}"


def incident_update(incident_id: str, update_id: str) -> Key:
    return _key(incident_partition(incident_id), f"{Prefix.UPDATE}{update_id}")


def incident_contact(incident_id: str, customer_id: str) -> Key:
    return _key(incident_partition(incident_id), f"{Prefix.CONTACT}{customer_id}")


def broadcast_recipient(incident_id: str, update_id: str, customer_id: str) -> Key:
    return _key(f"{Prefix.BROADCAST}{incident_id}#{update_id}#{customer_id}", SortKey.RECIPIENT)


def pace_bucket(bucket: str) -> Key:
    return _key(f"{Prefix.PACE}{bucket}", SortKey.PACE)


def migration(name: str) -> Key:
    return _key(f"{Prefix.MIGRATION}{name}", SortKey.MIGRATION)


def customers_index(created_at: str, customer_id: str) -> dict[str, str]:
    """gsi_customers: every customer profile, oldest first (the broadcast planner pages it)."""
    return {"cust_pk": CUSTOMERS_INDEX_PARTITION, "cust_sk": f"{created_at}#{customer_id}"}


def erasure(customer_id: str) -> Key:
    return _key(f"{Prefix.ERASURE}{customer_id}", SortKey.ERASURE)


def conversation_sort_key_range() -> str:
    """The prefix of a customer's conversation pointers in the customer's partition."""
    return Prefix.CONVERSATION.value


def message_sort_key_prefix() -> str:
    return Prefix.MESSAGE.value


def contact_sort_key_prefix() -> str:
    return Prefix.CONTACT.value


def update_sort_key_prefix() -> str:
    return Prefix.UPDATE.value


def incident_sort_key_prefix() -> str:
    return Prefix.INCIDENT.value


def update_id_of(sort_key: str) -> str:
    return sort_key.removeprefix(Prefix.UPDATE)


def incident_id_of(sort_key: str) -> str:
    return sort_key.removeprefix(Prefix.INCIDENT)


SENDER_INDEX_ATTRIBUTES = ("sender_pk", "sender_sk")


def sender_index(ordering_key: str, received_at: str, inbox_key: str) -> dict[str, str]:
    """gsi_sender, sparse and keys only: the inbox items of one ordering key (a sender, a message, a call).

    Empty for an event whose ids are too long for an index key: the item is stored unindexed rather than
    the provider's event refused (an erasure then finds it only through a message that names it; else
    it goes with its TTL)."""
    partition, sort = sender_partition(ordering_key), f"{received_at}#{inbox_key}"
    if utf8_size(partition) > PARTITION_KEY_MAX_BYTES or utf8_size(sort) > SORT_KEY_MAX_BYTES:
        return {}
    return {"sender_pk": partition, "sender_sk": sort}


def sender_partition(ordering_key: str) -> str:
    return f"{Prefix.ORDERING}{ordering_key}"
