"""Languages: hints from where a customer writes from (a phone's country calling code or a country
code), and language tags (normalizing them, matching them against the languages we write in).

A hint, never a decision: the customer's stored language and the provider's own language tag
(Telegram ``language_code``, Viber ``sender.language``) come first.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable

# ISO 3166 country → the language most customers there write in (only where that is clear).
_COUNTRY_LANGUAGE = {
    "IT": "it", "SM": "it", "VA": "it", "ES": "es", "MX": "es", "AR": "es", "CO": "es", "CL": "es", "PE": "es",
    "FR": "fr", "MC": "fr", "DE": "de", "AT": "de", "LI": "de", "PT": "pt", "BR": "pt", "NL": "nl",
    "GB": "en", "IE": "en", "US": "en", "AU": "en", "NZ": "en", "JP": "ja", "TH": "th", "PL": "pl",
}

# E.164 calling code → country (longest prefix first where codes share digits). +1 is several
# countries but English is the safe hint for all of them.
_CALLING_CODES = {
    "39": "IT", "378": "SM", "34": "ES", "52": "MX", "54": "AR", "57": "CO", "56": "CL", "51": "PE", "33": "FR",
    "377": "MC", "49": "DE", "43": "AT", "423": "LI", "351": "PT", "55": "BR", "31": "NL", "44": "GB",
    "353": "IE", "1": "US", "61": "AU", "64": "NZ", "81": "JP", "66": "TH", "48": "PL",
}


def country_of_phone(phone: str) -> str | None:
    if not phone.startswith("+"):
        return None
    digits = phone[1:]
    for length in (3, 2, 1):
        country = _CALLING_CODES.get(digits[:length])
        if country:
            return country
    return None


def language_for_country(country: str | None) -> str | None:
    return _COUNTRY_LANGUAGE.get(country.upper()) if country else None


def language_hint(address: str, country: str | None = None) -> str | None:
    """The language a phone number or a provider's country code suggests, if any."""
    return language_for_country(country) or language_for_country(country_of_phone(address))


# ---- language tags (BCP 47, as providers and customers write them) ---------------------------------

# Lower-case after normalization: "pt-br", "zh-hant-tw"; not a full BCP 47 grammar, enough to refuse junk.
_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")


def is_language_tag(text: str) -> bool:
    """True for an already normalized (lower-case, ``-``-separated) tag such as ``"pt-br"``."""
    return bool(_LANGUAGE_TAG.match(text))


def normalize_language_tag(tag: str | None) -> str | None:
    """``"pt_BR"``, ``" PT-br "`` → ``"pt-br"``; ``None`` for anything that is not a language tag."""
    if not tag or not isinstance(tag, str):
        return None
    normalized = tag.strip().replace("_", "-").lower()
    return normalized if is_language_tag(normalized) else None


def match_language(candidates: Iterable[str | None], supported: Container[str], fallback: str) -> str:
    """The first candidate we support — each exactly, then its base (``pt-BR`` → ``pt``) — else ``fallback``.

    Candidates come in order of trust (the customer's stored language before a provider's hint);
    anything that is not a language tag is skipped.
    """
    for candidate in candidates:
        tag = normalize_language_tag(candidate)
        if tag is None:
            continue
        if tag in supported:
            return tag
        base = tag.split("-", 1)[0]
        if base in supported:
            return base
    return fallback
