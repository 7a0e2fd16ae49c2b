"""The sandbox's answers for the email send APIs (SendGrid, Mailgun, Postmark), as each provider answers:
a mixin of :class:`devstack.sandbox.emulator.Emulator`, which dispatches ``_<provider>`` by route."""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any
from urllib.parse import parse_qsl

from devstack.sandbox.presets import Answer
from devstack.sandbox.readers import _basic, _bearer


class EmailApis:
    def _sendgrid(self, match: re.Match[str], headers: dict[str, str], body: Any, query: str) -> Answer:
        if not _bearer(headers):
            return 401, {}, {"errors": [{"field": None, "message": "The provided authorization grant is invalid, "
                                                                   "expired, or revoked", "help": None}]}
        data = body if isinstance(body, dict) else {}
        personalizations = data.get("personalizations")
        if not isinstance(personalizations, list) or not personalizations:
            return 400, {}, {"errors": [{"field": "personalizations", "help": None,
                                         "message": "The personalizations field is required and must have at least "
                                                    "one personalization."}]}
        if not isinstance(data.get("from"), dict) or not data["from"].get("email"):
            return 400, {}, {"errors": [{"field": "from.email", "help": None,
                                         "message": "The from object must be provided for every email request."}]}
        return 202, {"X-Message-Id": secrets.token_urlsafe(16)}, ""

    def _mailgun(self, match: re.Match[str], headers: dict[str, str], body: Any, query: str) -> Answer:
        user, password = _basic(headers)
        if user != "api" or not password:
            return 401, {}, {"message": "Invalid private key"}
        form = body if isinstance(body, dict) else {}
        missing = [name for name in ("from", "to") if not form.get(name)]
        if missing:
            return 400, {}, {"message": f"'{missing[0]}' parameter is missing"}
        message_id = f"<{uuid.uuid4().hex[:14]}.{secrets.randbelow(10**8)}@{match['domain']}>"
        return 200, {}, {"id": message_id, "message": "Queued. Thank you."}

    def _postmark(self, match: re.Match[str], headers: dict[str, str], body: Any, query: str) -> Answer:
        if not headers.get("x-postmark-server-token"):
            return 401, {}, {"ErrorCode": 10, "Message": "No Account or Server API tokens were supplied in the "
                                                         "HTTP headers. Please add a header for either "
                                                         "X-Postmark-Server-Token or X-Postmark-Account-Token."}
        data = body if isinstance(body, dict) else {}
        if not data.get("To"):
            return 422, {}, {"ErrorCode": 300, "Message": "Invalid 'To' address: ''."}
        if not data.get("From"):
            return 422, {}, {"ErrorCode": 300, "Message": "Invalid 'From' address: ''."}
        return 200, {}, {"To": data["To"], "SubmittedAt": "2024-06-03T08:12:35.1234567Z",
                         "MessageID": str(uuid.uuid4()), "ErrorCode": 0, "Message": "OK"}

    def _sns(self, match: re.Match[str], headers: dict[str, str], body: Any, query: str) -> Answer:
        """SNS's ConfirmSubscription (the GET of a SubscribeURL): its result, as JSON for the outbox."""
        params = dict(parse_qsl(query))
        if params.get("Action") != "ConfirmSubscription" or not params.get("Token"):
            return 400, {}, {"Error": {"Code": "InvalidParameter", "Message": "Token"}}
        arn = f"{params.get('TopicArn', 'arn:aws:sns:us-east-1:000000000000:topic')}:{uuid.uuid4()}"
        return 200, {}, {"ConfirmSubscriptionResponse": {"ConfirmSubscriptionResult": {"SubscriptionArn": arn}}}
