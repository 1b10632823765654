"""The update queue as long polling sees it, the bot's profile and commands, and getFile."""

from __future__ import annotations

import json
import mimetypes
import re
from pathlib import PurePosixPath
from typing import Any, Final

from bridge.sandbox.fake_telegram._params import _bad, _Params
from bridge.sandbox.fake_telegram._world import _World
from bridge.sandbox.fake_telegram.constants import MAX_DOWNLOAD_BYTES, FileKind

_FILE_FOLDERS: Final[dict[FileKind, str]] = {
    "photo": "photos",
    "document": "documents",
    "video": "videos",
    "voice": "voice",
    "video_note": "video_notes",
    "sticker": "stickers",
    "audio": "music",
}
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


class _Updates(_World):
    """Long polling and the bot's own setup: getUpdates, deleteWebhook, getMe, commands, getFile."""

    async def _get_me(self, params: _Params) -> dict[str, Any]:
        return self._bot_user | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _get_file(self, params: _Params) -> dict[str, Any]:
        """A ``File`` with a ``file_path`` to download it by; over 20 MB, "file is too big"."""
        file_id = params.text("file_id") or ""
        media = self._files.get(file_id)
        if media is None:
            raise _bad("invalid file_id")
        if len(media.data) > MAX_DOWNLOAD_BYTES:
            raise _bad("file is too big")
        if file_id not in self._file_paths:
            extension = PurePosixPath(media.file_name).suffix or mimetypes.guess_extension(media.mime_type) or ""
            self._file_paths[file_id] = f"{_FILE_FOLDERS[media.kind]}/file_{len(self._file_paths)}{extension}"
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id.rsplit('-', 1)[1]}",
            "file_size": len(media.data),
            "file_path": self._file_paths[file_id],
        }

    async def _delete_webhook(self, params: _Params) -> bool:
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        return True

    def _pending_updates(self) -> list[dict[str, Any]]:
        """Unconfirmed updates, after dropping those of types the bot no longer asks for."""
        if self._allowed_updates:
            self._updates = [u for u in self._updates if not self._allowed_updates.isdisjoint(u)]
        return self._updates

    async def _get_updates(self, params: _Params) -> list[dict[str, Any]]:
        """Long poll: confirm updates below ``offset``, then wait up to ``timeout`` s for one to arrive."""
        offset = params.integer("offset")
        if offset is not None:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        allowed = params.json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(map(str, allowed))
        limit = min(max(params.integer("limit") or 100, 1), 100)
        await self._wait_until(lambda: bool(self._pending_updates()), max(params.integer("timeout") or 0, 0))
        return self._pending_updates()[:limit]

    @staticmethod
    def _commands_key(params: _Params) -> tuple[str, str]:
        scope = params.json("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), params.text("language_code") or ""

    async def _set_my_commands(self, params: _Params) -> bool:
        commands = params.json("commands")
        if not isinstance(commands, list):
            raise _bad("commands must be an array")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND.fullmatch(str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._commands_key(params)] = commands
        return True

    async def _get_my_commands(self, params: _Params) -> list[dict[str, Any]]:
        return self._commands.get(self._commands_key(params), [])
