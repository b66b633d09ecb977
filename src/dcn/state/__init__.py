"""The state store: stacks, generations, events, secrets, exports and locks in SQL.

SQLite in the deployment's state directory by default, any SQLAlchemy URL by option.
"""

from dcn.state.records import (
    EventRecord,
    ExportRecord,
    GenerationRecord,
    GenerationStatus,
    LockInfo,
    NewGeneration,
    StatusRow,
)
from dcn.state.store import ConflictError, Store

__all__ = [
    "ConflictError",
    "EventRecord",
    "ExportRecord",
    "GenerationRecord",
    "GenerationStatus",
    "LockInfo",
    "NewGeneration",
    "StatusRow",
    "Store",
]
