"""A call recording written to disk as it is recorded, never held whole in memory.

The recorder (pipecat's ``AudioBufferProcessor`` with a ``buffer_size``) hands over about a
second of stereo audio at a time; :class:`StreamingWav` appends it to the WAV file. Python's
``wave`` writer patches the header's sizes after every write and again at close, so the
file is a valid WAV at every moment: a crash mid-call leaves the recording up to the last
second, not nothing.
"""

from __future__ import annotations

import wave
from pathlib import Path

from voice_agent.store.private_files import private_dir, private_file

__all__ = ["StreamingWav"]


class StreamingWav:
    def __init__(self, path: Path, *, sample_rate: int, channels: int = 2) -> None:
        private_dir(path.parent)  # a caller's voice: readable by this service's user only
        self.path = private_file(path)
        self._wav: wave.Wave_write | None = wave.open(str(path), "wb")
        self._wav.setnchannels(channels)
        self._wav.setsampwidth(2)
        self._wav.setframerate(sample_rate)
        self._wav.writeframes(b"")  # the header goes out now: the file is a WAV from here
        self.bytes_written = 0

    def write(self, pcm: bytes) -> None:
        if self._wav is None or not pcm:
            return
        self._wav.writeframes(pcm)
        self.bytes_written += len(pcm)

    def close(self) -> None:
        if self._wav is not None:
            self._wav.close()  # final header fix-up
            self._wav = None
