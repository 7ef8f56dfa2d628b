"""Keys the caller pressed (Twilio ``dtmf`` events), read as the answer to the question asked.

A keypad answer is exact where speech is not: a phone number typed and ended with ``#``, or
1 for yes and 2 for no at a confirmation. Keys that answer nothing pending are not guessed
at: the reading is empty and the policy treats it as not understood.
"""

from __future__ import annotations

from voice_agent.dialog.understanding import Understanding

__all__ = ["CONFIRM_KEYS", "END_KEY", "read_keys", "spoken_digits"]

END_KEY = "#"
CONFIRM_KEYS = {"1": "affirm", "2": "deny"}
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 7, 15


def read_keys(keys: str, asked: str | None) -> Understanding:
    """What the keys mean when the agent asked for ``asked``."""
    u = Understanding(text=f"(keypad) {keys}")
    digits = keys.rstrip(END_KEY)
    if asked == "confirm" and digits in CONFIRM_KEYS:
        setattr(u, CONFIRM_KEYS[digits], True)
    elif asked == "phone" and digits.isdigit() and (
            MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS):
        u.phone = digits
    return u


def spoken_digits(number: str) -> str:
    """A phone number read back the way people check one: in groups ("555, 123, 4567")."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        groups = [digits[0], digits[1:4], digits[4:7], digits[7:]]
    elif len(digits) == 10:
        groups = [digits[:3], digits[3:6], digits[6:]]
    elif len(digits) == 11 and digits.startswith("0"):  # UK: 07700 900123
        groups = [digits[:5], digits[5:]]
    else:
        groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
        if len(groups) > 1 and len(groups[-1]) == 1:
            groups[-2:] = [groups[-2] + groups[-1]]
    return ", ".join(" ".join(g) for g in groups if g)
