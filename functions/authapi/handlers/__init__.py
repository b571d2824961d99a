"""Lambda entry points. Thin: they adapt events and call the app uvicorn also serves."""
