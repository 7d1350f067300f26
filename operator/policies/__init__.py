"""One policy per module: failure (restart or fail), suspend (the Job's spec.suspend), success."""
