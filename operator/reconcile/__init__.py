"""Pure decisions: what is observed in, a Plan out (status, children to apply, Jobs to delete, events).

The handlers do exactly what a Plan says, in a crash-safe order: status first (so an attempt
number is recorded before its Job is created or its predecessor deleted), then deletions,
applies and events. Everything a decision needs is read back from the API server, so an operator
restarted at any point makes the same decision again.
"""
