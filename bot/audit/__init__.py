"""Audit: every command, allowed or denied, and every production action leaves a record."""
