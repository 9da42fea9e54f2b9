"""The version of the contracts; every file the contracts write records it."""

CONTRACTS_VERSION = "1.0.0"
"""Semantic version: within a major version every change is additive, so old files stay readable."""
