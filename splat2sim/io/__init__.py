"""Readers and writers of the plain-data files stages exchange."""
