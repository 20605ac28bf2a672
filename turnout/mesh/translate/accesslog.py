"""The JSON access log every listener writes: one line per request (HTTP) or connection (TCP).

Format (one JSON object per line; the telemetry tailer relies on these keys):

==========================  ================================================================
key                         value
==========================  ================================================================
start_time                  request start, RFC 3339 with milliseconds (`%START_TIME%`)
duration_us                 total duration in µs (number): first request byte received to
                            last response byte sent, `%COMMON_DURATION(DS_RX_BEG:DS_TX_END:us)%`;
                            `null` when no response was sent; HTTP only (none for TCP)
duration_ms                 total duration in whole ms (number, `%DURATION%`): what telemetry
                            falls back to without `duration_us` (TCP, older lines)
upstream_service_time_ms    `x-envoy-upstream-service-time` (string of ms, null when absent)
method, path, authority     request line; `path` is the original path before any rewrite
protocol                    HTTP/1.1, HTTP/2, ...
response_code               number (0 when no response was sent)
response_flags              Envoy flags: `-`, `NR` no route, `NC` no cluster, `UH` no healthy
                            upstream, `UF` connect failure, `FI` fault abort, `DI` fault delay...
response_code_details       Envoy's reason text
bytes_received, bytes_sent  body bytes in / out (numbers)
request_id, traceparent     `x-request-id` and W3C `traceparent` headers
user_agent                  `user-agent` header
listener_kind               `pod` | `service` | `nodeport` | `gateway` | `ingress`
source_namespace,           the calling pod for `pod` listeners; for the others the object that
source_name                 owns the listener (Service, gateway, ingress controller)
listener                    the listener name (see `naming`)
route_name                  `vs/<ns>/<name>/<rule index>`, `svc/<ns>/<svc>/<port>`,
                            `ingress/...`, `ingress-canary/...`, `passthrough` (`naming`)
upstream_cluster            e.g. `outbound|5002|v2|advertisements.ns3.svc.cluster.local`
                            (`kube|...` for kube-proxy semantics, `PassthroughCluster`)
upstream_host               `ip:port` of the pod that served it
downstream_remote_address   the client's socket address
==========================  ================================================================

Numbers are JSON numbers; absent values (a header not sent, no upstream) are `null`;
`response_flags` is `-` when there are none. TCP listeners log the subset that applies.
Lines reach the file within about 200 ms (`mesh.envoy` sets Envoy's flush interval).
"""

from __future__ import annotations

from turnout.types import Obj

FILE_LOG_TYPE = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog"

_HTTP_FIELDS: Obj = {
    "start_time": "%START_TIME(%Y-%m-%dT%H:%M:%S.%3fZ)%",
    "duration_us": "%COMMON_DURATION(DS_RX_BEG:DS_TX_END:us)%",
    "duration_ms": "%DURATION%",
    "upstream_service_time_ms": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
    "method": "%REQ(:METHOD)%",
    "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "authority": "%REQ(:AUTHORITY)%",
    "protocol": "%PROTOCOL%",
    "response_code": "%RESPONSE_CODE%",
    "response_flags": "%RESPONSE_FLAGS%",
    "response_code_details": "%RESPONSE_CODE_DETAILS%",
    "bytes_received": "%BYTES_RECEIVED%",
    "bytes_sent": "%BYTES_SENT%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "traceparent": "%REQ(TRACEPARENT)%",
    "user_agent": "%REQ(USER-AGENT)%",
    "route_name": "%ROUTE_NAME%",
    "upstream_cluster": "%UPSTREAM_CLUSTER_RAW%",
    "upstream_host": "%UPSTREAM_HOST%",
    "downstream_remote_address": "%DOWNSTREAM_REMOTE_ADDRESS%",
}

_TCP_FIELDS: Obj = {k: v for k, v in _HTTP_FIELDS.items()
                    if k in ("start_time", "duration_ms", "response_flags", "bytes_received",
                             "bytes_sent", "upstream_cluster", "upstream_host",
                             "downstream_remote_address")}


def access_log(path: str, kind: str, namespace: str, name: str, listener: str,
               http: bool = True) -> list[Obj]:
    fields = dict(_HTTP_FIELDS if http else _TCP_FIELDS)
    fields.update({"listener_kind": kind, "source_namespace": namespace, "source_name": name,
                   "listener": listener})
    return [{"name": "envoy.access_loggers.file",
             "typed_config": {"@type": FILE_LOG_TYPE, "path": path,
                              "log_format": {"json_format": fields}}}]
