"""Signing keys: the key ring that signs and verifies access tokens, and where it is read from."""
