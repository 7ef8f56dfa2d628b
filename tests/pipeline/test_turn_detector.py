"""TurnDetector: a turn ends after VAD stop + speech timeout, once every segment is transcribed."""

from __future__ import annotations

from voice_agent.pipeline.turn_detector import TurnDetector


def elapse(turn: TurnDetector) -> None:
    turn.timeout_elapsed = True


def test_stop_before_transcript() -> None:
    turn = TurnDetector()
    turn.speech_started()
    turn.speech_stopped()
    elapse(turn)
    assert not turn.complete  # the segment is still being transcribed
    turn.add_transcript("I'd like a haircut", {"avg_logprob": -0.2})
    assert turn.complete
    assert turn.take() == ("I'd like a haircut", [{"avg_logprob": -0.2}])


def test_transcript_before_stop() -> None:
    """VAD frames are system frames; a transcript may still reach us first."""
    turn = TurnDetector()
    turn.speech_started()
    turn.add_transcript("hello")
    assert not turn.complete  # still speaking
    turn.speech_stopped()
    assert not turn.complete  # timeout not elapsed yet
    elapse(turn)
    assert turn.complete
    assert turn.take()[0] == "hello"
    assert turn.segments_pending == 0


def test_earlier_transcript_overtaken_by_later_stop() -> None:
    turn = TurnDetector()
    turn.speech_started()
    turn.speech_stopped()  # segment 1
    turn.speech_started()
    turn.speech_stopped()  # segment 2, before segment 1 is transcribed
    elapse(turn)
    turn.add_transcript("on Saturday")
    assert not turn.complete
    turn.add_transcript("at ten")
    assert turn.complete
    assert turn.take()[0] == "on Saturday at ten"


def test_timeout_is_required() -> None:
    turn = TurnDetector()
    turn.speech_started()
    turn.speech_stopped()
    turn.add_transcript("yes")
    assert not turn.complete
    elapse(turn)
    assert turn.complete


def test_pause_shorter_than_the_timeout_does_not_end_the_turn() -> None:
    turn = TurnDetector()
    turn.speech_started()
    turn.speech_stopped()
    turn.add_transcript("I want to book")
    assert not turn.complete
    turn.speech_started()  # speech resumes before the timeout
    assert not turn.complete
    elapse(turn)  # a stale timer firing while the caller speaks must not end the turn
    assert not turn.complete
    turn.speech_stopped()
    assert not turn.complete  # stop resets the timeout
    turn.add_transcript("a haircut")
    assert not turn.complete
    elapse(turn)
    assert turn.complete
    assert turn.take()[0] == "I want to book a haircut"


def test_resumed_speech_resets_an_elapsed_timeout() -> None:
    turn = TurnDetector()
    turn.speech_started()
    turn.speech_stopped()
    elapse(turn)
    turn.speech_started()
    assert not turn.timeout_elapsed
    turn.add_transcript("one")
    turn.speech_stopped()
    assert not turn.complete


def test_empty_transcripts_count_as_transcribed_but_add_no_text() -> None:
    turn = TurnDetector()
    turn.speech_started()
    turn.speech_stopped()
    turn.speech_started()
    turn.speech_stopped()
    elapse(turn)
    turn.add_transcript("")
    assert not turn.complete
    turn.add_transcript("Tuesday", {"no_speech_prob": 0.1})
    assert turn.complete
    assert turn.take() == ("Tuesday", [{"no_speech_prob": 0.1}])


def test_only_empty_transcripts_never_complete() -> None:
    """A cough or line noise transcribed as nothing is not a turn."""
    turn = TurnDetector()
    turn.speech_started()
    turn.speech_stopped()
    turn.add_transcript("")
    elapse(turn)
    assert not turn.complete
    assert turn.segments_pending == 0


def test_non_dict_stats_are_ignored() -> None:
    turn = TurnDetector()
    turn.speech_started()
    turn.speech_stopped()
    turn.add_transcript("hi", None)
    elapse(turn)
    assert turn.take() == ("hi", [])


def test_take_resets_for_the_next_turn() -> None:
    turn = TurnDetector()
    turn.speech_started()
    turn.speech_stopped()
    turn.add_transcript("first", {"n": 1})
    elapse(turn)
    assert turn.take() == ("first", [{"n": 1}])
    assert not turn.complete
    assert (turn.texts, turn.stats, turn.timeout_elapsed) == ([], [], False)
    assert turn.take() == ("", [])
    turn.speech_started()
    turn.speech_stopped()
    turn.add_transcript("second")
    elapse(turn)
    assert turn.take()[0] == "second"


def test_every_segment_must_be_transcribed() -> None:
    turn = TurnDetector()
    turn.speech_started()
    turn.speech_stopped()
    turn.add_transcript("first")
    turn.speech_started()
    turn.speech_stopped()  # second segment, transcript still pending
    elapse(turn)
    assert not turn.complete
    turn.add_transcript("second")
    assert turn.take()[0] == "first second"


# -- ending sooner: the turn model sure and the transcript reading as finished -----------------


def test_a_sure_score_and_a_finished_transcript_end_the_turn_before_the_timeout() -> None:
    turn = TurnDetector()
    turn.speech_started()
    turn.speech_stopped()
    turn.scored(0.97, threshold=0.9)
    assert not turn.complete  # still being transcribed
    turn.add_transcript("Yes, that's right.", {"avg_logprob": -0.2})
    assert turn.complete
    text, stats = turn.take()
    assert text == "Yes, that's right."
    assert stats == [{"avg_logprob": -0.2, "turn_end_p": 0.97, "ended_early": True}]


def test_a_transcript_left_hanging_waits_for_the_timeout() -> None:
    turn = TurnDetector()
    turn.speech_started()
    turn.speech_stopped()
    turn.scored(0.99, threshold=0.9)
    turn.add_transcript("I'd like a haircut on")
    assert not turn.complete
    elapse(turn)
    assert turn.complete
    assert turn.take()[1] == []  # no segment stats to carry the score


def test_an_unsure_or_unthresholded_score_waits_for_the_timeout() -> None:
    for p, threshold in ((0.6, 0.9), (0.99, None)):
        turn = TurnDetector()
        turn.speech_started()
        turn.speech_stopped()
        turn.scored(p, threshold=threshold)
        turn.add_transcript("Tuesday at three.", {})
        assert not turn.complete
        elapse(turn)
        assert turn.complete
        assert turn.take()[1] == [{"turn_end_p": p, "ended_early": False}]


def test_speech_resuming_forgets_the_score() -> None:
    turn = TurnDetector()
    turn.speech_started()
    turn.speech_stopped()
    turn.scored(0.99, threshold=0.9)
    turn.speech_started()  # the caller went on
    turn.add_transcript("Tuesday.")
    turn.speech_stopped()
    assert not turn.sure_finished
    turn.add_transcript("At three.")
    assert not turn.complete


def test_sounds_finished() -> None:
    from voice_agent.pipeline.turn_detector import sounds_finished

    finished = ["Yes.", "2:30, not 2.", "Could I book a trim?", "That's all, thanks!",
                "Okay.", "Good.", "Morning is fine."]
    unfinished = ["", "I'd like to book a", "Tuesday and...", "My name is.", "at three,",
                  "so um", "Tuesday", "Morning.", "Hi there!", "Good afternoon.", "Hello?"]
    assert all(sounds_finished(t) for t in finished)
    assert not any(sounds_finished(t) for t in unfinished)
