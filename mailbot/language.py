"""language: which language a mail is written in, and which one to answer in. Pure.

Detection (py3langid, model shipped inside the package, no download) is limited to the
languages the desk can answer in, so a short Ukrainian mail is not mistaken for Bulgarian;
below a confidence threshold the answer is "unknown" and the desk's language is used.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from mailbot.config import Customer, DeskSettings

_MIN_PROBABILITY = 0.7
_lock = threading.Lock()


@lru_cache(maxsize=4)
def _identifier(candidates: tuple[str, ...]) -> LanguageIdentifier:
    """One identifier per candidate set: narrowing the model copies it, so do it once.

    The narrowed copy is all `classify` reads; the full table of 97 languages (28 MB) that
    py3langid keeps to narrow again is let go: every worker process held it for nothing."""
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(candidates))
    identifier._full_model = None
    return identifier


def detect(text: str, candidates: Sequence[str]) -> str | None:
    """The language of `text` among `candidates`, or None when unsure or too short."""
    sample = text[:2000]
    if len(candidates) < 2 or sum(ch.isalpha() for ch in sample) < 12:
        return None
    identifier = _identifier(tuple(sorted(candidates)))
    with _lock:
        language, probability = identifier.classify(sample)
    return str(language) if probability >= _MIN_PROBABILITY else None


def reply_language(desk: DeskSettings, customer: Customer | None, detected: str | None) -> str:
    """The desk's policy decides: its own language, the customer's, or the mail's."""
    if desk.reply_language == "desk":
        return desk.language
    if customer is not None and customer.language:
        return customer.language
    if desk.reply_language == "mail" and detected in (desk.language, *desk.languages):
        return detected
    return desk.language
