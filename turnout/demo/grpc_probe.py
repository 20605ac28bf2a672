"""``grpc_health_probe`` (grpc-ecosystem/grpc-health-probe) for turnout pods.

Flagger's load tester runs it in pre-rollout webhooks (``grpc_health_probe -connect-timeout=1s
-addr=podinfo-canary:9999``). Same flags (Go style: ``-addr=x``, ``-addr x``, ``--addr=x``):
``-addr`` (required), ``-service``, ``-connect-timeout`` and ``-rpc-timeout`` (Go durations, 1s),
``-user-agent``, ``-v``; ``-tls`` and its companions are refused (no TLS here). Same messages on
stderr and exit codes: 0 SERVING (``status: SERVING``), 1 invalid arguments, 2 connection failed
or timed out, 3 the RPC failed (NOT_FOUND for an unknown service is one), 4 not SERVING.

Service names (``podinfo-canary:9999``) resolve in a pod through turnout's netshim, which this
Python process loads like any other in a pod; the call goes to the ClusterIP, where Envoy
carries it as HTTP/2. Run by ``turnout/demo/bin/grpc_health_probe``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from turnout.demo import grpc_health

INVALID_ARGUMENTS, CONNECTION_FAILURE, RPC_FAILURE, UNHEALTHY = 1, 2, 3, 4
_STRINGS = ("addr", "service", "user-agent", "connect-timeout", "rpc-timeout", "tls-ca-cert",
            "tls-client-cert", "tls-client-key", "tls-server-name")
_BOOLS = ("tls", "tls-no-verify", "v")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
          "h": 3600.0}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


class ArgError(Exception):
    pass


@dataclass(frozen=True)
class Options:
    addr: str
    service: str = ""
    connect_timeout: float = 1.0
    rpc_timeout: float = 1.0
    user_agent: str = "grpc_health_probe"
    verbose: bool = False


def go_duration(text: str) -> float:
    """Go's time.ParseDuration: ``1s``, ``250ms``, ``1m30s``, ``-1s``, ``0``."""
    sign, rest = (-1.0, text[1:]) if text.startswith("-") else (1.0, text.lstrip("+"))
    if rest == "0":
        return 0.0
    total, pos = 0.0, 0
    for m in _PART.finditer(rest):
        if m.start() != pos:
            break
        total, pos = total + float(m.group(1)) * _UNITS[m.group(2)], m.end()
    if not rest or pos != len(rest):
        raise ArgError(f'invalid value "{text}" for flag: parse error')
    return sign * total


def parse(argv: Sequence[str]) -> Options:
    values: dict[str, str] = {}
    flags: dict[str, bool] = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--" or not a.startswith("-") or a == "-":
            break  # Go's flag package stops at the first non-flag argument
        name, eq, value = a.lstrip("-").partition("=")
        if name in ("h", "help"):
            raise ArgError("flag: help requested")
        if name in _BOOLS:
            if eq and value.lower() not in ("1", "0", "t", "f", "true", "false"):
                raise ArgError(f'invalid boolean value "{value}" for -{name}')
            flags[name] = not eq or value.lower() in ("1", "t", "true")
        elif name in _STRINGS:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise ArgError(f"flag needs an argument: -{name}")
                value = argv[i]
            values[name] = value
        else:
            raise ArgError(f"flag provided but not defined: -{name}")
        i += 1
    connect = go_duration(values.get("connect-timeout", "1s"))
    rpc = go_duration(values.get("rpc-timeout", "1s"))
    if not values.get("addr"):
        raise ArgError("error: -addr not specified")
    if connect <= 0:
        raise ArgError(f"error: -connect-timeout must be greater than zero (specified: "
                       f"{values['connect-timeout']})")
    if rpc <= 0:
        raise ArgError(f"error: -rpc-timeout must be greater than zero (specified: "
                       f"{values['rpc-timeout']})")
    tls_flags = [f"-{n}" for n in ("tls-no-verify",) if flags.get(n)] + [
        f"-{n}" for n in ("tls-ca-cert", "tls-client-cert", "tls-client-key", "tls-server-name")
        if values.get(n)]
    if flags.get("tls") or tls_flags:
        raise ArgError("error: TLS is not supported by turnout's grpc_health_probe stand-in "
                       f"(gave {' '.join((['-tls'] if flags.get('tls') else []) + tls_flags)}); "
                       "turnout's mesh carries gRPC in cleartext")
    return Options(values["addr"], values.get("service", ""), connect, rpc,
                   values.get("user-agent", "grpc_health_probe"), flags.get("v", False))


def split_addr(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ArgError(f'error: failed to connect service at "{addr}": missing or invalid port')
    host = host.strip("[]") or "localhost"  # `-addr=:5000` is this host, as in Go
    return host, int(port)


def run(argv: Sequence[str]) -> int:
    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        opts = parse(argv)
        host, port = split_addr(opts.addr)
    except ArgError as e:
        say(str(e))
        return INVALID_ARGUMENTS
    if opts.verbose:
        say(f"parsed options:\n> addr={opts.addr} conn_timeout={opts.connect_timeout}s "
            f"rpc_timeout={opts.rpc_timeout}s\n> tls=false\nestablishing connection")
    try:
        result = grpc_health.check(host, port, opts.service, opts.connect_timeout,
                                   opts.rpc_timeout, opts.user_agent)
    except grpc_health.ConnectError as e:
        if e.timeout:
            say(f'timeout: failed to connect service "{opts.addr}" within '
                f"{argv_duration(argv, 'connect-timeout')} ({e})")
        else:
            say(f'error: failed to connect service at "{opts.addr}": {e}')
        return CONNECTION_FAILURE
    if result.code == grpc_health.UNIMPLEMENTED:
        say("error: this server does not implement the grpc health protocol "
            "(grpc.health.v1.Health)")
        return RPC_FAILURE
    if result.code == grpc_health.DEADLINE_EXCEEDED:
        say(f"timeout: health rpc did not complete within {argv_duration(argv, 'rpc-timeout')}")
        return RPC_FAILURE
    if result.code != grpc_health.OK:
        say(f"error: health rpc failed: {grpc_health.describe(result.code, result.message)}")
        return RPC_FAILURE
    name = grpc_health.STATUS_NAMES.get(result.status or 0, str(result.status))
    if result.status != grpc_health.SERVING:
        say(f'service unhealthy (responded with "{name}")')
        return UNHEALTHY
    say(f"status: {name}")
    return 0


def argv_duration(argv: Sequence[str], name: str) -> str:
    """The duration as given on the command line (the real tool prints Go's form of it)."""
    for i, a in enumerate(argv):
        flag, eq, value = a.lstrip("-").partition("=")
        if flag == name:
            return value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
    return "1s"


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(list(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    main()
