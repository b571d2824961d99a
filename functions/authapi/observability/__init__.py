"""Logs, metrics and traces: how operators see the service."""
