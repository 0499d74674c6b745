"""Adapters to the outside world: the database, the Deploy file repository on disk."""
