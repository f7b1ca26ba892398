"""Adapters: one module per external system. ``bus_from_url``/``secrets_from_url`` build the
bus and secrets adapters from the URLs agents are configured with (docs/protocol.md §5)."""

from shared.adapters.urls import bus_from_url, secrets_from_url

__all__ = ["bus_from_url", "secrets_from_url"]
