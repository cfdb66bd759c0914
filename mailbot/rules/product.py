"""product: which of a desk's products a request concerns, as an annotation (GRSoft, seed 002).

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
but not the project, which `missing_fields` still asks for. `missing_fields` calls `detect`
with this desk's `[rule.product]` table, so both rules always agree on the product.

The customer's own words are read, signature included (a signature often names the
project), quoted history left out (it may quote another project's ticket).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from pydantic import Field, field_validator

from mailbot.config import Customer
from mailbot.parse import Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict, _keywords
from mailbot.rules._keywords import check_codes, check_phrases, fold
from mailbot.textnorm import clean_subject, new_text

_SIGNATURE_LINE = re.compile(r"^[ \t]*(?:--|__)[ \t]*$", re.MULTILINE)
_PLACEHOLDERS = frozenset(
    {"", "-", "—", "–", "?", "...", "…", "нет", "не знаю", "n/a", "na", "none", "no", "-/-"}
)

PROJECT_LABELS: tuple[str, ...] = (
    "название проекта",
    "наименование проекта",
    "имя проекта",
    "код проекта",
    "проект",
    "project name",
    "project code",
    "project",
)
"""Labels that give a project whatever the product (products may claim some of them)."""


READ_CHARS = 100_000
"""A request longer than this is a pasted log: its first part is the request."""


def own_text(text: str) -> str:
    """What the sender wrote, signature included; quoted history left out.

    `textnorm.new_text` stops at a `-- ` line because a signature is noise for matching a
    request's topic; here the signature is wanted (a name, a phone, a project), so only the
    separator line itself is dropped before the quoted history is cut off.
    """
    return new_text(_SIGNATURE_LINE.sub("", text[:READ_CHARS]))


@lru_cache(maxsize=256)
def _label_pattern(labels: tuple[str, ...]) -> re.Pattern[str]:
    """`Label: value` at a line's start, allowing a list marker and a note in brackets."""
    names = "|".join(re.escape(fold(x)) for x in sorted(set(labels), key=len, reverse=True) if x)
    return re.compile(
        r"^(?:[-*•>]\s*|\d{1,2}[.)]\s*)?(?P<label>" + (names or r"(?!)") + r")"
        r"(?:\s*\([^)]{0,60}\))?\s*(?::|\s[-–—]\s|[-–—]\s)\s*(?P<value>.*)$",
        re.IGNORECASE,
    )


# A line that starts like "Something: ..." (but not a URL): the next label of a form.
_LOOKS_LABELLED = re.compile(r"^(?!\s*https?://)[^:]{1,60}:")


def _value(value: str) -> str | None:
    value = value.strip(" .;,")
    if fold(value) in _PLACEHOLDERS or value.startswith("("):
        return None
    return value


def _next_line_value(line: str) -> bool:
    """A short line under an empty label is its value; a sentence or another label is not."""
    stripped = line.strip()
    if not stripped or _LOOKS_LABELLED.match(stripped) or stripped[-1] in ".!?":
        return False
    return len(stripped.split()) <= 5


def _labelled_lines(text: str, labels: Sequence[str]) -> list[tuple[int, str, str | None]]:
    """(line index, label folded, value or None) of each labelled line.

    A value of "-", "?" or "нет" is what a customer leaves when copying a form unfilled, so
    it counts as none; an empty value may stand on the next line ("Модуль:\nЗаказы") when
    that line is short and no sentence. Values keep their case (a name is capitalised).
    """
    pattern = _label_pattern(tuple(labels))
    lines = text.splitlines()
    found = []
    for index, line in enumerate(lines):
        match = pattern.match(" ".join(line.replace("ё", "е").replace("Ё", "Е").split()))
        if match is None:
            continue
        value = _value(match.group("value"))
        if value is None and not match.group("value").strip():
            following = next((ln for ln in lines[index + 1 : index + 3] if ln.strip()), "")
            if _next_line_value(following):
                value = _value(" ".join(following.split()))
        found.append((index, fold(match.group("label")), value))
    return found


def labelled_all(text: str, labels: Sequence[str]) -> list[tuple[str, str]]:
    """Every `Label: value` line with a real value, as (label folded, value)."""
    return [(label, value) for _i, label, value in _labelled_lines(text, labels) if value]


def labelled(text: str, labels: Sequence[str]) -> tuple[str, str] | None:
    """The first `Label: value` line with a real value: (label folded, value)."""
    found = labelled_all(text, labels)
    return found[0] if found else None


def without_blank_labels(text: str, labels: Sequence[str]) -> str:
    """The text without lines that are a label left unfilled ("Модуль: -")."""
    blank = {index for index, _label, value in _labelled_lines(text, labels) if value is None}
    return "\n".join(line for i, line in enumerate(text.splitlines()) if i not in blank)


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


def _default_products() -> dict[str, ProductSpec]:
    return {
        "napoleon": ProductSpec(
            keywords={"ru": ["наполеон*"], "en": ["napoleon*"]},
            project_labels={
                "ru": ["название проекта", "наименование проекта", "имя проекта", "проект"],
                "en": ["project name", "project"],
            },
        ),
        "aceteam": ProductSpec(
            keywords={"ru": ["эйстим*", "эйс тим*"], "en": ["aceteam", "ace team"]},
            code_pattern=r"AT-\d{4,6}",
            project_labels={"ru": ["код проекта"], "en": ["project code"]},
        ),
        "acepacer": ProductSpec(
            keywords={"ru": ["эйспейсер*"], "en": ["acepacer", "ace pacer"]},
            subject_keywords=["acepacer", "ace pacer"],
        ),
    }


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


@lru_cache(maxsize=64)
def _code_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])(?:" + pattern + r")(?!\w)", re.IGNORECASE)


def _project_names(names: Sequence[str]) -> list[str]:
    """A project name as configured, and with its hyphens as spaces ("Ромашка Юг")."""
    found: list[str] = []
    for name in names:
        found.append(name)
        if "-" in name and not any(ch.isdigit() for ch in name):
            found.append(name.replace("-", " "))
    return [n.replace("*", "") for n in found if n.strip()]


def detect(
    subject: str,
    text: str,
    customer: Customer | None,
    products: Mapping[str, ProductSpec],
) -> ProductMatch | None:
    """The product a request concerns, and how we know; None when nothing says.

    `text` is the sender's own text (see `own_text`); `subject` as the mail has it.
    """
    subject = clean_subject(subject)
    searchable = fold(f"{subject}\n{text}")
    if customer is not None:
        for product, names in customer.projects.items():
            found = _keywords.find(searchable, _project_names(names))
            if found is not None:
                return ProductMatch(product, "project", f"the customer's project {found!r}")
    match = _from_label(text, products)
    if match is not None:
        return match
    for product, spec in products.items():
        if spec.code_pattern is None:
            continue
        code = _code_regex(spec.code_pattern).search(f"{subject}\n{text}")
        if code is not None:
            return ProductMatch(product, "code", f"project code {code.group(0)!r}")
    folded_subject = fold(subject)
    for product, spec in products.items():
        found = _keywords.find(folded_subject, spec.subject_keywords)
        if found is not None:
            return ProductMatch(product, "subject", f"{found!r} in the subject")
    for product, spec in products.items():
        found = _keywords.find(searchable, spec.keywords)
        if found is not None:
            return ProductMatch(product, "keyword", f"the word {found!r}")
    return None


def _from_label(text: str, products: Mapping[str, ProductSpec]) -> ProductMatch | None:
    owned = {
        fold(label): product
        for product, spec in products.items()
        for labels in spec.project_labels.values()
        for label in labels
    }
    found = labelled(text, [*PROJECT_LABELS, *owned])
    if found is None:
        return None
    label, value = found
    evidence = f"labelled project {value!r}"
    for product, spec in products.items():
        if spec.code_pattern is not None and _code_regex(spec.code_pattern).search(value):
            return ProductMatch(product, "label", evidence)
    for product, spec in products.items():
        words = [w for ws in spec.keywords.values() for w in ws]
        if _keywords.find(fold(value), [*words, *spec.subject_keywords]):
            return ProductMatch(product, "label", evidence)
    if label in owned:
        return ProductMatch(owned[label], "label", f"{evidence} under {label!r}")
    return None


def project_named(text: str, match: ProductMatch | None) -> bool:
    """The regulation's item 1 is there: the product says so, or a project line has a value."""
    if match is not None and match.names_project:
        return True
    return labelled(text, PROJECT_LABELS) is not None


class Product:
    name = "product"
    description = "which product the request concerns (project name, project code, subject)"

    class Settings(RuleSettings):
        products: dict[str, ProductSpec] = Field(default_factory=_default_products)
        """Product code -> how it is recognised; the first product in the table wins ties."""

        @field_validator("products")
        @classmethod
        def _codes(cls, value: dict[str, ProductSpec]) -> dict[str, ProductSpec]:
            check_codes(value, "product", "napoleon")
            return value

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        match = detect(mail.subject, own_text(mail.text), context.customer, self.settings.products)
        if match is None:
            return None
        return Verdict(
            self.name,
            Action.annotate,
            detail=f"product {match.product}: {match.evidence}",
            annotations={"product": match.product},
        )


def products_of(context: Context) -> Mapping[str, ProductSpec]:
    """The desk's product table as the `product` rule reads it (defaults when not listed)."""
    return Product.Settings.model_validate(context.desk.rule.get("product", {})).products


RULE = Product
