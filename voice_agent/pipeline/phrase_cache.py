"""Audio of the sentences every call says word for word, synthesised once per worker.

Most of what the agent says is the same sentence on every call ("Can I have your name for
the booking, please?", the greeting): ``dialog.replies.fixed_sentences``. Piper synthesises a
sentence in 0.1-0.3 s on a CPU core that the caller's STT also wants; a sentence already
synthesised is played at once. Only those sentences are cached (never a sentence with a
caller's name, number, day or time in it), bounded in bytes, least recently used first out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

import aiohttp

__all__ = ["PhraseCache"]

log = logging.getLogger(__name__)


class PhraseCache:
    def __init__(self, sentences: set[str], *, max_bytes: int = 48 * 1024 * 1024) -> None:
        self._fixed = frozenset(" ".join(s.split()) for s in sentences)
        self.max_bytes = max_bytes
        self._wav: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._bytes = 0
        self.hits = self.misses = 0

    def is_fixed(self, text: str) -> bool:
        return " ".join(text.split()) in self._fixed

    def get(self, voice: str, text: str) -> bytes | None:
        key = (voice, " ".join(text.split()))
        wav = self._wav.get(key)
        if wav is None:
            self.misses += 1
            return None
        self._wav.move_to_end(key)
        self.hits += 1
        return wav

    def put(self, voice: str, text: str, wav: bytes) -> None:
        if not self.is_fixed(text) or len(wav) > self.max_bytes:
            return
        key = (voice, " ".join(text.split()))
        if key in self._wav:
            self._bytes -= len(self._wav.pop(key))
        self._wav[key] = wav
        self._bytes += len(wav)
        while self._bytes > self.max_bytes:
            _, old = self._wav.popitem(last=False)
            self._bytes -= len(old)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._wav)

    async def warm(self, session: aiohttp.ClientSession, url: str, voice: str) -> int:
        """Synthesise every fixed sentence not cached yet, one at a time (a background job
        at startup: it must not crowd out a call); returns how many were added."""
        added = 0
        for text in sorted(self._fixed):
            if (voice, text) in self._wav:
                continue
            wav = await synthesize(session, url, voice, text)
            if wav is None:
                return added  # Piper is not answering: the calls will synthesise as usual
            self.put(voice, text, wav)
            added += 1
            await asyncio.sleep(0)
        return added


async def synthesize(session: aiohttp.ClientSession, url: str, voice: str, text: str,
                     timeout_s: float = 10.0) -> bytes | None:
    """The WAV Piper's HTTP server answers for ``text``, or None (logged) if it fails."""
    try:
        async with session.post(url, json={"text": text, "voice": voice},
                                timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            if response.status != 200:
                log.warning("piper answered %d for a fixed phrase", response.status)
                return None
            wav = await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("piper unreachable for a fixed phrase: %s", type(exc).__name__)
        return None
    return wav if wav.startswith(b"RIFF") and len(wav) > 44 else None
