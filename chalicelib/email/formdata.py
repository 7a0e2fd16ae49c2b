"""The form bodies SendGrid and Mailgun post: ``multipart/form-data`` (read with the ``email`` parser,
never ``cgi``) or ``application/x-www-form-urlencoded``.

Bounded: the number of fields is counted on the raw bytes (delimiter lines of the declared boundary)
before the parser runs, and a body with more than ``max_fields`` is refused. Values stay bytes: the
caller knows their charset (SendGrid's ``charsets`` field; UTF-8 for Mailgun). Every failure is a
:class:`PayloadError`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser
from urllib.parse import parse_qsl

from chalicelib.email.headers import one_line
from chalicelib.email.mime_walk import decode_bytes
from chalicelib.providers.base import PayloadError

MAX_FORM_FIELDS = 300
_BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{1,70}$")  # RFC 2046 bchars


@dataclass(frozen=True, slots=True)
class FormField:
    name: str
    value: bytes
    filename: str | None = None
    content_type: str | None = None

    def text(self, charset: str = "utf-8") -> str:
        return decode_bytes(self.value, charset)


@dataclass(frozen=True, slots=True)
class Form:
    fields: tuple[FormField, ...]

    def get(self, name: str) -> FormField | None:
        return next((f for f in self.fields if f.name == name), None)

    def text(self, name: str, charset: str = "utf-8") -> str | None:
        found = self.get(name)
        return None if found is None else found.text(charset)

    def files(self) -> Iterable[FormField]:
        return (f for f in self.fields if f.filename is not None)


def read_form(content_type: str | None, body: bytes, *, max_fields: int = MAX_FORM_FIELDS) -> Form:
    """The body's fields, in order (the same body always gives the same, cached, result)."""
    return _read_form(content_type or "", body, max_fields)


@functools.lru_cache(maxsize=2)  # verify and parse read the same body: parse it once
def _read_form(content_type: str, body: bytes, max_fields: int) -> Form:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        return _multipart(content_type, body, max_fields)
    if media_type in ("application/x-www-form-urlencoded", ""):
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=max_fields)
        except UnicodeDecodeError as err:
            raise PayloadError("the form body is not UTF-8") from err
        except ValueError as err:
            raise PayloadError(f"the form has more than {max_fields} fields") from err
        return Form(tuple(FormField(name, value.encode("utf-8")) for name, value in pairs))
    raise PayloadError("the body must be multipart/form-data or application/x-www-form-urlencoded")


def _multipart(content_type: str, body: bytes, max_fields: int) -> Form:
    match = re.search(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', content_type, re.IGNORECASE)
    boundary = (match.group(1) or match.group(2)) if match else None
    if not boundary or not _BOUNDARY.match(boundary):
        raise PayloadError("multipart/form-data without a valid boundary")
    delimiters = len(re.findall(rb"(?m)^--" + re.escape(boundary.encode("ascii")), body))
    if delimiters > max_fields + 1:
        raise PayloadError(f"the form has more than {max_fields} fields")
    head = f'Content-Type: multipart/form-data; boundary="{boundary}"\r\nMIME-Version: 1.0\r\n\r\n'.encode("ascii")
    try:
        message = BytesParser(policy=policy.default).parsebytes(head + body)
        parts = message.get_payload()
    except Exception as err:  # a parser crash on hostile input is a bad request, never a 500
        raise PayloadError("the multipart form could not be read") from err
    if not isinstance(parts, list):
        raise PayloadError("the multipart form has no parts")
    fields = []
    for part in parts:
        if isinstance(part, Message):
            field = _field(part)
            if field is not None:
                fields.append(field)
    return Form(tuple(fields))


def _field(part: Message) -> FormField | None:
    try:
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True)
        content_type = part.get("content-type")
    except Exception:  # a part the parser cannot describe is skipped, the rest is read
        return None
    if not isinstance(name, str) or not name:
        return None
    value = bytes(payload) if isinstance(payload, bytes | bytearray) else b""
    return FormField(
        name=one_line(name, limit=200),
        value=value,
        filename=one_line(filename, limit=255) if isinstance(filename, str) else None,
        content_type=one_line(str(content_type), limit=200).split(";")[0].strip().lower() if content_type else None,
    )
