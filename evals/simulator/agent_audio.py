"""What a simulated phone heard of the agent, and the call's two-track recording.

Both simulated phones, :class:`~evals.simulator.media_stream.MediaStreamClient` (Twilio Media
Streams) and :class:`~evals.simulator.sip_phone.SipPhoneClient` (SIP/RTP), subclass
:class:`AgentAudio`; they differ only in how the agent's audio reaches them. A phone provides
``now()`` and ``closed``, appends the frame it sent and the frame it played to
``_caller_frames`` and ``_agent_frames`` on each 20 ms tick, calls ``_agent_audio_arrived``
for each piece of agent audio, sets ``_last_agent_activity_s`` when it plays some, and
overrides ``_agent_audio_unplayed`` if it queues agent audio before playing it.
"""

from __future__ import annotations

import asyncio
import bisect

import numpy as np

from evals.simulator.phone_line import LineNoise
from voice_agent.telephony.codec import SAMPLE_RATE, Int16Array, ulaw_decode

__all__ = ["FRAME_S", "AgentAudio"]

FRAME_S = 0.020


class AgentAudio:
    """The agent's audio as one simulated phone received and played it. Times are seconds on
    the phone's clock (``now()``)."""

    closed: asyncio.Event

    def __init__(self) -> None:
        self._agent_arrivals: list[float] = []  # arrival time of each piece of agent audio
        self._received_bytes = 0  # agent audio received, μ-law bytes (one a sample)
        self._last_agent_activity_s: float | None = None  # last arrival or played agent frame
        self._caller_frames: list[bytes] = []
        self._agent_frames: list[bytes] = []
        self.line_noise: LineNoise | None = None  # sent while the caller is silent, if set

    def now(self) -> float:
        """Seconds since the phone's media started."""
        raise NotImplementedError

    def _agent_audio_arrived(self, now: float, n_bytes: int) -> None:
        self._agent_arrivals.append(now)
        self._received_bytes += n_bytes
        self._last_agent_activity_s = now

    def _agent_audio_unplayed(self) -> bool:
        """Agent audio received but not played yet (none unless the phone queues it)."""
        return False

    async def wait_agent_reply(self, *, since_s: float, silence_s: float,
                               first_audio_timeout_s: float = 30.0) -> bool:
        """Wait until the agent has replied after ``since_s`` and gone quiet.

        Done when agent audio arrived after ``since_s``, all of it has been played, and nothing
        was received or played for ``silence_s``. Returns False if no agent audio arrives within
        ``first_audio_timeout_s`` or the call closes first.
        """
        deadline = since_s + first_audio_timeout_s
        while not self.closed.is_set():
            started = self.first_agent_audio_after(since_s) is not None
            if not started and self.now() >= deadline:
                return False
            last = self._last_agent_activity_s
            if (started and not self._agent_audio_unplayed() and last is not None
                    and self.now() - last >= silence_s):
                return True
            await asyncio.sleep(FRAME_S)
        return False

    def first_agent_audio_after(self, t_s: float) -> float | None:
        i = bisect.bisect_left(self._agent_arrivals, t_s)
        return self._agent_arrivals[i] if i < len(self._agent_arrivals) else None

    @property
    def agent_audio_seconds(self) -> float:
        """Seconds of agent audio received: over a Media Stream all of it (including any later
        dropped by ``clear``), over SIP the frames played louder than silence."""
        return self._received_bytes / SAMPLE_RATE

    def recording(self) -> Int16Array:
        """(frames * 160, 2) int16: column 0 the caller as sent, column 1 the agent as played."""
        caller = ulaw_decode(b"".join(self._caller_frames))
        agent = ulaw_decode(b"".join(self._agent_frames))
        n = min(len(caller), len(agent))
        return np.column_stack([caller[:n], agent[:n]]).astype(np.int16)
