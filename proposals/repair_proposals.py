"""A repair proposal opened from an error group (placeholder until monitoring lands)."""
