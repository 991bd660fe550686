"""Where the gateway keeps state: the database (usage ledger, keys) and Redis (shared counters)."""
