"""The sync engine: normalize, diff, store, backfill, reconcile."""
