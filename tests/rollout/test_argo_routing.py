"""The getting-started Istio guide: one Rollout splitting two VirtualServices
(`virtualServices`), each on its named route."""

from __future__ import annotations

from .argo_world import World, rollout

ROLLOUT = "rollouts.argoproj.io"
VS = "virtualservices.networking.istio.io"


def vs(name: str, route: str) -> dict[str, object]:
    return {"metadata": {"name": name}, "spec": {
        "gateways": ["rollouts-demo-gateway"], "hosts": [f"{name}.local"],
        "http": [{"name": route, "route": [
            {"destination": {"host": "rollouts-demo-stable", "port": {"number": 15372}},
             "weight": 100},
            {"destination": {"host": "rollouts-demo-canary", "port": {"number": 15372}},
             "weight": 0}]}]}}


def test_two_virtual_services_get_the_same_split() -> None:
    w = World()
    for svc in ("rollouts-demo-stable", "rollouts-demo-canary"):
        w.create("services", {"metadata": {"name": svc}, "spec": {
            "selector": {"app": "demo"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    w.create(VS, vs("rollouts-demo-vsvc1", "primary"))
    w.create(VS, vs("rollouts-demo-vsvc2", "secondary"))
    w.create(ROLLOUT, rollout(strategy={"canary": {
        "canaryService": "rollouts-demo-canary", "stableService": "rollouts-demo-stable",
        "trafficRouting": {"istio": {"virtualServices": [
            {"name": "rollouts-demo-vsvc1", "routes": ["primary"]},
            {"name": "rollouts-demo-vsvc2", "routes": ["secondary"]}]}},
        "steps": [{"setWeight": 5}, {"pause": {}}]}}))
    w.run(2)
    w.new_image()
    w.run(3)
    assert w.status()["phase"] == "Paused"
    for name in ("rollouts-demo-vsvc1", "rollouts-demo-vsvc2"):
        route = w.get(VS, name)["spec"]["http"][0]["route"]
        assert [(d["destination"]["host"], d["weight"]) for d in route] == [
            ("rollouts-demo-stable", 95), ("rollouts-demo-canary", 5)]
        assert route[0]["destination"]["port"] == {"number": 15372}
    assert w.get("services", "rollouts-demo-canary")["spec"]["selector"][
        "rollouts-pod-template-hash"] == w.status()["currentPodHash"]
