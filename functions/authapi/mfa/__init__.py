"""The second factor: TOTP secrets and codes, recovery codes, and their rows (issue 14)."""
