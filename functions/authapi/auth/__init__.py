"""Authentication flows: register, log in, refresh, log out, and who a bearer token belongs to."""
