"""Stakeholder updates: subscriptions, the update clock, the delivery ledger, commander reminders."""
