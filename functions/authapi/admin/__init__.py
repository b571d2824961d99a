"""The operator's API (issue 17): admin tokens, user management, the audit trail's listing."""
