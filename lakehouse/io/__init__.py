"""Readers and writers for the systems around the lakehouse: read_* / write_* only."""
