"""Alert causes that come from healing (registered with monitoring's alert rules)."""
