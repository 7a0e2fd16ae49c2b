"""Where the payload bucket keeps each kind of object: one prefix per kind, so the lifecycle rules
(chalicelib/adapters/resources.py: RETENTION), the IAM grants (infra/) and the writers agree."""

from __future__ import annotations

RAW_PAYLOAD_PREFIX = "raw/"  # webhook bodies too large for an inbox item (``raw/{provider}/{day}/...``)
MAIL_OBJECTS_PREFIX = "inbound-mail/"  # mail Amazon SES's receipt rule writes (the S3 action)
ATTACHMENTS_PREFIX = "attachments/"  # kept email attachments (``attachments/email/{message}/{sha256}``)
REPORTS_PREFIX = "reports/"  # the weekly KPI report's CSV and HTML page (no personal data)
