"""eval nlu: the scorer, on the committed sample of SGD user turns (no model needed)."""

from __future__ import annotations

from evals.nlu import SAMPLE, TODAY, load_turns, predicted_acts, regex_reader, score
from voice_agent.dialog.understanding import Understanding


def test_the_sample_carries_dates_times_and_acts() -> None:
    turns = load_turns(SAMPLE)
    assert len(turns) == 500
    assert sum(len(set(t.dates)) == 1 for t in turns) > 50
    assert sum(len(set(t.times)) == 1 for t in turns) > 20
    assert TODAY.isoformat() == "2019-03-01"


def test_the_regex_reader_on_the_sample() -> None:
    """The fast reader's measured accuracy on the sample (dev split, all domains); a reader
    change that loses dates or times on phrasings nobody here wrote fails this."""
    result = score(load_turns(SAMPLE), regex_reader()).as_dict()
    assert result["date"]["accuracy"] >= 0.99
    assert result["time"]["accuracy"] >= 0.97
    assert result["acts"]["negate"]["recall"] >= 0.7
    assert result["acts"]["request_alts"]["precision"] >= 0.8


def test_a_yes_is_affirm_after_a_confirmation_and_select_after_an_offer() -> None:
    yes = Understanding(text="sure", affirm=True)
    assert predicted_acts(yes, "Please confirm: a table for 2 at 6 pm.") == {"affirm"}
    assert predicted_acts(yes, "I found 3 flights. How about Delta at 8 am?") == {"select"}
    assert predicted_acts(Understanding(text="x", option=2), "How about 9 or 10?") == {"select"}
    assert predicted_acts(Understanding(text="no", deny=True), "Shall I book it?") == {"negate"}
    assert predicted_acts(Understanding(text="x", wants_alternatives=True), "") == {
        "request_alts"}
