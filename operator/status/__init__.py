"""Pure status functions: observed children → status and conditions (no I/O; the time is an argument)."""
