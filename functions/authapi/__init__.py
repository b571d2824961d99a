"""authapi: a small, careful authentication API."""
