"""The Telegram adapter: python-telegram-bot in front of the dialogue manager.

``bot.TelegramBot`` turns updates into ``Inbound`` and ``Reply`` into Telegram messages;
``render`` lays replies out within Telegram's limits; ``run`` starts it in polling or
webhook mode with the outbox consumer beside it.  It holds no conversation state: any
number of processes can serve one bot.
"""

import os

# Opt in to python-telegram-bot's durations as ``timedelta`` (its next major version's only
# behaviour); without it every 429 and several getters emit a deprecation warning.
os.environ.setdefault("PTB_TIMEDELTA", "1")
