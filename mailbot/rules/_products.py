"""_products: which of a desk's products a request concerns; read by `product` and `missing_fields`.

GRSoft answers Napoleon, AceTeam and AcePacer from one address, and its regulation tells
customers how to say which: the Napoleon project's name, the AceTeam project code (shown in
the AceTeam account), or the word AcePacer in the subject. Those are what is looked for, in
order of how sure they make us:

1. one of the customer's own projects (`Customer.projects`, product -> names and codes);
2. a labelled line ("Название проекта: Ромашка-Юг", "Код проекта: AT-20417") whose value
   is a code, names a product, or stands under a label a product owns;
3. a code of a product's `code_pattern` anywhere ("AT-20417" is AceTeam's even when the
   desk does not know that project yet);
4. a product's `subject_keywords` in the subject (AcePacer);
5. a product's `keywords` in the subject or text (the word "Наполеон").

Only the first four name the project the regulation asks for; the fifth tells the product
but not the project, which `missing_fields` still asks for. Both rules build one
`ProductTable` from the desk's `[rule.product]` table at start-up, so they always agree on
the product, and nothing of it is compiled per mail.

The customer's own words are read, signature included (a signature often names the
project), quoted history left out (it may quote another project's ticket).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import Field, field_validator

from mailbot.config import Customer
from mailbot.rules import RuleSettings
from mailbot.rules._keywords import Phrases, check_codes, check_phrases, fold
from mailbot.rules._labels import Labels
from mailbot.textnorm import clean_subject, new_text

PROJECT_LABELS = Labels.of(
    (
        "название проекта",
        "наименование проекта",
        "имя проекта",
        "код проекта",
        "проект",
        "project name",
        "project code",
        "project",
    )
)
"""Labels that give a project whatever the product (products may claim some of them)."""

READ_CHARS = 100_000
"""A request longer than this is a pasted log: its first part is the request."""


def own_text(text: str) -> str:
    """What the sender wrote, signature included; quoted history left out."""
    return new_text(text[:READ_CHARS], signature=True)


class ProductSpec(RuleSettings):
    """How one product is recognised in a mail."""

    keywords: dict[str, list[str]] = Field(default_factory=dict)
    """Language -> words (`*` any ending, `{a,b}` either) naming the product anywhere."""
    subject_keywords: list[str] = Field(default_factory=list)
    """Words that name the product, and its project, when they stand in the subject."""
    code_pattern: str | None = None
    """Regular expression of the product's project codes, e.g. "AT-\\d{4,6}"."""
    project_labels: dict[str, list[str]] = Field(default_factory=dict)
    """Language -> labels whose project belongs to this product ("Код проекта" for AceTeam)."""

    _keywords_ok = field_validator("keywords", "subject_keywords")(check_phrases)

    @field_validator("code_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            compiled = re.compile(value, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        if compiled.search(""):
            raise ValueError("the pattern matches empty text")
        return value


class ProductSettings(RuleSettings):
    """The desk's `[rule.product]` table."""

    products: dict[str, ProductSpec]
    """Product code -> how it is recognised; the first product in the table wins ties.
    Required: the words are the desk's (an empty table leaves only customers' projects)."""

    @field_validator("products")
    @classmethod
    def _codes(cls, value: dict[str, ProductSpec]) -> dict[str, ProductSpec]:
        check_codes(value, "product", "napoleon")
        return value


@dataclass(frozen=True)
class ProductMatch:
    product: str
    how: str
    """project | label | code | subject | keyword: which of the module's five ways."""
    evidence: str
    """What was found, for the admin."""

    @property
    def names_project(self) -> bool:
        """The regulation's item 1: a project name, a project code, or AcePacer in the subject."""
        return self.how != "keyword"


@dataclass(frozen=True)
class _Product:
    code: str
    code_regex: re.Pattern[str] | None
    subject_words: Phrases
    words: Phrases
    value_words: Phrases
    """Any of its words, for the value of a labelled project line."""


def _project_names(names: Sequence[str]) -> Phrases:
    """A project name as configured, and with its hyphens as spaces ("Ромашка Юг")."""
    found: list[str] = []
    for name in names:
        found.append(name)
        if "-" in name and not any(ch.isdigit() for ch in name):
            found.append(name.replace("-", " "))
    return Phrases.of(n.replace("*", "") for n in found if n.strip())


def _customer_projects(customer: Customer) -> tuple[tuple[str, Phrases], ...]:
    return tuple((product, _project_names(names)) for product, names in customer.projects.items())


class ProductTable:
    """A desk's products and its customers' projects, compiled once at start-up."""

    def __init__(
        self, products: Mapping[str, ProductSpec], customers: Sequence[Customer] = ()
    ) -> None:
        self.products = tuple(
            _Product(
                code,
                re.compile(r"(?<![\w-])(?:" + spec.code_pattern + r")(?!\w)", re.IGNORECASE)
                if spec.code_pattern is not None
                else None,
                Phrases.of(spec.subject_keywords),
                Phrases.of(spec.keywords),
                Phrases.of(
                    [*(w for ws in spec.keywords.values() for w in ws), *spec.subject_keywords]
                ),
            )
            for code, spec in products.items()
        )
        self.owned = {
            fold(label): code
            for code, spec in products.items()
            for labels in spec.project_labels.values()
            for label in labels
        }
        self.labels = Labels.of(PROJECT_LABELS.names, self.owned)
        self.projects = {c.name: _customer_projects(c) for c in customers}

    def detect(self, subject: str, text: str, customer: Customer | None) -> ProductMatch | None:
        """The product a request concerns, and how we know; None when nothing says.

        `text` is the sender's own text (see `own_text`); `subject` as the mail has it.
        """
        subject = clean_subject(subject)
        searchable = fold(f"{subject}\n{text}")
        if customer is not None:
            projects = self.projects.get(customer.name)
            if projects is None:  # not one of the desk's customers: read its projects now
                projects = _customer_projects(customer)
            for product, names in projects:
                found = names.first(searchable)
                if found is not None:
                    return ProductMatch(product, "project", f"the customer's project {found!r}")
        match = self._from_label(text)
        if match is not None:
            return match
        for spec in self.products:
            code = spec.code_regex.search(f"{subject}\n{text}") if spec.code_regex else None
            if code is not None:
                return ProductMatch(spec.code, "code", f"project code {code.group(0)!r}")
        folded_subject = fold(subject)
        for spec in self.products:
            found = spec.subject_words.first(folded_subject)
            if found is not None:
                return ProductMatch(spec.code, "subject", f"{found!r} in the subject")
        for spec in self.products:
            found = spec.words.first(searchable)
            if found is not None:
                return ProductMatch(spec.code, "keyword", f"the word {found!r}")
        return None

    def _from_label(self, text: str) -> ProductMatch | None:
        found = self.labels.first(text)
        if found is None:
            return None
        label, value = found
        evidence = f"labelled project {value!r}"
        for spec in self.products:
            if spec.code_regex is not None and spec.code_regex.search(value):
                return ProductMatch(spec.code, "label", evidence)
        folded = fold(value)
        for spec in self.products:
            if spec.value_words.first(folded):
                return ProductMatch(spec.code, "label", evidence)
        if label in self.owned:
            return ProductMatch(self.owned[label], "label", f"{evidence} under {label!r}")
        return None


_PROSE_PROJECT = re.compile(
    r"(?<!\w)(?i:проект[аеу]?|проектом|project)[ \t]*(?:(?i:в|во|in|у)[ \t]+[\w-]+[ \t]*)?"
    r"(?:(?i:называется|зовется|зовётся|именуется|is called|is named|called|named)[ \t]+)?"
    r"(?:[-—–:][ \t]*)?(?P<name>«[^»\n]{2,40}»|\"[^\"\n]{2,40}\"|"
    r"[A-ZА-ЯЁ][\w]+(?:[ \t]?-[ \t]?[\w]+|[ \t]+[A-ZА-ЯЁ][\w]+)*)"
)
"""A project named in prose: "проект «ТД Волга»", "Наш проект в Наполеоне — «Вектор-Трейд»",
"Napoleon project Baltic Foods", "проект Кубань-Агро", "проект называется «Юг»", "проект у
нас — Вектор", "project is called North Star" (a capitalised or quoted name right after the
word, or after "называется" / "is called"; "проект договора", "по проекту внедрения" name none)."""


def project_named(text: str, match: ProductMatch | None, table: ProductTable | None = None) -> bool:
    """The regulation's item 1 is there: the product says so, a project line has a value, or
    the prose names a project (not a product: "проект Наполеон" names none)."""
    if match is not None and match.names_project:
        return True
    if PROJECT_LABELS.first(text) is not None:
        return True
    for found in _PROSE_PROJECT.finditer(text):
        name = fold(found.group("name").strip('«»"'))
        if table is None or not any(p.value_words.first(name) for p in table.products):
            return True
    return False
