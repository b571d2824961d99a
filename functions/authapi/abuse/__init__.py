"""Defences against brute force and floods. State lives in PostgreSQL, so every Lambda
execution environment enforces the same limits."""
