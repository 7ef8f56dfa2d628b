"""How deep and how wide a JSON document is, measured without parsing it.

A scan of its structural characters (strings skipped), linear in the body's size and free of
recursion, so a ``[[[[...`` bomb or a million-key object is refused before ``json.loads`` and
pydantic ever see it.
"""

from __future__ import annotations

import re

__all__ = ["json_shape_error"]

# A complete string (escapes included), or one structural character.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},:]', re.DOTALL)


def json_shape_error(body: bytes, *, max_depth: int, max_members: int) -> str | None:
    """Why ``body`` is too deep or has too many members (object keys plus array items
    beyond the first), or None when within both limits. Malformed JSON is left to the
    parser: this only bounds the work it will do."""
    depth = members = 0
    for match in _TOKENS.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                return f"JSON nested deeper than {max_depth} levels"
        elif token in (b"]", b"}"):
            depth -= 1
        elif token in (b",", b":"):
            members += 1
            if members > max_members:
                return f"JSON with more than {max_members} members"
    return None
