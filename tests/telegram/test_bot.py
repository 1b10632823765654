"""The bot's session: what it adds to aiogram's."""

from __future__ import annotations

import gc
import weakref

from aiogram.methods.base import Response
from aiogram.types import User

from bridge.sandbox import FakeTelegram
from bridge.telegram.bot import create_bot


async def test_an_answers_type_outlives_a_garbage_collection(fake_telegram: FakeTelegram) -> None:
    """aiogram parses each answer as ``Response[<type>]``, a class pydantic keeps only weakly: rebuilt after each
    collection, it cost some 4 ms of CPU per call. The session keeps the classes its calls used."""
    bot = create_bot(fake_telegram.token, fake_telegram.url, 5.0)
    try:
        await bot.get_me()
        built = weakref.ref(Response[User])
        gc.collect()
        assert built() is not None
    finally:
        await bot.session.close()
