"""A SIP caller built on PJSIP (pjsua2-python), run as its own process: it dials, plays a WAV,
records what it hears to a WAV, presses keys (RFC 4733) and hangs up.

    python pjsua_peer.py URI PLAY.wav RECORD.wav --seconds 6 --keys 42

pjsua2 is a process-wide C library with its own threads, hence a subprocess. Prints one JSON
line at the end: the call's final state and the remote SDP it saw.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import pjsua2 as pj


class Call(pj.Call):
    def __init__(self, account: pj.Account, play: str, record: str) -> None:
        super().__init__(account)
        self.play, self.record = play, record
        self.player: pj.AudioMediaPlayer | None = None
        self.recorder: pj.AudioMediaRecorder | None = None
        self.confirmed = False
        self.disconnected = False

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.confirmed = True
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        try:
            self._connect_media()
        except Exception as exc:  # a callback from C: say what failed
            print(f"media setup failed: {exc!r}", file=sys.stderr)

    def _connect_media(self) -> None:
        info = self.getInfo()  # kept alive: its media vector points into it
        for i, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and \
                    media.status == pj.PJSUA_CALL_MEDIA_ACTIVE and self.player is None:
                audio = self.getAudioMedia(i)
                self.player = pj.AudioMediaPlayer()
                self.player.createPlayer(self.play, pj.PJMEDIA_FILE_NO_LOOP)
                self.player.startTransmit(audio)
                self.recorder = pj.AudioMediaRecorder()
                self.recorder.createRecorder(self.record)
                audio.startTransmit(self.recorder)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("play")
    parser.add_argument("record")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--keys", default="")
    args = parser.parse_args()
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.logConfig.level = int(__import__("os").environ.get("PJ_LOG", "1"))
    cfg.logConfig.consoleLevel = int(__import__("os").environ.get("PJ_LOG", "1"))
    cfg.uaConfig.threadCnt = 0
    cfg.medConfig.clockRate = 8000
    cfg.medConfig.sndClockRate = 8000
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.port = 0
    tcfg.boundAddress = "127.0.0.1"
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    for codec in ep.codecEnum2():  # G.711 only, PCMU first
        prio = {"PCMU/8000/1": 255, "PCMA/8000/1": 254}.get(codec.codecId, 0)
        ep.codecSetPriority(codec.codecId, prio)
    acfg = pj.AccountConfig()
    acfg.idUri = "sip:+15551230002@127.0.0.1"
    acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    account = pj.Account()
    account.create(acfg)
    call = Call(account, args.play, args.record)
    call.makeCall(args.uri, pj.CallOpParam(True))
    state: dict[str, object] = {}
    deadline = time.monotonic() + args.seconds
    keys_sent = False
    while time.monotonic() < deadline and not call.disconnected:
        ep.libHandleEvents(20)
        if call.confirmed and not keys_sent and time.monotonic() > deadline - args.seconds / 2:
            if args.keys:
                call.dialDtmf(args.keys)
            keys_sent = True
    state["confirmed"] = call.confirmed
    state["disconnected_by_agent"] = call.disconnected
    if not call.disconnected:
        call.hangup(pj.CallOpParam(True))
        for _ in range(50):
            ep.libHandleEvents(20)
    call.recorder = None
    call.player = None
    del call  # before the library goes: the Call's destructor calls into it
    account.shutdown()
    print(json.dumps(state))
    sys.stdout.flush()
    ep.libDestroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
