"""Precision and recall of every guessing rule of the shipped desks, on the labelled mails.

tests/labelled/<desk>.toml holds mails written the way customers write, in the desk's
languages, each labelled with what its rule must find (see benchmarks/detection.py). The
floors below are the figures measured when the sets were written (docs/benchmarks.md,
"Issue 11: detection"): a change to a desk's words or to the matching that loses a right
answer, or finds a topic in one more mail that does not ask for it, fails here.
`.venv/bin/python benchmarks/detection.py --verbose` shows which mail and what it got.
"""

from __future__ import annotations

import pytest

from benchmarks.detection import LABELLED, Figures, desk_of, evaluate, read_labelled
from mailbot.config import load as load_config
from mailbot.rules import Detector, load_rules
from tests.conftest import REPO

FLOORS: dict[tuple[str, str, str], tuple[float, float]] = {
    # issue 11: the annotation rules (tests/labelled/<desk>.<rule>.toml)
    ("cleverbox", "abusive_language", "abusive"): (1.00, 1.00),
    ("cloudempiere", "ticket_type", "request"): (1.00, 0.95),
    ("cloudempiere", "ticket_type", "incident"): (0.96, 1.00),
    ("cloudempiere", "ticket_type", "problem"): (1.00, 1.00),
    ("cloudempiere", "ticket_type", "change"): (1.00, 1.00),
    ("cloudempiere", "priority", "P1"): (0.86, 1.00),
    ("cloudempiere", "priority", "P2"): (1.00, 0.60),
    ("cloudempiere", "priority", "P3"): (0.81, 0.95),
    ("cloudempiere", "priority", "P4"): (0.96, 1.00),
    ("grsoft", "product", "napoleon"): (1.00, 1.00),
    ("grsoft", "product", "aceteam"): (1.00, 1.00),
    ("grsoft", "product", "acepacer"): (1.00, 1.00),
    ("serwisant", "category", "payments"): (1.00, 0.95),
    # cleverbox part 2
    ("cleverbox", "several_problems", "several_problems"): (1.0, 1.0),
    # cleverbox
    ("cleverbox", "critical", "critical"): (1.00, 1.00),
    ("cleverbox", "out_of_scope", "accounting_consulting"): (1.00, 1.00),
    ("cleverbox", "out_of_scope", "hosting"): (1.00, 0.97),
    ("cleverbox", "out_of_scope", "third_party_software"): (1.00, 1.00),
    # grsoft
    ("grsoft", "missing_fields", "project"): (1.0, 1.0),
    ("grsoft", "missing_fields", "contact"): (1.0, 0.97),
    ("grsoft", "missing_fields", "description"): (1.0, 1.0),
    ("grsoft", "missing_fields", "modules"): (1.0, 1.0),
    ("grsoft", "missing_fields", "steps_to_reproduce"): (1.0, 1.0),
    ("grsoft", "missing_fields", "impact"): (0.97, 0.95),
    ("grsoft", "missing_fields", "affected_employees"): (0.95, 1.0),
    # cloudempiere (round 3: 1.00/1.00 both)
    ("cloudempiere", "out_of_scope", "user_data_changes"): (1.0, 1.0),
    ("cloudempiere", "out_of_scope", "customer_environment_login"): (1.0, 1.0),
    # crmonline
    ("crmonline", "out_of_scope", "onsite_support"): (1.0, 1.0),
    ("crmonline", "not_entitled", "analysis_design"): (1.0, 1.0),
    ("crmonline", "not_entitled", "phone_support"): (0.97, 1.0),
    ("crmonline", "not_entitled", "technical_services"): (1.0, 1.0),
    ("crmonline", "not_entitled", "training"): (1.0, 1.0),
    # serwisant. Round 3 added a near miss the words cannot pass over: a pre-sales question
    # whose SUBJECT is "Panel na własnym serwerze?" (a subject's words always count): 38/39,
    # the only false detection; on the mails before round 3 the precision is still 1.00.
    ("serwisant", "out_of_scope", "client_panel_own_hosting"): (0.97, 1.0),
    ("serwisant", "out_of_scope", "own_it"): (1.0, 1.0),
    ("serwisant", "out_of_scope", "template_restyling"): (1.0, 1.0),
    ("serwisant", "out_of_scope", "data_operations"): (1.0, 1.0),
    ("serwisant", "out_of_scope", "end_client_support"): (1.0, 1.0),
    ("serwisant", "out_of_scope", "new_features"): (1.0, 1.0),
    ("serwisant", "not_entitled", "training"): (1.0, 1.0),
    ("serwisant", "not_entitled", "client_panel_installation"): (1.0, 1.0),
}
"""(desk, rule, code) -> (precision, recall) as measured; never below 0.9 either."""

BELOW_TARGET: dict[tuple[str, str, str], str] = {
    key: "cloudempiere's priority is read from impact and urgency words; the labels judge the"
    " situation. Recurring problems of a department with no urgency said were labelled P2"
    " (the words give medium x medium, P3), and changes or questions 'for the whole company,"
    " urgently' P2 (the words give P1). No honest word list tells these apart: see"
    " docs/benchmarks.md, 'Issue 11: the annotation rules' labelled sets'."
    for key in (
        ("cloudempiere", "priority", "P1"),
        ("cloudempiere", "priority", "P2"),
        ("cloudempiere", "priority", "P3"),
    )
}
"""Figures that stay under the 0.9 target, and why; their floors still hold them where they are."""

TEXT_ONLY_EXEMPT: frozenset[tuple[str, str, str]] = frozenset(
    {
        # An attached SQLite database (or an archive holding one): a labelled mail is text.
        ("grsoft", "missing_fields", "mobile_database"),
        # A URL to the archive of Napoleon's exchange folder: whether a link is that archive
        # (and not a screenshot on the same file host) is for the agent who opens it; the
        # rule takes any file-sharing link, and the labelled set cannot say more than that.
        ("grsoft", "missing_fields", "exchange_archive_link"),
    }
)
"""Codes a detector may return that the labelled mails cannot judge, and why; each is
tested where it is decided (tests/test_rules_missing_fields.py, tests/test_desks.py)."""

MIN_POSITIVES = 20
MIN_NEGATIVES = 10
"""Per code: mails that ask for it, and mails that must not be read as asking for it."""


@pytest.fixture(scope="module")
def figures() -> Figures:
    return evaluate(read_labelled())


def _detectors() -> dict[tuple[str, str], tuple[str, ...]]:
    """(desk, rule) -> the codes its detector may return, for desks with a labelled set."""
    config = load_config(REPO / "config" / "mailbot.toml", environ={})
    labelled = {desk_of(path) for path in LABELLED.glob("*.toml")}
    found = {}
    for name, desk in config.desks.items():
        if name not in labelled:
            continue
        for rule in load_rules(desk, name):
            if isinstance(rule, Detector):
                found[(name, rule.name)] = tuple(rule.codes)
    return found


def test_every_code_a_desk_can_detect_has_its_labelled_mails_and_floors(figures: Figures) -> None:
    for (desk, rule), codes in _detectors().items():
        for code in codes:
            key = (desk, rule, code)
            if key in TEXT_ONLY_EXEMPT:
                continue
            assert key in FLOORS, f"{key}: no recorded figures"
            count = figures.counts.get(key)
            assert count is not None, f"{key}: no labelled mail"
            assert count.positives >= MIN_POSITIVES, f"{key}: {count.positives} positives"
            assert count.negatives >= MIN_NEGATIVES, f"{key}: {count.negatives} negatives"


def test_no_rule_drops_below_its_recorded_figures(figures: Figures) -> None:
    misses = "\n".join(
        f"{m.desk}/{m.rule}: expected {sorted(m.expect)}, got {sorted(got)}: {m.shown()}"
        for m, got in figures.misses
    )
    for key, (precision, recall) in FLOORS.items():
        if key not in BELOW_TARGET:
            assert precision >= 0.9 and recall >= 0.9, f"{key}: a floor under 0.9 is no floor"
        count = figures.counts[key]
        assert count.precision >= precision, f"{key}: precision {count.precision:.2f}\n{misses}"
        assert count.recall >= recall, f"{key}: recall {count.recall:.2f}\n{misses}"


REFUSAL_FLOORS: dict[tuple[str, str, str], tuple[float, float]] = {
    ("cleverbox", "out_of_scope", "accounting_consulting"): (1.00, 0.93),
    ("cleverbox", "out_of_scope", "hosting"): (1.00, 0.94),
    ("cleverbox", "out_of_scope", "third_party_software"): (1.00, 0.87),
    ("cloudempiere", "out_of_scope", "user_data_changes"): (1.00, 0.97),
    ("cloudempiere", "out_of_scope", "customer_environment_login"): (1.00, 1.00),
    ("crmonline", "out_of_scope", "onsite_support"): (1.00, 1.00),
    ("crmonline", "not_entitled", "analysis_design"): (1.00, 1.00),
    ("crmonline", "not_entitled", "phone_support"): (0.97, 1.00),
    ("crmonline", "not_entitled", "technical_services"): (1.00, 1.00),
    ("crmonline", "not_entitled", "training"): (1.00, 1.00),
    ("serwisant", "out_of_scope", "client_panel_own_hosting"): (0.97, 0.94),
    ("serwisant", "out_of_scope", "own_it"): (1.00, 0.92),
    ("serwisant", "out_of_scope", "template_restyling"): (1.00, 0.97),
    ("serwisant", "out_of_scope", "data_operations"): (1.00, 0.94),
    ("serwisant", "out_of_scope", "end_client_support"): (1.00, 1.00),
    ("serwisant", "out_of_scope", "new_features"): (1.00, 0.97),
    ("serwisant", "not_entitled", "training"): (1.00, 1.00),
    ("serwisant", "not_entitled", "client_panel_installation"): (1.00, 0.97),
}
"""(desk, rule, code) -> (precision, recall) of the REFUSALS alone, as measured (issue 11):
out_of_scope and not_entitled refuse on a strong match only, a weak one opens the ticket with
the doubt for the agent. A false refusal turns a customer away, so refusal precision must
never be under the detection precision; the recall is what the agents still refuse by hand
(lower by design: those mails open a ticket, they are not lost). crmonline counts wide
matches as strong (`wide_matches_refuse`, Persian is verb-final): its refusals are its
detections."""


def test_refusals_are_at_least_as_precise_as_detection(figures: Figures) -> None:
    assert set(REFUSAL_FLOORS) == set(figures.refusals), "every refusing code has its floor"
    for key, (precision, recall) in REFUSAL_FLOORS.items():
        refusals, detected = figures.refusals[key], figures.counts[key]
        # fewer right answers may lower the ratio (crmonline phone: 0.979 against 0.980); a
        # refusal may never be wrong where the detection is right, and the floors hold
        assert refusals.fp <= detected.fp, f"{key}: a false refusal the detection lacks"
        assert precision >= FLOORS[key][0], f"{key}: refusal floor under the detection floor"
        assert refusals.precision >= precision, f"{key}: refusal precision {refusals.precision}"
        assert refusals.recall >= recall, f"{key}: refusal recall {refusals.recall:.2f}"
        assert refusals.tp <= detected.tp, f"{key}: a refusal the detection does not find"
