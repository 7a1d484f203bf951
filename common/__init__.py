"""Building blocks every BPC service shares: config, database, outbox, events, clock, actor."""

from common import messages as _messages

_messages.install()
