"""Accounts: who may register, and how accounts are stored."""
