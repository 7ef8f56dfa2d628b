"""One call's dialog: the LLM proposes, the booking policy disposes.

Each caller turn: the utterance is read in code (``understanding``), the policy decides the
next step, and the LLM is asked for the tool call that step needs with ``tool_choice``
forced (the server then constrains the output to the tool's schema). The proposal is
checked against what the caller actually said; disagreements are corrected and logged.
Where the policy has nothing certain to do, the LLM answers freely, under a reply guard.
The LLM is reached only over the OpenAI-compatible API: vLLM in production, the embedded
llama.cpp server on a CPU box.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping
from datetime import datetime, timedelta
from typing import Any

import openai

from connectors.base import Booking, Connector, ConnectorError, Slot
from connectors.schedule import Business
from voice_agent.booking.desk import BookingDesk, DeskResult
from voice_agent.booking.outbox import Outbox
from voice_agent.dialog import tools as T
from voice_agent.dialog.confidence import ConfidenceRecord
from voice_agent.dialog.connector_timing import TimedConnector
from voice_agent.dialog.follow_on import clear_of_own, offer_follow_on
from voice_agent.dialog.heard_times import take_heard_event
from voice_agent.dialog.keypad import read_keys
from voice_agent.dialog.listening import Listening, listening_prompt
from voice_agent.dialog.llm_client import LLMClient, LLMOptions, LLMUnavailableError
from voice_agent.dialog.llm_reading import LLMReader
from voice_agent.dialog.merge import Conflict
from voice_agent.dialog.name_choice import settle_if_scored, settle_name_choice, spelling_events
from voice_agent.dialog.policy import Book, BookingPolicy, Cancel, Check, Decision, Find, Open
from voice_agent.dialog.prompt import RenderedPrompt
from voice_agent.dialog.proposals import ToolProposals
from voice_agent.dialog.read_turn import read_turn
from voice_agent.dialog.replies import Say
from voice_agent.dialog.reply_guard import reply_problem, transfer_justified
from voice_agent.dialog.spelling import LetterScores
from voice_agent.dialog.state import Availability, DialogState
from voice_agent.dialog.timeparse import describe_day, describe_time
from voice_agent.dialog.turn_result import TurnResult
from voice_agent.dialog.unclear import ask_to_repeat_if_unclear, clarify_unheard
from voice_agent.dialog.understanding import Understanding

log = logging.getLogger(__name__)
MAX_CALLER_CHARS = 1_000
OPEN_TURN_RETRIES = 1
_DONE_REPLIES = ("booked", "booking_pending", "rescheduled", "cancelled")

__all__ = ["DialogManager", "LLMOptions", "LLMUnavailableError", "TurnResult"]


class DialogManager:
    def __init__(
        self, *, business: Business, connector: Connector, llm: openai.AsyncOpenAI,
        llm_options: LLMOptions, prompt: RenderedPrompt, replies: dict[str, str], now: datetime,
        caller_phone: str | None, outbox: Outbox | None = None, call_id: str | None = None,
        review_threshold: float = 0.45, count_llm_disagreement: bool = False,
        propose_tools: bool = False, reader: LLMReader | None = None, reading: str = "off",
    ) -> None:
        self.business = business
        self.connector: Any = TimedConnector(connector)  # the desk's too: the connector stage
        self.llm = llm
        self.llm_options = llm_options
        self.prompt = prompt
        self.now = now.astimezone(business.tz)
        self.policy = BookingPolicy(business=business, replies=replies, today=self.now.date())
        self.state = DialogState(caller_phone=caller_phone)
        self.call_id = call_id
        self.client = LLMClient(llm, llm_options, T.tool_schemas(business))
        self.desk = BookingDesk(business=business, connector=self.connector, outbox=outbox,
                                call_id=call_id, review_threshold=review_threshold)
        self.messages: list[dict[str, Any]] = prompt.messages()
        self.count_llm_disagreement = count_llm_disagreement
        # Ask the LLM for each policy tool call too, to log agreement (off: seconds on a CPU).
        self.propose_tools = propose_tools
        self.proposals = ToolProposals(self.client, self._chat, self._llm_disagreed)
        # The LLM's typed reading of each turn: "always" (a production LLM server), "when_unsure"
        # (the fast reading does not settle the question pending) or "off" (the CPU default).
        self.reader = reader
        self.reading = reading if reader is not None else "off"
        self.confidence = ConfidenceRecord()  # of the booking being assembled
        self._last_reply: str | None = None
        self._repeat_count = 0
        self.transfer_available = False  # a human can take the call (Twilio <Dial>)
        self.on_transfer: Any = None  # called when the caller is handed over

    # -- public --------------------------------------------------------------------------
    def greeting(self) -> str:
        text = self.policy.words.render(Say("greeting"))
        self.messages.append({"role": "assistant", "content": text})
        self.state.asked = "anything"
        return text

    def listening_prompt(self) -> Listening:
        """What the caller's next words are likely to be, for the speech recogniser."""
        return listening_prompt(self.business, self.state.asked, self._last_agent_text(),
                                self.state.name)

    def expect_name_rivals(self, job: int, scores: Awaitable[Mapping[str, Any]]) -> None:
        """A spelled name's rivals are being scored (``pipeline/stt.py``): for the booking."""
        self.state.name_rivals = (job, scores)

    async def prefill(self) -> None:
        """Have the LLM server evaluate this call's prompt prefix while the greeting plays,
        keeping the expensive prompt evaluation off the first turn's latency."""
        await self.client.prefill(self.messages)

    async def handle_turn(
        self, caller_text: str, *, stt_avg_logprob: float | None = None,
        keys: str | None = None, heard_all: bool = True, letters: LetterScores | None = None,
    ) -> TurnResult:
        """Answer one caller utterance. Raises ``LLMUnavailableError`` if the LLM is down.

        ``stt_avg_logprob`` is the STT confidence of the utterance (None in text mode);
        ``keys`` the keypad keys pressed instead of speaking (``caller_text`` is ignored);
        ``heard_all`` False when the caller cut the agent's last reply short; ``letters``
        the utterance's audio scored against the heard name's letters (while it is spelled)."""
        if keys is not None:
            caller_text = f"(keypad) {keys}"
        if self.client.error is not None:
            raise LLMUnavailableError(self.client.error)
        caller_text = caller_text.strip()[:MAX_CALLER_CHARS]
        turn = TurnResult(agent_text="", stt_avg_logprob=stt_avg_logprob)
        self.connector.take_timings()  # calls made between turns are not this turn's
        start_len = len(self.messages)
        agent_said = self._last_agent_text()
        self.messages.append({"role": "user", "content": caller_text})
        if stt_avg_logprob is not None:  # a phone line: names are spelled or found on file
            self.state.heard = True
            self.state.names_on_file = await self.desk.names_on_file(self.state.caller_phone)
        self.state.letter_scores = letters
        if keys is not None:  # exact: no reading to merge, no STT doubt
            u, conflicts = read_keys(keys, self.state.asked), []
            turn.policy_events.append({"event": "keypad", "asked": self.state.asked,
                                       "understood": u.understood_anything})
        else:
            u, conflicts = await self._read(caller_text, agent_said, turn)
        if not heard_all and self.state.asked == "confirm" and u.affirm:
            # A yes over a confirmation the caller did not hear to the end is asked again.
            u.affirm, u.tentative = False, "affirm"
            turn.policy_events.append({"event": "yes_over_unheard_confirmation"})
        if stt_avg_logprob is not None and (u.has_slot_info or u.affirm or u.phone):
            self.confidence.stt_avg_logprobs.append(stt_avg_logprob)
        if (choice := await settle_if_scored(self.state)) is not None:
            turn.policy_events.append(choice)  # the spelled name, before it is read back
        name_before, turn_asked = self.state.name, self.state.asked
        decision = (self.policy.on_conflict(self.state, conflicts, u) if conflicts
                    else self.policy.decide(self.state, u))
        if self.state.name != name_before and stt_avg_logprob is not None:
            self.state.name_logprob = stt_avg_logprob  # the turn the name is from
        if turn_asked == "spell":
            turn.policy_events.extend(spelling_events(self.state))
        turn.policy_events.extend(take_heard_event(self.state))  # a garbled time's scores
        if isinstance(decision, Open):
            self.confidence.misunderstandings += 1
        turn.policy_events.append({"event": "decision", "decision": type(decision).__name__,
                                   "asked_before": self.state.asked})
        if isinstance(decision, Find):
            decision = await self._find(decision, u, turn)
        say = ask_to_repeat_if_unclear(await self._run(decision, turn), self.state,
                                       stt_avg_logprob, turn.policy_events)
        if isinstance(say, Say) and say.key in _DONE_REPLIES and u.done and not say.end_call:
            # "No, that's all" in the same breath as the last answer: finish and say goodbye.
            say = Say(f"{say.key}_goodbye", say.args, end_call=True)
        if isinstance(say, Say) and self._repeats(say):
            turn.policy_events.append({"event": "loop_guard", "repeated": say.key})
            say = Say("transfer", end_call=True, outcome="transferred")
        if isinstance(say, Say) and say.outcome == "transferred":
            say = await self._hand_over(say, turn)
        if isinstance(say, Say) and say.key == "verify_failed":
            await self._callback_intent("caller could not show the booking is theirs", "")
        if isinstance(say, Say):
            self._apply(say)
            turn.end_call = say.end_call
        lead = self.policy.lead
        self.policy.lead = []
        if isinstance(say, Say):
            say.lead = lead + say.lead
            text = self.policy.words.render(say)
        else:  # a free LLM reply, after any answer the policy gave
            text = " ".join([self.policy.words.render(Say(k, a)) for k, a in lead] + [say])
        if not isinstance(decision, Open):
            self.state.misunderstandings = 0
        self.messages.append({"role": "assistant", "content": text})
        turn.agent_text = text
        turn.llm_messages = self.messages[start_len:]
        turn.policy_events.extend(self.connector.take_timings())
        if turn.end_call:
            self.state.ended = True
        return turn

    async def _read(self, text: str, agent_said: str, turn: TurnResult
                    ) -> tuple[Understanding, list[Conflict]]:
        return await read_turn(
            text, agent_said=agent_said, business=self.business, today=self.now.date(),
            state=self.state, policy=self.policy, reader=self.reader, reading=self.reading,
            events=turn.policy_events, stt_avg_logprob=turn.stt_avg_logprob)

    def _last_agent_text(self) -> str:
        return next((m["content"] for m in reversed(self.messages)
                     if m["role"] == "assistant" and m.get("content")), "")

    def _repeats(self, say: Say) -> bool:
        """The same reply a third time in a row: hand over instead of looping."""
        text = self.policy.words.render(say)
        self._repeat_count = self._repeat_count + 1 if text == self._last_reply else 0
        self._last_reply = text
        return not say.end_call and self._repeat_count >= 2

    async def _hand_over(self, say: Say, turn: TurnResult) -> Say:
        """Transfer to a human when one is reachable; otherwise take a callback request."""
        s = self.state
        summary = {"service": s.service.id if s.service else None,
                   "day": s.day.isoformat() if s.day else None, "name": s.name,
                   "intent": s.intent}
        if self.transfer_available and self.on_transfer is not None:
            self.on_transfer()
            self._tool_log(turn, T.TRANSFER_TO_HUMAN, summary, "executed")
            return say
        self._tool_log(turn, T.TRANSFER_TO_HUMAN, summary, "executed",
                       result={"mode": "callback"})
        await self._callback_intent("caller asked for a human", "")
        return Say("transfer_callback", end_call=True, outcome="transferred")

    def apology(self, key: str = "apology_technical") -> str:  # or "shutdown_goodbye"
        return self.policy.words.render(Say(key))

    # -- steps ---------------------------------------------------------------------------
    async def _run(self, decision: Decision, turn: TurnResult) -> Say | str:
        if isinstance(decision, Say):
            return decision
        if isinstance(decision, Check):
            return await self._check(decision, turn)
        if isinstance(decision, Book):
            if self.state.intent == "reschedule" and self.state.existing is not None:
                return await self._move(decision, turn)
            return await self._book(decision, turn)
        if isinstance(decision, Cancel):
            return await self._cancel(decision, turn)
        if isinstance(decision, Find):  # a second lookup in one turn: ask instead of looping
            return Say("no_booking_found", asked="name")
        return await self._open(decision, turn)

    async def hang_up(self) -> None:
        """The caller hung up. A slot they said yes to but that is not booked yet is booked
        (with the caller ID as the number; with no caller ID, for review); any other
        request in progress is recorded, never silently dropped."""
        s = self.state
        if s.ended:
            return
        s.ended = True
        if s.offer is not None and s.confirmed and s.service is not None:
            if s.name and s.contact_phone:
                await self._run(Book(s.service.id, s.offer.start, s.name, s.contact_phone),
                                TurnResult(agent_text=""))
                return
            # Said yes, but hung up before a name or a number to write it under: a human.
            s.outcome = "pending_review"
            await self.desk.book(
                service=s.service.id, start=s.offer.start, name=s.name or "(no name given)",
                phone=s.contact_phone, staff=s.offer.staff, confidence={
                    "score": 0.0, "explicit_confirmation": True,
                    "reason": "caller hung up before giving a name or number"})
            return
        if s.intent != "book" or (s.service and s.day):
            await self._callback_intent("caller hung up mid-request", "", status="abandoned")

    def _apply(self, say: Say) -> None:
        self.state.asked = say.asked if say.asked else ("anything" if not say.end_call else None)
        if say.outcome:
            self.state.outcome = say.outcome

    async def _check(self, step: Check, turn: TurnResult) -> Say:
        expected = {"service": step.service, "date": step.day.isoformat()}
        if step.start is not None:
            expected["time"] = step.start.strftime("%H:%M")
        if step.staff is not None:
            expected["staff"] = step.staff
        self._propose_and_reconcile(T.CHECK_AVAILABILITY, expected, turn)
        day_start = datetime.combine(step.day, datetime.min.time(), tzinfo=self.business.tz)
        earliest = max(day_start, self.now)
        others: list[str] = []
        try:
            free = clear_of_own(await self.connector.list_free_slots(
                service=step.service, start=earliest, end=day_start + timedelta(days=1),
                staff=step.staff), self.state.booking, self.business, step.service)
            later: list[Slot] = []
            if step.start is not None and not any(s.start == step.start for s in free):
                later = await self._later(step, day_start)
                if step.staff is not None:  # is anyone else free then?
                    others = [s.staff for s in await self.connector.list_free_slots(
                        service=step.service, start=step.start,
                        end=step.start + timedelta(minutes=1)) if s.staff]
            elif self.policy.needs_later_days(free, self.state):
                later = await self._later(step, day_start)
        except ConnectorError as exc:
            self._tool_log(turn, T.CHECK_AVAILABILITY, expected, "failed", reason=str(exc))
            await self._callback_intent("availability check failed", str(exc))
            return Say("apology_technical", end_call=True)
        avail = Availability(step.service, step.day, free, time.monotonic(), staff=step.staff)
        result = {"free": [s.start.strftime("%H:%M") for s in free][:24],
                  "later": [s.start.isoformat() for s in later][:4]}
        self._tool_log(turn, T.CHECK_AVAILABILITY, expected, "executed", result=result)
        self._tool_result_message(T.CHECK_AVAILABILITY, expected, result)
        decision = self.policy.after_check(self.state, avail, step.start, later, others)
        assert isinstance(decision, Say)
        return decision

    async def _later(self, step: Check, day_start: datetime) -> list[Slot]:
        """Free slots of the following week, for alternatives (those that fit the caller's
        part of day and constraint first)."""
        nxt = day_start + timedelta(days=1)
        slots = await self.connector.list_free_slots(
            service=step.service, start=max(nxt, self.now), end=nxt + timedelta(days=7),
            staff=step.staff,
        )
        fitting = self.policy.fitting(slots, self.state)
        return (fitting or slots)[:2]

    async def _book(self, step: Book, turn: TurnResult) -> Say:
        args = {"service": step.service, "start": step.start.strftime("%Y-%m-%dT%H:%M"),
                "name": step.name, "phone": step.phone}
        self._propose_and_reconcile(T.BOOK_APPOINTMENT, args, turn)
        if (choice := await settle_name_choice(self.state)) is not None:
            turn.policy_events.append(choice)  # the spelled name, singled out or not
        self.confidence.explicit_confirmation = self.state.confirmed
        self.confidence.name_unverified = self.state.heard and not self.state.name_spelled
        self.confidence.name_stt_avg_logprob = self.state.name_logprob
        record = self.confidence.as_dict(count_llm_disagreement=self.count_llm_disagreement)
        turn.policy_events.append({"event": "booking_confidence", **record})
        offer = self.state.offer
        done = await self.desk.book(service=step.service, start=step.start, name=step.name,
                                    phone=step.phone, staff=offer.staff if offer else None,
                                    confidence=record)
        if done.status == "review":
            turn.policy_events.append({"event": "sent_to_review", "reason": done.review_reason})
            self.state.outcome = "pending_review"
            self.confidence = ConfidenceRecord()
            if not step.phone.strip():  # no number to text: no promise of a text
                self.state.booking_pending = True
                self.state.forget_slot()
                return Say("booking_pending_no_number", self._slot_args(step), asked="anything")
            return await self._then(self._noted(step), step, turn)
        if done.status == "taken":
            self._tool_log(turn, T.BOOK_APPOINTMENT, args, "failed", reason="slot taken")
            return await self._recheck(step, turn)
        if done.status == "pending":
            self._tool_log(turn, T.BOOK_APPOINTMENT, args, "failed", reason=done.error)
            self.state.outcome = "booked"
            return self._noted(step)  # the intent is recorded; never ask to book it twice
        booking = done.booking
        assert booking is not None
        self.confidence = ConfidenceRecord()
        self._request_done()
        self.state.booking = booking
        self.state.outcome = "booked"
        result = {"booking_id": booking.id, "staff": booking.staff}
        self._tool_log(turn, T.BOOK_APPOINTMENT, args, "executed", result=result)
        self._tool_result_message(T.BOOK_APPOINTMENT, args, result)
        return await self._then(Say("booked", self._slot_args(step), asked="anything"),
                                step, turn)

    async def _then(self, done: Say, step: Book, turn: TurnResult) -> Say:
        """``done``, and the service asked for straight after, if any (``follow_on.py``)."""
        return await offer_follow_on(self.state, self.business, done, service=step.service,
                                     start=step.start, check=lambda c: self._check(c, turn))

    def _noted(self, step: Book) -> Say:
        """The request is recorded (pending, or held for review): a colleague confirms it."""
        self.state.booking_pending = True
        self.state.forget_slot()
        return Say("booking_pending", self._slot_args(step), asked="anything")

    async def _recheck(self, step: Book, turn: TurnResult) -> Say:
        """The slot went meanwhile: check the day again and offer what is free now."""
        self.state.forget_slot()
        self.state.availability = None
        return await self._check(Check(step.service, step.start.date(), step.start), turn)

    async def _find(self, step: Find, u: Any, turn: TurnResult) -> Decision:
        """Look the caller's bookings up by caller ID; found none and the caller gave a
        name, by name (then the owner check applies)."""
        s = self.state
        for by_name in (step.by_name, True):
            args = {"name": s.name} if by_name and s.name else {"phone": s.contact_phone}
            self._propose_and_reconcile(T.FIND_MY_APPOINTMENTS, args, turn)
            try:
                found = await self.connector.find_bookings(**args)
            except ConnectorError as exc:
                self._tool_log(turn, T.FIND_MY_APPOINTMENTS, args, "failed", reason=str(exc))
                await self._callback_intent("booking lookup failed", str(exc))
                return Say("apology_technical", end_call=True)
            upcoming = [b for b in found if b.start >= self.now]
            result = [{"id": b.id, "service": b.service, "start": b.start.isoformat()}
                      for b in upcoming][:10]
            self._tool_log(turn, T.FIND_MY_APPOINTMENTS, args, "executed", result=result)
            if "name" not in args:  # found by name: not in the LLM's context before the check
                self._tool_result_message(T.FIND_MY_APPOINTMENTS, args, result)
            decision = self.policy.after_find(s, upcoming, u, by_name="name" in args)
            if not isinstance(decision, Find) or by_name:
                return decision
        return Say("no_booking_found", asked="name")

    async def _cancel(self, step: Cancel, turn: TurnResult) -> Say:
        booking = step.booking
        args = {"booking_id": booking.id}
        self._propose_and_reconcile(T.CANCEL_APPOINTMENT, args, turn)
        done = await self.desk.cancel(booking)
        if done.status in ("pending", "unsupported"):
            # Tell the caller what is true: noted, a colleague confirms.
            return self._change_noted(done, T.CANCEL_APPOINTMENT, args, turn, booking)
        self._tool_log(turn, T.CANCEL_APPOINTMENT, args, "executed", result={"cancelled": True})
        self._tool_result_message(T.CANCEL_APPOINTMENT, args, {"cancelled": True})
        self.state.outcome, self.state.existing, self.state.booking = "cancelled", None, booking
        self._request_done()
        return Say("cancelled", self.policy._booking_args(booking), asked="anything")

    async def _move(self, step: Book, turn: TurnResult) -> Say:
        existing = self.state.existing
        assert existing is not None
        args = {"booking_id": existing.id, "new_start": step.start.strftime("%Y-%m-%dT%H:%M")}
        self._propose_and_reconcile(T.RESCHEDULE_APPOINTMENT, args, turn)
        done = await self.desk.move(existing, step.start)
        if done.status == "unsupported":
            return self._change_noted(done, T.RESCHEDULE_APPOINTMENT, args, turn, existing)
        if done.status == "taken":
            self._tool_log(turn, T.RESCHEDULE_APPOINTMENT, args, "failed", reason="slot taken")
            return await self._recheck(step, turn)
        if done.status == "pending":
            self._tool_log(turn, T.RESCHEDULE_APPOINTMENT, args, "failed", reason=done.error)
            self.state.outcome = "rescheduled"
            return self._noted(step)
        moved = done.booking
        assert moved is not None
        self._tool_log(turn, T.RESCHEDULE_APPOINTMENT, args, "executed",
                       result={"booking_id": moved.id})
        self._tool_result_message(T.RESCHEDULE_APPOINTMENT, args, {"booking_id": moved.id})
        self.state.outcome, self.state.booking, self.state.existing = "rescheduled", moved, None
        self._request_done()
        return Say("rescheduled", self._slot_args(step), asked="anything")

    def _change_noted(self, done: DeskResult, tool: str, args: dict[str, Any],
                      turn: TurnResult, booking: Booking) -> Say:
        """A cancel or move the connector could not do now (pending for the reconciler) or
        cannot do at all (escalated to a human): noted, and the caller is told so."""
        self._tool_log(turn, tool, args, "failed", reason=done.error)
        self.state.existing, self.state.booking_pending = None, True
        if tool == T.CANCEL_APPOINTMENT:
            if done.status == "pending":
                self.state.outcome = "cancelled"
            else:
                self.state.forget_slot()
            return Say("cancel_pending", self.policy._booking_args(booking), asked="anything")
        self.state.forget_slot()
        return Say("change_pending", self.policy._booking_args(booking), asked="anything")

    def _request_done(self) -> None:
        """A booking, move or cancellation went through: the next request starts afresh
        (and the slot just filled is no longer known to be free)."""
        s = self.state
        s.intent, s.availability, s.existing = "book", None, None
        s.service = s.day = s.tod = None
        s.forget_slot()

    def _slot_args(self, step: Book) -> dict[str, Any]:
        return {"service": self.business.service(step.service).name.lower(),
                "day": describe_day(step.start.date(), self.now.date()),
                "time": describe_time(step.start.timetz()), "name": step.name}

    async def _open(self, step: Open, turn: TurnResult) -> Say | str:
        """No certain step: let the LLM answer within its reply budget, and keep only what
        passes the guard; past the budget, the policy's clarifying question is said."""
        if clarify_unheard(turn.stt_avg_logprob, turn.policy_events):
            return self._clarify(step)
        try:
            async with asyncio.timeout(self.client.options.reply_budget_s):
                return await self._open_reply(step, turn)
        except TimeoutError:
            turn.policy_events.append({"event": "llm_reply_timeout",
                                       "budget_s": self.client.options.reply_budget_s})
            return self._clarify(step)

    def _clarify(self, step: Open) -> Say:
        specific = f"clarify_{step.asked}"
        return Say(specific if specific in self.policy.replies else "clarify", asked=step.asked)

    async def _open_reply(self, step: Open, turn: TurnResult) -> Say | str:
        """Let the LLM answer, and keep only what passes the guard.

        A rejected tool call goes back to the LLM as a short, caller-safe error and the LLM
        gets one more try (the turn's retry budget); then the policy's clarifying question
        is said instead. The retry's messages are scratch: they never enter the call's
        context, so the prefix stays the same for the next turn.
        """
        scratch = list(self.messages)
        for attempt in range(1 + OPEN_TURN_RETRIES):
            message = await self._chat("auto", turn, messages=scratch if attempt else None)
            calls = self.client.calls_of(message)
            for call in calls:
                if call.name == T.TRANSFER_TO_HUMAN and transfer_justified(
                        self._last_caller_text(), self.state.misunderstandings):
                    self._tool_log(turn, call.name, call.arguments, "executed",
                                   source=call.source)
                    return Say("transfer", end_call=True, outcome="transferred")
            if not calls:
                text = (message.content or "").strip()
                problem = reply_problem(text, self._last_caller_text(), step.asked)
                if problem is None:
                    turn.policy_events.append({"event": "llm_reply_accepted",
                                               "attempt": attempt})
                    return text
                turn.policy_events.append({"event": "llm_reply_replaced", "reason": problem})
                break
            reason = "The caller has not given or confirmed those details yet. Reply to the " \
                     "caller in one short sentence instead."
            if calls[0].name == T.TRANSFER_TO_HUMAN:
                reason = "The caller has not asked for a person. Reply to the caller in one " \
                         "short sentence, or ask what they would like to book."
            for call in calls:
                self._tool_log(turn, call.name, call.arguments, "rejected", reason=reason,
                               source=call.source)
            call_id = f"rejected_{attempt}"
            scratch += [
                {"role": "assistant", "content": "", "tool_calls": [{
                    "id": call_id, "type": "function", "function": {
                        "name": calls[0].name, "arguments": T.json.dumps(calls[0].arguments)}}]},
                {"role": "tool", "tool_call_id": call_id, "content": reason},
            ]
        return self._clarify(step)

    def _last_caller_text(self) -> str:
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")

    # -- LLM -----------------------------------------------------------------------------
    async def _chat(
        self, tool_choice: Any, turn: TurnResult, *, messages: list[dict[str, Any]] | None = None,
        background: bool = False,
    ) -> Any:
        """One chat completion, logged on the turn (see ``LLMClient.chat``)."""
        message, seconds = await self.client.chat(
            messages if messages is not None else self.messages, tool_choice,
            background=background)
        turn.llm_calls += 1
        if messages is None and turn.llm_first_token_ts is None:  # foreground calls only
            turn.llm_first_token_ts = time.time()
        turn.policy_events.append({"event": "llm_call", "tool_choice": tool_choice if isinstance(
            tool_choice, str) else tool_choice["function"]["name"], "seconds": round(seconds, 3)})
        return message

    def _propose_and_reconcile(self, name: str, expected: dict[str, Any], turn: TurnResult
                               ) -> None:
        if self.propose_tools:
            self.proposals.propose(name, expected, turn, list(self.messages))

    def _llm_disagreed(self) -> None:
        self.confidence.llm_disagreements += 1

    async def settle(self, timeout_s: float = 60.0) -> None:
        """Wait for background tool proposals so they can be logged with their turn."""
        await self.client.settle(timeout_s)

    def _tool_log(self, turn: TurnResult, name: str, args: dict[str, Any], status: str, *,
                  result: Any = None, reason: str | None = None, source: str = "policy") -> None:
        turn.tool_calls.append(T.ToolRecord(name, args, source, status, result, reason).as_dict())

    def _tool_result_message(self, name: str, args: dict[str, Any], result: Any) -> None:
        self.messages += T.tool_result_messages(name, args, result, f"call_{len(self.messages)}")

    async def _callback_intent(self, why: str, detail: str, *, status: str = "callback"
                               ) -> None:
        s = self.state
        await self.desk.callback(why, detail, status=status, wanted={
            "service": s.service.id if s.service else None,
            "day": s.day.isoformat() if s.day else None, "name": s.name,
            "phone": s.contact_phone,
        })

    async def record_callback(self, why: str) -> None:
        """Persist what the caller wanted when the call cannot go on (LLM or TTS down)."""
        await self._callback_intent(why, "")
