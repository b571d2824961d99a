"""The audit trail (issue 17): security events recorded in the statement that makes the change,
published on EventBridge through the event outbox, read by users and admins."""
