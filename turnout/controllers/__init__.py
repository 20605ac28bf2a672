"""Reconcile loops: they watch the store and drive it toward what specs ask for."""
