"""Audit: what changed between consecutive snapshots."""
