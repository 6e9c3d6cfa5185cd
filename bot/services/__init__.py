"""Services: the rules of each feature, in plain async Python (no Discord)."""
