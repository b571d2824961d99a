"""The mailer: resolves an outbox row, renders it, sends it through the provider, records it."""
