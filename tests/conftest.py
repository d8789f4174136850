"""Shared pytest configuration; each area keeps its fixtures in its own folder's conftest.py."""
