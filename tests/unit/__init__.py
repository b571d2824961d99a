"""Tests that need neither network nor database."""
