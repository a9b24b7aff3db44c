"""The canonical event record shared by every part of distillguard.

This package imports nothing else of ours (arrows point inward).
"""

from __future__ import annotations

from distillguard.events.model import (
    Account,
    Client,
    Event,
    Message,
    Params,
    Response,
    Usage,
)
from distillguard.events.schema import (
    ARROW_SCHEMA,
    COLUMN_NAMES,
    COLUMNS,
    event_row,
    events_to_arrow,
    rows_to_arrow,
    split_prompt,
)
from distillguard.events.validate import (
    decode_event,
    encode_event,
    event_from_obj,
    event_id,
    normalise,
)

__all__ = [
    "ARROW_SCHEMA",
    "COLUMNS",
    "COLUMN_NAMES",
    "Account",
    "Client",
    "Event",
    "Message",
    "Params",
    "Response",
    "Usage",
    "decode_event",
    "encode_event",
    "event_from_obj",
    "event_id",
    "event_row",
    "events_to_arrow",
    "normalise",
    "rows_to_arrow",
    "split_prompt",
]
