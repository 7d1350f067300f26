"""The terminal chat (`kubefactory chat`)."""
