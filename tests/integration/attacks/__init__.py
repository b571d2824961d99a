"""Attacks on the running app, end to end over HTTP."""
