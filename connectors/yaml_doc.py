"""Reading YAML we are handed (business files, call scripts) with PyYAML's safe loader, made
total: what it would crash on with a stray exception raises ``yaml.YAMLError`` instead.

Found by tests/fuzz/test_yaml_loaders.py: an explicitly tagged ``!!timestamp`` that the
constructor's stricter pattern rejects (``AttributeError: 'NoneType' object has no attribute
'groupdict'``), an impossible date such as ``2026-02-30`` (a bare ``ValueError`` with no
position), and a document nested thousands deep (``RecursionError``).
"""

from __future__ import annotations

from typing import IO, Any

import yaml
from yaml.constructor import ConstructorError

__all__ = ["safe_load"]

MAX_DEPTH_MESSAGE = "the document is nested too deeply"


class _Loader(yaml.SafeLoader):
    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        value = self.construct_scalar(node)
        if not isinstance(value, str) or self.timestamp_regexp.match(value) is None:
            raise ConstructorError(None, None, f"not a timestamp: {str(value)[:40]!r}",
                                   node.start_mark)
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:
            raise ConstructorError(None, None, f"not a date: {value[:40]!r} ({exc})",
                                   node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def safe_load(stream: str | bytes | IO[str] | IO[bytes]) -> Any:
    """``yaml.safe_load`` that raises only ``yaml.YAMLError`` (and decoding errors)."""
    try:
        return yaml.load(stream, Loader=_Loader)  # a SafeLoader subclass
    except RecursionError:
        raise yaml.YAMLError(MAX_DEPTH_MESSAGE) from None
