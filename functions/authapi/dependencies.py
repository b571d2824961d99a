"""Request dependencies shared by every router, as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.db.session import unit_of_work
from authapi.resources import get_resources


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work."""
    async with unit_of_work(get_resources(request).database) as session:
        yield session


# scope="function": commit before the response is sent, so a failed commit is the client's error
# response rather than a success the database never saw
DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]
