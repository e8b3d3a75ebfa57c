"""The agent console: a small web app where human agents take and answer handoff tickets.

``daogou run agents`` serves it (``bots.console.run``); ``bots.console.web`` builds the
aiohttp application, ``bots.console.auth`` holds accounts, sessions and API tokens.
"""
