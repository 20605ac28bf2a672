"""The `turnout` command line: thin shells over the cluster and its API."""
