"""Database access: the engine, the unit of work, and the ORM base."""
