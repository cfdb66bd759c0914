"""kb: the desks' knowledge bases, read and indexed once at start-up, searched for every mail.

Pure: the articles are read from `config/kb/<desk>/*.md` when the pipeline is built, and
searching touches nothing but the index in memory. An article is Markdown with TOML front
matter between `+++` lines (title, url, language, keywords): TOML because every other file an
operator edits here is TOML, `tomllib` is in the standard library, and its errors carry a line
number; a bad article stops start-up with one line naming the file and the key.

Customers write inflected Russian, Ukrainian, Polish, Slovak and Persian, with typos. A word
is reduced by a Snowball stemmer (PyStemmer: Russian, Polish, Persian, English, and the Czech
one for Slovak and Czech; Ukrainian has none and keeps its words) and then cut into character
4-grams with word-boundary marks, so "счетов"/"счета", "faktúry"/"faktúru" or a letter typed
wrong still share most features. Features are weighted TF-IDF (BM25's idf, which gives a
feature every article has almost no weight) and an article's relevance is the cosine of the
mail's features, those the index knows, with the article's: 0 to 1, comparable across desks,
so one threshold per desk says "relevant enough"; below it nothing is offered.
"""

from __future__ import annotations

import math
import re
import threading
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import Stemmer

from mailbot.errors import ConfigError

if TYPE_CHECKING:
    from mailbot.config import Config, DeskSettings

STEMMERS = {
    "ru": "russian",
    "pl": "polish",
    "fa": "persian",
    "en": "english",
    "cs": "czech",
    "sk": "czech",  # Snowball has no Slovak stemmer; the Czech one strips most of its endings
}
"""Snowball stemmers by language; a language without one (Ukrainian) keeps its words."""

NGRAM = 4
READ_CHARS = 4000
"""What a mail asks stands at its start; a pasted log below it would only cost time."""
TITLE_WEIGHT = 2
"""Title and keywords say what an article is about: they count twice the body's words."""

_WORD = re.compile(r"[^\W\d_]{2,}")
# Arabic-keyboard letters and the zero-width non-joiner Persian writers use or omit at will
_FOLD = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "\u200c": " ", "ـ": None, "ё": "е"})
_FRONT = re.compile(r"\A\ufeff?\+\+\+[ \t]*\r?\n(.*?)\r?\n\+\+\+[ \t]*(?:\r?\n|\Z)", re.DOTALL)


_KEYS = ("title", "url", "language", "keywords")
_URL = re.compile(r"^https?://\S+$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")


def _meta(data: dict[str, Any]) -> tuple[str, str, str, tuple[str, ...]]:
    """title, url, language, keywords, or ValueError("key: what is wrong"). Checked by hand,
    not with a pydantic model: building one costs the worker's import ~20 ms for four keys."""
    for key in data:
        if key not in _KEYS:
            raise ValueError(f"{key}: unknown key (an article has {', '.join(_KEYS)})")
    for key in ("title", "url", "language"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ValueError(f"{key}: required, a non-empty string")
    if not _URL.match(data["url"]):
        raise ValueError(f"url: expected an http:// or https:// address, got {data['url']!r}")
    if not _LANGUAGE.match(data["language"]):
        raise ValueError(f"language: expected a two-letter code like pl, got {data['language']!r}")
    keywords = data.get("keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise ValueError("keywords: expected a list of strings")
    if any(not k.strip() for k in keywords):
        raise ValueError("keywords: an empty keyword")
    return data["title"].strip(), data["url"], data["language"], tuple(keywords)


@dataclass(frozen=True)
class Article:
    title: str
    url: str
    language: str
    keywords: tuple[str, ...]
    body: str
    path: Path


@dataclass(frozen=True)
class Hit:
    """An article found for a mail, with its relevance (0..1); what reply templates list."""

    article: Article
    score: float

    @property
    def title(self) -> str:
        return self.article.title

    @property
    def url(self) -> str:
        return self.article.url

    def as_value(self) -> dict[str, str]:
        """The form templates get: {title, url}."""
        return {"title": self.title, "url": self.url}


def read_article(path: Path) -> Article:
    """One article file; ConfigError naming the file and the key when it is not right."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    match = _FRONT.match(text)
    if match is None:
        raise ConfigError(f"{path}: expected TOML front matter between +++ lines at the top")
    try:
        data = tomllib.loads(match.group(1))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: front matter is not valid TOML: {exc}") from exc
    try:
        title, url, language, keywords = _meta(data)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    body = text[match.end() :].strip()
    return Article(title, url, language, keywords, body, path)


_local = threading.local()


def _stemmer(language: str) -> Any:
    """This thread's stemmer for `language` (a PyStemmer object must not be shared by threads)."""
    stemmers: dict[str, Any] = _local.__dict__.setdefault("stemmers", {})
    if language not in stemmers:
        name = STEMMERS.get(language)
        stemmers[language] = Stemmer.Stemmer(name) if name else None
    return stemmers[language]


def fold(text: str) -> str:
    """Case, ё/е and Persian keyboard variants folded, as articles and mails are compared."""
    return text.casefold().translate(_FOLD)


def features(text: str, language: str) -> Counter[str]:
    """The stemmed words of `text`, each cut into character n-grams with boundary marks."""
    counts: Counter[str] = Counter()
    for word in _WORD.findall(fold(text)):
        counts.update(_word_features(word, language))
    return counts


@lru_cache(maxsize=65536)
def _word_features(word: str, language: str) -> tuple[str, ...]:
    """Customers and articles repeat their words: each is stemmed and cut once."""
    stemmer = _stemmer(language)
    marked = f"<{stemmer.stemWord(word) if stemmer is not None else word}>"
    if len(marked) <= NGRAM:
        return (marked,)
    return tuple(marked[i : i + NGRAM] for i in range(len(marked) - NGRAM + 1))


class _Index:
    """The articles of one language: an inverted index of unit-length TF-IDF vectors."""

    def __init__(self, articles: Sequence[Article], language: str) -> None:
        self.articles = tuple(articles)
        docs = []
        for article in articles:
            key_text = " ".join((article.title, *article.keywords))
            counts = features(article.body, language)
            for feature, n in features(key_text, language).items():
                counts[feature] += TITLE_WEIGHT * n
            docs.append(counts)
        df = Counter(feature for doc in docs for feature in doc)
        total = len(docs)
        idf = {f: math.log(1 + (total - n + 0.5) / (n + 0.5)) for f, n in df.items()}
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for number, doc in enumerate(docs):
            weights = {f: (1 + math.log(n)) * idf[f] for f, n in doc.items()}
            norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            for feature, weight in weights.items():
                postings[feature].append((number, weight / norm))
        # the postings of every feature laid end to end, so that scoring a mail is a few numpy
        # operations whatever the number of articles (a Python loop over postings is not)
        self.ids = {feature: i for i, feature in enumerate(idf)}
        self.idf = np.array(list(idf.values()), dtype=np.float64)
        lengths = [len(postings[f]) for f in idf]
        self.lengths = np.array(lengths, dtype=np.int64)
        self.starts = np.cumsum(self.lengths) - self.lengths
        flat = [posting for f in idf for posting in postings[f]]
        self.doc_ids = np.array([number for number, _ in flat], dtype=np.int64)
        self.weights = np.array([weight for _, weight in flat], dtype=np.float64)

    def scores(self, query: Mapping[str, int]) -> npt.NDArray[np.float64]:
        """Cosine of the query's known features with every article (0 where none is shared)."""
        known = [(i, n) for f, n in query.items() if (i := self.ids.get(f)) is not None]
        if not known:
            return np.zeros(len(self.articles))
        ids = np.array([i for i, _ in known], dtype=np.int64)
        query_weights = (1 + np.log([n for _, n in known])) * self.idf[ids]
        lengths = self.lengths[ids]
        # the positions of the chosen features' postings in the flat arrays
        ends = np.cumsum(lengths)
        at = np.repeat(self.starts[ids] - (ends - lengths), lengths) + np.arange(ends[-1])
        totals = np.bincount(
            self.doc_ids[at],
            weights=self.weights[at] * np.repeat(query_weights, lengths),
            minlength=len(self.articles),
        )
        result: npt.NDArray[np.float64] = totals / math.sqrt(query_weights @ query_weights)
        return result


class KnowledgeBase:
    """One desk's articles, indexed per language; `search` offers the relevant ones."""

    def __init__(
        self, articles: Iterable[Article], *, threshold: float = 0.22, limit: int = 3
    ) -> None:
        self.threshold = threshold
        self.limit = limit
        by_language: dict[str, list[Article]] = defaultdict(list)
        for article in articles:
            by_language[article.language].append(article)
        self.indexes = {lang: _Index(found, lang) for lang, found in by_language.items()}

    @classmethod
    def from_folder(
        cls,
        folder: Path,
        *,
        threshold: float = 0.22,
        limit: int = 3,
        languages: Sequence[str] | None = None,
    ) -> KnowledgeBase:
        """The articles `folder/*.md` (none when the folder does not exist): a desk without a
        knowledge base offers no links. `languages` are those the desk answers in; an
        article in another would never be offered, so it is an error."""
        articles = [read_article(p) for p in sorted(folder.glob("*.md"))] if folder.is_dir() else []
        seen: dict[str, Path] = {}
        for article in articles:
            if languages is not None and article.language not in languages:
                raise ConfigError(
                    f"{article.path}: language: {article.language!r} is not a language the"
                    f" desk answers in ({', '.join(languages)})"
                )
            key = f"{article.language} {article.url}"
            if key in seen:
                raise ConfigError(
                    f"{article.path}: url: {article.url} is already the url of {seen[key]}"
                )
            seen[key] = article.path
        return cls(articles, threshold=threshold, limit=limit)

    def __len__(self) -> int:
        return sum(len(index.articles) for index in self.indexes.values())

    def search(self, text: str, language: str, limit: int | None = None) -> list[Hit]:
        """The most relevant articles in `language`, best first, at most `limit` (the desk's
        max_articles by default), only those at or above the threshold: often none."""
        index = self.indexes.get(language)
        if index is None:
            return []
        scores = index.scores(features(text[:READ_CHARS], language))
        count = self.limit if limit is None else limit
        # stable: equal scores keep the articles' order (their file names)
        best = np.argsort(-scores, kind="stable")[:count]
        return [
            Hit(index.articles[number], round(float(scores[number]), 4))
            for number in best
            if scores[number] >= self.threshold
        ]


def load(config: Config) -> dict[str, KnowledgeBase]:
    """Every desk's knowledge base, from `kb_dir/<desk>/` with the desk's `[kb]` settings."""
    return {name: for_desk(config.kb_dir / name, desk) for name, desk in config.desks.items()}


def for_desk(folder: Path, desk: DeskSettings) -> KnowledgeBase:
    return KnowledgeBase.from_folder(
        folder,
        threshold=desk.kb.threshold,
        limit=desk.kb.max_articles,
        languages=[desk.language, *desk.languages],
    )
