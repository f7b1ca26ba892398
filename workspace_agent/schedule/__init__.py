"""The workshop's schedule as this host knows it: countdown, warnings, download-only grace."""
