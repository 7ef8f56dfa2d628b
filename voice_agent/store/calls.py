"""Write calls and turns as they happen (a crash loses at most the turn in flight)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from voice_agent.store.models import Call, Turn, utcnow


class CallStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def create_call(self, **fields: Any) -> Call:
        return await asyncio.to_thread(self._merge, Call(**fields))

    async def update_call(self, call_id: str, **fields: Any) -> Call:
        def _update() -> Call:
            with Session(self.engine, expire_on_commit=False) as session:
                call = session.get(Call, call_id)
                if call is None:
                    raise KeyError(call_id)
                for key, value in fields.items():
                    setattr(call, key, value)
                session.add(call)
                session.commit()
                return call

        return await asyncio.to_thread(_update)

    async def finish_call(self, call_id: str, *, status: str, reason: str | None) -> Call:
        return await self.update_call(call_id, status=status, end_reason=reason, ended_at=utcnow())

    async def save_turn(self, turn: Turn) -> Turn:
        return await asyncio.to_thread(self._merge, turn)

    def _merge(self, row: Any) -> Any:
        with Session(self.engine, expire_on_commit=False) as session:
            merged = session.merge(row)
            session.commit()
            return merged

    def turns(self, call_id: str) -> list[Turn]:
        with Session(self.engine, expire_on_commit=False) as session:
            stmt = select(Turn).where(Turn.call_id == call_id).order_by(Turn.index)
            return list(session.exec(stmt))

    def get_call(self, call_id: str) -> Call | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(Call, call_id)

    def find_call(self, provider_call_id: str) -> Call | None:
        with Session(self.engine, expire_on_commit=False) as session:
            stmt = select(Call).where(Call.provider_call_id == provider_call_id)
            return session.exec(stmt).first()
