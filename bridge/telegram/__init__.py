"""The Telegram side: bot set-up, command routers, access control, and sending posts."""
