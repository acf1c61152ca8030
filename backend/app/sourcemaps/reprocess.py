"""Re-processing a stored event: its minified frames resolved afresh through the maps uploaded now.

An event that came before its bundle was stored with minified frames; one resolved through an older
map may deserve the newer one. Each frame is put back as the SDK sent it (`frame.data["minified"]`),
resolved again (app/sourcemaps/resolve.py), its new source lines scrubbed, and the event's stored
`data` replaced. The event stays in its issue: stored events are never regrouped.

`python -m app reprocess EVENT_ID` runs it, and re-analysing an issue runs it on the event analysed
first (app/analysis/reanalyse.py), so the analysis reads the original source.
"""

from __future__ import annotations

from collections.abc import Generator
from functools import lru_cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.config import get_settings
from app.events.model import NormalizedEvent
from app.jsonb import dumps_jsonb
from app.privacy.redact import get_redactor
from app.sourcemaps.lookup import Query, Rows, SourceMapStore, drive, sync_drive
from app.sourcemaps.resolve import is_resolved, resolve_event, restore_minified, wanted_maps

LOAD_SQL = "SELECT project_id, payload, data FROM error_events WHERE id = %(id)s FOR NO KEY UPDATE"
SAVE_SQL = "UPDATE error_events SET data = %(data)s::jsonb WHERE id = %(id)s"


@lru_cache
def process_store() -> SourceMapStore:
    """The parsed maps this process keeps for re-processing (the digester has its own)."""
    return SourceMapStore(get_settings().sourcemap_cache_size)


def _steps(store: SourceMapStore, error_event_id: int) -> Generator[Query, Rows, int | None]:
    rows = yield Query(LOAD_SQL, {"id": error_event_id})
    if not rows:
        return None
    project_id, payload, data = rows[0]
    wants = wanted_maps(payload) if isinstance(payload, dict) else None
    if not wants:
        return 0
    maps = yield from store.lookup(project_id, wants)
    event = NormalizedEvent.from_dict(data)
    was = [f.data.get("sourcemap") for exc in event.exceptions for f in exc.frames]
    for exc in event.exceptions:
        for frame in exc.frames:
            restore_minified(frame)
    resolved = resolve_event(event, maps)
    redactor = get_redactor()
    for exc in event.exceptions:
        for frame in exc.frames:
            if is_resolved(frame):
                frame.context_line = redactor.redact_value(frame.context_line)
                frame.pre_context = redactor.redact_value(frame.pre_context)
                frame.post_context = redactor.redact_value(frame.post_context)
    if resolved or any(was):
        yield Query(SAVE_SQL, {"id": error_event_id, "data": dumps_jsonb(event)})
    return resolved


def sync_reprocess_event(session: Session, error_event_id: int) -> int | None:
    """Resolve a stored event's frames afresh, in the session's transaction; how many frames were
    resolved (None: no such event)."""
    conn: Any = session.connection().connection.driver_connection
    return sync_drive(conn, _steps(process_store(), error_event_id))


async def reprocess_event(session: AsyncSession, error_event_id: int) -> int | None:
    """`sync_reprocess_event` in an async session (the API)."""
    raw = await (await session.connection()).get_raw_connection()
    conn: Any = raw.driver_connection
    return await drive(conn, _steps(process_store(), error_event_id))
