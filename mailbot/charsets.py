"""charsets: which codec may read a mail's text, and a guess for text that names none.

A charset label in a mail is the sender's claim, and Python's codec registry holds far more
than text encodings: `punycode` (quadratic: a 1 MB body held a worker for a minute),
`unicode-escape`, `idna`, `rot13`, ... A label is honoured only when it names an encoding mail
really uses; anything else is treated as an unknown charset, never run.

Undeclared 8-bit text (or text that does not fit its declared charset) used to go through the
desk's fixed ladder, so a Chinese subject in raw GB2312 came out as Cyrillic garbage on a desk
whose ladder starts with KOI8-R. Each candidate reading is now scored for how much it looks like
text (charset-normalizer's mess ratio, plus case flips inside words, which is how KOI8-R read
as windows-1251 and back shows), with a bonus for encodings of the desk's languages; the
detector's own candidates compete with the ladder's. The ladder stays the last resort.

Pure: no I/O, no configuration; the caller says the ladder and the languages.
"""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from charset_normalizer import from_bytes
from charset_normalizer.cd import encoding_languages, mb_encoding_languages
from charset_normalizer.md import mess_ratio

__all__ = ["Guess", "codec_for", "guess"]

# Codec names (Python's canonical spelling, '-' as '_') of encodings that occur in mail. All
# have linear C decoders; bytes-to-bytes and text-transform codecs can never match.
_MAIL_CODEC = re.compile(
    r"ascii|latin_1|utf_(?:7|8|8_sig|16|16_[bl]e|32|32_[bl]e)|iso8859_\d{1,2}|cp\d{3,5}"
    r"|koi8_[rtu]|kz1048|ptcp154|mac_[a-z]+|tis_620|hp_roman8|gb2312|gbk|gb18030|hz"
    r"|big5|big5hkscs|euc_[a-z0-9_]+|shift_jis(?:_2004|x0213)?|iso2022_[a-z0-9_]+|johab"
)
_CHARSET_NAME = re.compile(r"[A-Za-z0-9_.:()+-]{1,40}")

# Names mailers use that Python's codec registry does not know, mapped to what they mean.
_ALIASES = {
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "iso-8859-8-e": "iso-8859-8",
    "iso-8859-6-e": "iso-8859-6",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "x-sjis": "shift_jis",
    "x-mac-cyrillic": "mac-cyrillic",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode20utf8": "utf-8",
    "utf8mb4": "utf-8",
}

# ISO 639-1 codes (as desks name languages) -> charset-normalizer's language names.
_LANGUAGE_NAMES = {
    "ar": "Arabic", "bg": "Bulgarian", "cs": "Czech", "da": "Danish", "de": "German",
    "el": "Greek", "en": "English", "es": "Spanish", "et": "Estonian", "fa": "Farsi",
    "fi": "Finnish", "fr": "French", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian",
    "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese", "kk": "Kazakh",
    "ko": "Korean", "lt": "Lithuanian", "nl": "Dutch", "no": "Norwegian", "pl": "Polish",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovene",
    "sr": "Serbian", "sv": "Swedish", "ta": "Tamil", "th": "Thai", "tr": "Turkish",
    "uk": "Ukrainian", "vi": "Vietnamese", "zh": "Chinese",
}  # fmt: skip
_NON_LATIN = frozenset(
    {"Arabic", "Bulgarian", "Chinese", "Farsi", "Greek", "Hebrew", "Hindi", "Japanese",
     "Kazakh", "Korean", "Russian", "Serbian", "Tamil", "Thai", "Ukrainian"}
)  # fmt: skip

# A reading scoring above this (mess ratio + case flips - language bonus) is not text.
MAX_SCORE = 0.2
# An encoding used for one of the desk's languages: its readings are preferred by this much.
LANGUAGE_BONUS = 0.1
# The detector and the scorer look at this much; the whole text is still decoded strictly.
SAMPLE_BYTES = 32 * 1024
SAMPLE_CHARS = 8 * 1024
DETECTOR_CANDIDATES = 5
# The detector knows DOS and EBCDIC code pages too; undeclared mail text is in one of these.
# Their order breaks ties between the detector's readings: the more common in mail first.
_GUESSABLE = (
    "cp1252", "iso8859-15", "iso8859-1", "cp1251", "koi8-r", "koi8-u", "cp1250", "iso8859-2",
    "gb18030", "gb2312", "gbk", "big5", "cp950", "big5hkscs", "shift_jis", "cp932", "euc_jp",
    "iso2022_jp", "cp949", "euc_kr", "cp1253", "iso8859-7", "cp1254", "iso8859-9", "cp1255",
    "iso8859-8", "cp1256", "iso8859-6", "cp1257", "iso8859-13", "cp1258", "cp874", "tis-620",
    "iso8859-5", "iso8859-3", "iso8859-4", "iso8859-10", "iso8859-14", "iso8859-16",
)  # fmt: skip
# Fewer 8-bit bytes than this are too little to tell one encoding from another.
MIN_GUESS_BYTES = 3


@dataclass(frozen=True)
class Guess:
    codec: str
    text: str
    detected: bool  # found by the detector, not on the desk's ladder


@functools.lru_cache(maxsize=512)
def codec_for(name: str) -> str | None:
    """Python's codec for a mail charset label, or None when it names no mail text encoding."""
    label = name.strip().strip("\"'").lower()
    label = _ALIASES.get(label, label)
    if not _CHARSET_NAME.fullmatch(label):
        return None
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None
    if not _MAIL_CODEC.fullmatch(info.name.replace("-", "_")):
        return None
    return str(info.name)


def guess(data: bytes, ladder: Sequence[str], languages: Sequence[str]) -> Guess | None:
    """The likeliest reading of 8-bit bytes, or None when no candidate reads as text.

    `ladder` holds codec names (from `codec_for`) in the desk's order; on a tie the earlier one
    wins, so a desk whose mail is well read today keeps reading it the same way.
    """
    wanted = frozenset(_LANGUAGE_NAMES[code] for code in languages if code in _LANGUAGE_NAMES)
    scored: list[tuple[float, int, str, str]] = []
    tried: set[str] = set()
    text = _strict(data, "utf-8")
    if text is not None:
        return Guess("utf-8", text, "utf-8" not in ladder)  # 8-bit and valid UTF-8: UTF-8
    tried.add("utf-8")
    for order, codec in enumerate(ladder):
        if codec in tried:
            continue
        tried.add(codec)
        text = _strict(data, codec)
        if text is None:
            continue
        scored.append((_score(text, codec, wanted), order, codec, text))
    if scored and min(scored)[0] <= 0:
        best = min(scored)  # clean text in an encoding of the desk's languages
        return Guess(best[2], best[3], False)
    matches = []
    if sum(1 for byte in data[:SAMPLE_BYTES] if byte > 0x7F) >= MIN_GUESS_BYTES:
        try:
            matches = list(from_bytes(data[:SAMPLE_BYTES]))[:DETECTOR_CANDIDATES]
        except Exception:  # a detector failure only means "no detector opinion"
            matches = []
    for match in matches:
        candidate = codec_for(match.encoding)
        if candidate is None or candidate in tried:
            continue
        if candidate not in _GUESSABLE:
            continue
        tried.add(candidate)
        text = _strict(data, candidate)
        if text is not None:
            score = _score(text, candidate, wanted)
            scored.append((score, len(ladder) + _GUESSABLE.index(candidate), candidate, text))
    if not scored:
        return None
    best = min(scored)
    if best[0] > MAX_SCORE:
        return None
    return Guess(best[2], best[3], best[1] >= len(ladder))


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, ValueError, LookupError):
        return None


def _score(text: str, codec: str, wanted: frozenset[str]) -> float:
    sample = text[:SAMPLE_CHARS]
    try:
        mess = float(mess_ratio(sample, 1.0))
    except Exception:  # the scorer must never cost a mail its text
        mess = 1.0
    score = mess + _case_flips(sample) + _foreign_script(sample, _languages(codec))
    if wanted & _languages(codec):
        score -= LANGUAGE_BONUS
    return score


def _case_flips(text: str) -> float:
    """Share of words with a lower-case letter followed by a capital ('мЕ', 'нЕТ').

    Real words seldom do it; KOI8-R and windows-1251 read as each other do it in every word.
    """
    words = flips = 0
    previous_lower = in_word = False
    flipped = False
    for char in text:
        if char.isalpha():
            if not in_word:
                words += 1
                in_word = True
                flipped = False
            elif previous_lower and char.isupper() and not flipped:
                flips += 1
                flipped = True
            previous_lower = char.islower()
        else:
            in_word = previous_lower = False
    return flips / words if words else 0.0


def _foreign_script(text: str, languages: frozenset[str]) -> float:
    """Share of letters in a script the encoding's languages do not write, plus Hangul next to
    Han: what CJK bytes read in the wrong CJK encoding look like ('밑黨랙', '楷き', 'ﾓﾉﾎ').
    """
    letters = foreign = 0
    previous = ""
    for char in text:
        if not char.isalpha():
            previous = ""
            continue
        letters += 1
        point = ord(char)
        if 0xAC00 <= point <= 0xD7A3 or 0x1100 <= point <= 0x11FF or 0x3130 <= point <= 0x318F:
            script = "hangul"
        elif 0x4E00 <= point <= 0x9FFF or 0x3400 <= point <= 0x4DBF or 0xF900 <= point <= 0xFAFF:
            script = "han"
        elif 0x3040 <= point <= 0x30FF:
            script = "kana"
        elif 0xFF61 <= point <= 0xFF9F:
            script = "halfwidth"
        else:
            script = "other"
        if (
            script == "halfwidth"
            or (script == "kana" and "Japanese" not in languages)
            or (script == "hangul" and "Korean" not in languages)
            or {script, previous} == {"hangul", "han"}
        ):
            foreign += 1
        previous = script
    return foreign / letters if letters else 0.0


@functools.lru_cache(maxsize=256)
def _languages(codec: str) -> frozenset[str]:
    """Languages charset-normalizer associates with an encoding; Latin ones as their names."""
    name = codec.replace("-", "_")
    try:
        found = mb_encoding_languages(name) or encoding_languages(name)
    except Exception:  # unknown to the detector: no bonus, no harm
        return frozenset()
    names = set(found)
    if "Latin Based" in names:
        names |= set(_LANGUAGE_NAMES.values()) - _NON_LATIN
    return frozenset(names)
