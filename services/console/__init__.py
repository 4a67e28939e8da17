"""The privacy officer's console: pages over the three services' admin APIs (no database of its own)."""
