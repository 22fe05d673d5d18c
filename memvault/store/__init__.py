"""Storage backends behind the Store protocol (store.base)."""
