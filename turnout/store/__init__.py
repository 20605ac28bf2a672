"""The object database: the only code that touches stored objects."""
