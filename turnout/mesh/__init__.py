"""The service mesh data plane: Kubernetes/Istio objects in, a running Envoy configured out.

`snapshot` holds the input, `translate` (pure) builds Envoy resources, `xds` writes them to files in
make-before-break order, `envoy` supervises the process and `mesh.Mesh` ties them together for the
controller. `validation`, `analyze` and `explain` are pure helpers for the API and the CLI.
"""
