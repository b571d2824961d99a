"""A tiny FastAPI service that accepts authapi access tokens (README.md next to this file)."""
