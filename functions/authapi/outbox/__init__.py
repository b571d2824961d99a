"""The mail outbox: flows enqueue a message in their own statement, then notify the queue."""
