"""A service already agreed is replaced only by one heard clearly.

Over an 8 kHz line whisper turns everyday words into service words: "Yes, please." came
through as "Yes. Clean." and "Wednesday at 8:45, please." as "Wednesday, I paid for the
price. lean." (the robotic caller voice, 2026-12-04 audio run). Read as they stand, both
switched a check-up the caller had asked for to a hygienist cleaning, and the booking read
back would have been the wrong service: a caller who says yes to a read-back they half heard
(or a simulated one) then gets the wrong booking, which is worse than none.

A receptionist keeps what was agreed unless the caller clearly asks for something else. So,
on a phone line, a different service replaces the one in hand only when it is named (its name
or an alias, or a spelling that sounds the same: "color" for "colour"; not a near-miss that
sounds different, "lean" for "clean": ``matching.Match.sounds_exact``) and either the agent
asked which service or the turn was heard with confidence (the STT log-probability threshold
of ``unclear.py``) or the caller weighed the two in one breath and ended on the new one (the
turn names the service in hand too, before it: "a check-up, actually no, the hygienist"; "not
the haircut, a colour"). Otherwise the mention is set aside (the rest of the turn still counts) and
noted on the turn as ``service_change_held``. The first service of a call, and every change in
text mode, are taken as before.
"""

from __future__ import annotations

from typing import Any

from voice_agent.dialog.state import DialogState
from voice_agent.dialog.unclear import UNCLEAR_LOGPROB
from voice_agent.dialog.understanding import Understanding

__all__ = ["hold_unsure_service_change"]


def hold_unsure_service_change(state: DialogState, u: Understanding,
                               stt_avg_logprob: float | None,
                               events: list[dict[str, Any]]) -> None:
    """Drop ``u.service`` when it would replace the service in hand on weak evidence."""
    if (stt_avg_logprob is None or u.service is None or state.service is None
            or u.service.id == state.service.id):
        return
    heard_well = stt_avg_logprob >= UNCLEAR_LOGPROB
    # "a check-up, actually no, the hygienist": the caller weighed the two and ended on the
    # new one. Ending on the one in hand, the turn repeats a change already made, its "no"
    # lost ("check up. Well, I truly know. Sorry, it's the hygienist I need." after the
    # hygienist was agreed had put the check-up back).
    held_at = state.service.last_named_at(u.text)
    weighed = held_at >= 0 and u.service.last_named_at(u.text) > held_at
    if u.service_named and (heard_well or weighed or state.asked == "service"):
        return
    events.append({"event": "service_change_held", "kept": state.service.id,
                   "heard": u.service.id, "named": u.service_named,
                   "stt_avg_logprob": round(stt_avg_logprob, 3)})
    u.service, u.service_named = None, False
