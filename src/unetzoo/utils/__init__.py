"""Small utilities shared across floors (atomic file writing, durations)."""
