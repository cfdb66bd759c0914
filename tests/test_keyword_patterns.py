"""Keyword patterns built in a cheaper shape must find exactly what the phrases find.

A phrase of many brace choices is matched by one factored pattern (`_keywords._factored`)
instead of every phrase it stands for spelled out: hypothesis writes phrases and texts from
one small vocabulary (so they often meet) and compares the two shapes on each text.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from mailbot.rules import _keywords

WORDS = ["prosím", "nám", "vymažte", "údaje", "faktúry", "sklad", "ы"]
word = st.sampled_from([*WORDS, "údaj*", "faktúr*", "sklad*"])
words = st.lists(word, min_size=1, max_size=2).map(" ".join)
group = st.lists(st.one_of(words, st.just("")), min_size=2, max_size=4).map(
    lambda choices: "{" + ",".join(choices) + "}"
)
first_group = st.lists(words, min_size=2, max_size=4).map(lambda c: "{" + ",".join(c) + "}")
phrase = st.tuples(first_group, st.lists(st.one_of(group, words), min_size=1, max_size=3)).map(
    lambda parts: " ".join([parts[0], *parts[1]])
)
text = st.lists(st.sampled_from([*WORDS, "a", "údajov", "faktúrach", ",", "."]), max_size=12).map(
    " ".join
)


def spelled_out(phrase: str) -> re.Pattern[str]:
    return re.compile(
        "|".join(
            _keywords._pattern(words)
            for alternative in _keywords.expand(phrase)
            if (words := _keywords.fold(alternative).split())
        )
    )


@settings(max_examples=400, deadline=None)
@given(phrase, st.lists(text, min_size=1, max_size=5))
def test_a_factored_phrase_finds_exactly_what_its_spelled_out_phrases_find(
    phrase: str, texts: list[str]
) -> None:
    factored = _keywords._factored(phrase)
    assert factored is not None  # whole-word groups, the first without an empty choice
    one = re.compile(_keywords._WORD_START + factored + r"(?!\w)")
    every = spelled_out(phrase)
    for sample in texts:
        folded = _keywords.fold(sample)
        found, expected = one.search(folded), every.search(folded)
        assert (found is None) == (expected is None), (phrase, folded)
        if found is not None and expected is not None:
            assert found.start() == expected.start()


def test_glued_groups_and_an_empty_first_choice_are_left_spelled_out() -> None:
    assert _keywords._factored("учет{,а,у} {a,b}") is None
    assert _keywords._factored("{,за,на}еб* {a,b}") is None
    assert _keywords._factored("{,x} {a,b}") is None
    assert _keywords._factored("{x,y} {a,b}") is not None


def test_a_desk_list_of_many_choices_compiles_small_and_still_refuses_the_plain_request() -> None:
    many = "{vymažte,zmažte,odstráňte,prepíšte} {,nám} {,prosím} {údaj*,faktúr*,sklad*,cen*,dph}"
    assert len(_keywords.expand(many)) > _keywords._FACTOR_ABOVE
    keywords = _keywords.KeywordSet.of({"sk": [many]})
    assert len(keywords.pattern.compiled.pattern) < 1000  # 80 phrases spelled out: ~6 KB
    assert keywords.matches(_keywords.fold("Dobrý deň, vymažte nám prosím faktúry z roku 2023"))
    assert keywords.first(_keywords.fold("prosím, zmažte ceny")) == "zmažte cen*"
    assert not keywords.matches(_keywords.fold("faktúry sa nedajú vymazať"))
