"""Per-version telemetry, in the style of an APM: every request that crosses the mesh becomes a
record (who called whom, which version answered, how long it took, how it failed).

Envoy writes one JSON access-log line per request; `tail` follows the file, `identity` maps pod
addresses to service/version/workload, `records` turns a line into an enriched row, `store` keeps
rows in DuckDB, `model` answers the service/version/endpoint questions, `compare` puts two versions
side by side, `prometheus` exposes Istio-named metrics and `otlp` exports spans. `service.Telemetry`
ties them together for the cluster; `api.json_api` serves the queries.
"""
