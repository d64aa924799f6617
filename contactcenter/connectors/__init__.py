"""Channels connected to open lines: the kinds of channel and the registry of connector instances."""
