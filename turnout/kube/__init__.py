"""Pure Kubernetes object helpers: no I/O anywhere in this package."""
