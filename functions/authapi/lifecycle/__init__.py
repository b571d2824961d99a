"""The account lifecycle over email (issue 13): verify, recover, change, delete."""
