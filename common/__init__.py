"""Building blocks every BPC service shares: config, database, outbox, events, clock, actor."""
