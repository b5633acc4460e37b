"""Tests of the audit domain."""
