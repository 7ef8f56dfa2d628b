"""The simulated caller's side of one Twilio Media Stream (socket loop; wire format elsewhere).

:class:`MediaStreamClient` behaves as Twilio does on an open stream:

* it sends ``media`` every 20 ms on an absolute clock (frame *n* goes out at ``t0 + n * 20 ms``;
  a late loop catches up instead of drifting), carrying the caller's speech or μ-law silence;
* agent ``media`` is queued and "played" in real time, 160 bytes per 20 ms tick;
* a ``mark`` is echoed once all audio received before it has been played; ``clear`` drops the
  unplayed audio and echoes every pending mark at once;
* malformed server messages are logged and ignored.

Times are seconds since the stream started (``loop.time()`` based, monotonic).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, Literal

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from evals.simulator import twilio_messages as tm
from evals.simulator.agent_audio import FRAME_S, AgentAudio
from voice_agent.telephony.codec import FRAME_BYTES, Int16Array, ulaw_encode

__all__ = ["FRAME_S", "EventCallback", "MediaStreamClient"]

log = logging.getLogger(__name__)

_SILENCE_FRAME = b"\xff" * FRAME_BYTES
EventCallback = Callable[[str, str], None]


class MediaStreamClient(AgentAudio):
    """One open Media Streams WebSocket, caller side. Use :meth:`start`, then speak/wait."""

    def __init__(
        self,
        ws: ClientConnection,
        *,
        account_sid: str,
        call_sid: str,
        stream_sid: str,
        custom_parameters: dict[str, str],
        on_event: EventCallback | None = None,
    ) -> None:
        super().__init__()
        self._ws = ws
        self.account_sid, self.call_sid, self.stream_sid = account_sid, call_sid, stream_sid
        self._custom_parameters = custom_parameters
        self._on_event = on_event or (lambda kind, text: None)
        self._loop = asyncio.get_running_loop()
        self._t0 = 0.0
        self._seq = 0
        self._send_lock = asyncio.Lock()
        self._tx = bytearray()  # caller speech not yet sent
        self._tx_drained = asyncio.Event()
        self._tx_drained.set()
        self._last_speech_sent_s = 0.0
        self._rx = bytearray()  # agent audio received, not yet played
        self._played_bytes = 0
        self._pending_marks: list[tuple[str, int]] = []  # (name, received bytes when it came)
        self.media_sent = 0
        self.marks_echoed: list[str] = []
        self.closed = asyncio.Event()
        self.closed_by: Literal["server", "caller"] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Send ``connected`` and ``start``, then begin the 20 ms media clock and the receiver."""
        await self._ws.send(json.dumps(tm.build_connected()))
        await self._send(
            lambda seq: tm.build_start(
                sequence_number=seq,
                account_sid=self.account_sid,
                stream_sid=self.stream_sid,
                call_sid=self.call_sid,
                custom_parameters=self._custom_parameters,
            )
        )
        self._t0 = self._loop.time()
        self._tasks = [
            asyncio.create_task(self._pacer(), name="sim-caller-pacer"),
            asyncio.create_task(self._receiver(), name="sim-caller-receiver"),
        ]

    def now(self) -> float:
        """Seconds since the stream started."""
        return self._loop.time() - self._t0

    async def stop(self) -> None:
        """Hang up from the caller's side: send ``stop`` and close (no-op if already closed)."""
        if not self.closed.is_set():
            self.closed_by = "caller"
            try:
                await self._send(
                    lambda seq: tm.build_stop(
                        sequence_number=seq,
                        stream_sid=self.stream_sid,
                        account_sid=self.account_sid,
                        call_sid=self.call_sid,
                    )
                )
            except ConnectionClosed:
                pass
        await self._ws.close()
        self._mark_closed()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- caller actions ---------------------------------------------------------------------------

    async def speak(self, pcm: Int16Array) -> float:
        """Stream 8 kHz int16 speech as 20 ms frames; return when the last frame went out.

        Returns the end-of-speech time (when the last speech frame was sent).
        """
        payload = ulaw_encode(pcm)
        if payload and not self.closed.is_set():
            self._tx.extend(payload)
            self._tx_drained.clear()
            await self._tx_drained.wait()
        return self._last_speech_sent_s if payload else self.now()

    async def send_dtmf(self, digit: str) -> None:
        await self._send(
            lambda seq: tm.build_dtmf(sequence_number=seq, stream_sid=self.stream_sid, digit=digit)
        )

    # --- results (AgentAudio's: wait_agent_reply, first_agent_audio_after, recording...) -------

    def _agent_audio_unplayed(self) -> bool:
        return bool(self._rx)  # a reply is not over while its audio waits to be played

    # --- internals --------------------------------------------------------------------------------

    async def _send(self, build: Callable[[int], dict[str, Any]]) -> None:
        async with self._send_lock:
            self._seq += 1
            await self._ws.send(json.dumps(build(self._seq)))

    async def _pacer(self) -> None:
        n = 0
        try:
            while not self.closed.is_set():
                delay = self._t0 + n * FRAME_S - self._loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self._tick(n)
                n += 1
        except ConnectionClosed:
            pass
        finally:
            self._tx_drained.set()

    async def _tick(self, n: int) -> None:
        speaking = bool(self._tx)
        if speaking or self.line_noise is None:
            frame = bytes(self._tx[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\xff")
        else:  # a noisy line is noisy between the caller's sentences too
            frame = ulaw_encode(self.line_noise.next())
        del self._tx[:FRAME_BYTES]
        await self._send(
            lambda seq: tm.build_media(
                sequence_number=seq,
                stream_sid=self.stream_sid,
                chunk=n + 1,
                timestamp_ms=n * 20,
                payload=frame,
            )
        )
        self.media_sent += 1
        self._caller_frames.append(frame)
        if speaking:
            self._last_speech_sent_s = self.now()
            if not self._tx:
                self._tx_drained.set()
        played = bytes(self._rx[:FRAME_BYTES])
        del self._rx[:FRAME_BYTES]
        self._played_bytes += len(played)
        self._agent_frames.append(played.ljust(FRAME_BYTES, b"\xff") if played else _SILENCE_FRAME)
        if played:
            self._last_agent_activity_s = self.now()
        while self._pending_marks and self._pending_marks[0][1] <= self._played_bytes:
            await self._echo_mark(self._pending_marks.pop(0)[0])

    async def _receiver(self) -> None:
        try:
            async for raw in self._ws:
                try:
                    msg = tm.parse_server_message(raw)
                except tm.MessageError as exc:
                    log.warning("sim caller: ignoring malformed server message: %s", exc)
                    self._on_event("warning", f"malformed server message: {exc}")
                    continue
                await self._handle(msg)
        except ConnectionClosed:
            pass
        finally:
            if self.closed_by is None:
                self.closed_by = "server"
            self._mark_closed()

    async def _handle(self, msg: tm.ServerMessage) -> None:
        if isinstance(msg, tm.ServerMedia):
            now = self.now()
            if not self._rx:
                self._on_event("agent_audio", f"audio starts at {now:.2f} s")
            self._rx.extend(msg.payload)
            self._agent_audio_arrived(now, len(msg.payload))
        elif isinstance(msg, tm.ServerMark):
            if self._received_bytes <= self._played_bytes:
                await self._echo_mark(msg.name)
            else:
                self._pending_marks.append((msg.name, self._received_bytes))
        else:  # clear: drop unplayed audio, echo every pending mark (as Twilio does)
            self._on_event("clear", f"dropped {len(self._rx) / 8000:.2f} s of agent audio")
            self._played_bytes += len(self._rx)
            self._rx.clear()
            pending, self._pending_marks = self._pending_marks, []
            for name, _ in pending:
                await self._echo_mark(name)

    async def _echo_mark(self, name: str) -> None:
        self.marks_echoed.append(name)
        self._on_event("mark", name)
        await self._send(
            lambda seq: tm.build_mark(sequence_number=seq, stream_sid=self.stream_sid, name=name)
        )

    def _mark_closed(self) -> None:
        self.closed.set()
        self._tx_drained.set()
