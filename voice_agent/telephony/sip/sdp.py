"""SDP offer/answer for one audio stream (RFC 4566, RFC 3264): pure functions.

We answer PCMU or PCMA (whichever the offer lists first) and telephone-event with the
payload type the offer used (pjsua offers 120, others 101). An offer without either G.711
codec is refused (488). ``a=sendonly`` / ``a=inactive`` / ``c=0.0.0.0`` is a hold: we answer
``recvonly`` / ``inactive`` and stop sending until it is lifted.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

__all__ = ["MediaOffer", "SdpError", "build_answer", "build_offer", "parse_offer"]

STATIC = {0: "PCMU", 8: "PCMA"}
MAX_SDP_BYTES = 8 * 1024


class SdpError(ValueError):
    """The SDP cannot be used (the reason is safe to log)."""


@dataclass(frozen=True)
class MediaOffer:
    address: str  # where the peer wants our RTP ("0.0.0.0" while on hold, RFC 2543 style)
    port: int
    codec: str  # PCMU | PCMA (the one we chose)
    payload_type: int
    dtmf_payload_type: int | None
    direction: str  # sendrecv | sendonly | recvonly | inactive (the peer's view)
    ptime: int = 20

    @property
    def on_hold(self) -> bool:
        return self.direction in ("sendonly", "inactive") or self.address == "0.0.0.0"


def parse_offer(text: str) -> MediaOffer:
    if len(text) > MAX_SDP_BYTES:
        raise SdpError("SDP too large")
    session_addr: str | None = None
    media: list[list[str]] = []
    session_dir = "sendrecv"
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            media.append([line])
        elif media:
            media[-1].append(line)
        elif kind == "c":
            session_addr = _connection(value)
        elif kind == "a" and value in ("sendrecv", "sendonly", "recvonly", "inactive"):
            session_dir = value
    audio = next((m for m in media if m[0].startswith("m=audio ")), None)
    if audio is None:
        raise SdpError("no audio stream")
    parts = audio[0][2:].split()
    if len(parts) < 4 or not parts[1].isdigit() or not 0 <= int(parts[1]) <= 65535:
        raise SdpError("bad m=audio line")
    if parts[2] not in ("RTP/AVP", "RTP/AVPF"):
        raise SdpError(f"unsupported transport {parts[2][:20]}")
    offered = [int(p) for p in parts[3:] if p.isdigit() and int(p) < 128]
    names: dict[int, str] = dict(STATIC)
    addr, direction, ptime = session_addr, session_dir, 20
    for line in audio[1:]:
        kind, value = line[0], line[2:]
        if kind == "c":
            addr = _connection(value)
        elif kind == "a" and value.startswith("rtpmap:"):
            pt, _, enc = value[7:].partition(" ")
            if pt.isdigit():
                names[int(pt)] = enc.split("/")[0].strip().upper()
        elif kind == "a" and value in ("sendrecv", "sendonly", "recvonly", "inactive"):
            direction = value
        elif kind == "a" and value.startswith("ptime:") and value[6:].strip().isdigit():
            ptime = int(value[6:].strip())
    if addr is None:
        raise SdpError("no connection address")
    codec_pt = next((pt for pt in offered if names.get(pt) in ("PCMU", "PCMA")), None)
    if codec_pt is None:
        raise SdpError("no PCMU or PCMA offered")
    dtmf = next((pt for pt in offered if names.get(pt) == "TELEPHONE-EVENT"), None)
    if int(parts[1]) == 0:
        direction = "inactive"
    return MediaOffer(address=addr, port=int(parts[1]), codec=names[codec_pt],
                      payload_type=codec_pt, dtmf_payload_type=dtmf, direction=direction,
                      ptime=ptime)


def _connection(value: str) -> str:
    parts = value.split()
    if len(parts) < 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError("bad c= line")
    try:
        return str(ipaddress.ip_address(parts[2].split("/")[0]))
    except ValueError:
        raise SdpError("c= is not an IP address") from None


_ANSWER_DIRECTION = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly",
                     "inactive": "inactive"}


def build_answer(offer: MediaOffer, *, address: str, port: int, session_id: int,
                 version: int) -> str:
    """Our answer: the chosen codec, the offer's telephone-event type, the mirrored direction."""
    fmts = [offer.payload_type] + ([offer.dtmf_payload_type] if offer.dtmf_payload_type else [])
    direction = "inactive" if offer.address == "0.0.0.0" else _ANSWER_DIRECTION[offer.direction]
    return _sdp(address=address, port=port, session_id=session_id, version=version,
                fmts=fmts, codec=offer.codec, codec_pt=offer.payload_type,
                dtmf_pt=offer.dtmf_payload_type, direction=direction)


def build_offer(*, address: str, port: int, session_id: int, dtmf_pt: int = 101) -> str:
    """An offer of PCMU, PCMA and telephone-event (for the test caller)."""
    return _sdp(address=address, port=port, session_id=session_id, version=1,
                fmts=[0, 8, dtmf_pt], codec="PCMU", codec_pt=0, dtmf_pt=dtmf_pt,
                direction="sendrecv", extra_codecs={8: "PCMA"})


def _sdp(*, address: str, port: int, session_id: int, version: int, fmts: list[int],
         codec: str, codec_pt: int, dtmf_pt: int | None, direction: str,
         extra_codecs: dict[int, str] | None = None) -> str:
    ip = "IP6" if ":" in address else "IP4"
    lines = ["v=0", f"o=voice-agent {session_id} {version} IN {ip} {address}", "s=voice-agent",
             f"c=IN {ip} {address}", "t=0 0",
             f"m=audio {port} RTP/AVP {' '.join(map(str, fmts))}",
             f"a=rtpmap:{codec_pt} {codec}/8000"]
    lines += [f"a=rtpmap:{pt} {name}/8000" for pt, name in (extra_codecs or {}).items()]
    if dtmf_pt is not None:
        lines += [f"a=rtpmap:{dtmf_pt} telephone-event/8000", f"a=fmtp:{dtmf_pt} 0-16"]
    lines += ["a=ptime:20", f"a={direction}"]
    return "\r\n".join(lines) + "\r\n"
