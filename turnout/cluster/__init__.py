"""One local cluster: its state directory, its bootstrap objects and the server process."""
