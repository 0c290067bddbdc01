"""Access: who may do what (roles from the settings)."""
