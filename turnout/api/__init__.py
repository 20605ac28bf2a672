"""The HTTP face of the cluster: the Kubernetes API subset kubectl and client libraries use."""
