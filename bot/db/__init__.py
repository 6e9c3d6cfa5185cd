"""Persistence: one SQLite connection, plain SQL repositories, numbered migrations."""
