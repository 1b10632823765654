"""Forum topics: the owner's control methods and the bot's forum topic calls."""

from __future__ import annotations

from typing import Any

from bridge.sandbox.fake_telegram._chats import FakeChat, FakeTopic
from bridge.sandbox.fake_telegram._params import _bad, _Params
from bridge.sandbox.fake_telegram._world import _World
from bridge.sandbox.fake_telegram.constants import DEFAULT_TOPIC_COLOR, MAX_TOPIC_NAME_CHARS


class _Topics(_World):
    """Forum topics: made, closed and deleted by the owner (control methods) or by the bot (its calls)."""

    def add_topic(self, chat_id: int, name: str, *, icon_color: int = DEFAULT_TOPIC_COLOR) -> int:
        """Create a forum topic as the chat's owner (not the bot) and return its ``message_thread_id``.

        Queues the ``forum_topic_created`` service message as a ``message`` update.
        """
        chat = self.chats[chat_id]
        if not chat.is_forum:
            raise ValueError(f"chat {chat_id} is not a forum")
        created = {"forum_topic_created": {"name": name, "icon_color": icon_color}}
        thread_id = self._owner_service(chat, chat.last_message_id + 1, created)
        chat.topics[thread_id] = FakeTopic(thread_id, name, icon_color, by_bot=False)
        return thread_id

    def close_topic(self, chat_id: int, thread_id: int) -> None:
        """Close a forum topic as the chat's owner; queues the ``forum_topic_closed`` service message.

        Sends into it then answer 400 "TOPIC_CLOSED", unless the bot created the topic or may manage topics.
        """
        chat = self.chats[chat_id]
        topic = chat.topics[thread_id]
        if not topic.closed:
            topic.closed = True
            self._owner_service(chat, thread_id, {"forum_topic_closed": {}})

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """Delete a forum topic and its messages, as a human admin would."""
        chat = self.chats[chat_id]
        del chat.topics[thread_id]
        chat.messages = {
            message_id: message
            for message_id, message in chat.messages.items()
            if message.get("message_thread_id") != thread_id
        }

    def _topic(self, params: _Params) -> tuple[FakeChat, FakeTopic]:
        chat = self._chat(params)
        if not chat.is_forum:
            raise _bad("the chat is not a forum")
        topic = chat.topics.get(params.integer("message_thread_id") or 0)
        if topic is None:
            raise _bad("message thread not found")
        return chat, topic

    async def _create_forum_topic(self, params: _Params) -> dict[str, Any]:
        chat = self._chat(params)
        if not chat.is_forum:
            raise _bad("the chat is not a forum")
        if not chat.bot_may("can_manage_topics"):  # ForumTopicManager::create_forum_topic
            raise _bad("not enough rights to create a topic")
        name = params.text("name") or ""
        if not 1 <= len(name) <= MAX_TOPIC_NAME_CHARS:
            raise _bad("TOPIC_NAME_INVALID")
        icon_color = params.integer("icon_color") or DEFAULT_TOPIC_COLOR
        thread_id = chat.last_message_id + 1  # the creation service message's id
        created = {"forum_topic_created": {"name": name, "icon_color": icon_color}}
        self._new_message(chat, self._bot_user, thread_id, None, created)
        chat.topics[thread_id] = FakeTopic(thread_id, name, icon_color)
        return {"message_thread_id": thread_id, "name": name, "icon_color": icon_color}

    async def _edit_forum_topic(self, params: _Params) -> bool:
        chat, topic = self._topic(params)
        if not chat.bot_manages(topic):  # ForumTopicManager::edit_forum_topic
            raise _bad("not enough rights to edit the topic")
        name = params.text("name")
        if name is not None:
            if not 1 <= len(name) <= MAX_TOPIC_NAME_CHARS:
                raise _bad("TOPIC_NAME_INVALID")
            topic.name = name
        return True

    def _set_topic_closed(self, params: _Params, closed: bool) -> bool:
        """closeForumTopic/reopenForumTopic (ForumTopicManager::toggle_forum_topic_is_closed, then the server)."""
        chat, topic = self._topic(params)
        if not chat.bot_manages(topic):
            raise _bad("not enough rights to close or open the topic")
        if topic.closed == closed:
            raise _bad("TOPIC_NOT_MODIFIED")
        topic.closed = closed
        event = "forum_topic_closed" if closed else "forum_topic_reopened"
        self._new_message(chat, self._bot_user, topic.thread_id, None, {event: {}})
        return True

    async def _close_forum_topic(self, params: _Params) -> bool:
        return self._set_topic_closed(params, closed=True)

    async def _reopen_forum_topic(self, params: _Params) -> bool:
        return self._set_topic_closed(params, closed=False)

    async def _delete_forum_topic(self, params: _Params) -> bool:
        chat, topic = self._topic(params)
        if not (topic.by_bot or (chat.bot_status == "administrator" and chat.bot_rights.get("can_delete_messages"))):
            raise _bad("not enough rights to delete the topic")  # ForumTopicManager::delete_forum_topic
        self.delete_topic(chat.id, topic.thread_id)
        return True
