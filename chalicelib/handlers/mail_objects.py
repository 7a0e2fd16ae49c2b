"""The mail-objects queue's handler: S3 notifications of mail written to the payload bucket.

A standard queue with partial batch failures: a mail whose object or table write failed comes back
after the visibility timeout (then the DLQ); a notification naming something else is dropped with a
warning (redelivering it would never help); S3's ``s3:TestEvent`` names no object and is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.adapters.observability import logger
from chalicelib.core.ports import InboxRepository, PayloadArchive
from chalicelib.ingest.mail_objects import NotAMailObject, ingest_mail_object, mail_objects_in

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse


def handle_mail_object_batch(
    event: dict[str, Any], *, inbox: InboxRepository, objects: PayloadArchive, bucket_name: str,
    served_mailboxes: Collection[str] = (), context: Any = None,
) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=EventType.SQS)

    def handle_one(record: SQSRecord) -> None:
        try:
            notification = json.loads(record.body)
        except ValueError:
            logger.warning("mail-objects message is not JSON; dropped")
            return
        for mail in mail_objects_in(notification if isinstance(notification, dict) else {}):
            try:
                ingest_mail_object(mail, bucket_name=bucket_name, inbox=inbox, objects=objects,
                                   served_mailboxes=served_mailboxes)
            except NotAMailObject as err:
                logger.warning("mail object refused", extra={"reason": err.reason})

    return process_partial_response(event, handle_one, processor, context)
