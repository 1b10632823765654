"""p2p-bridge: forward Bybit P2P order chats to a Telegram team chat, exactly once."""

__version__ = "0.1.0"
