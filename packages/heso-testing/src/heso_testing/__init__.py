"""Test kit for heso and its adapters."""
