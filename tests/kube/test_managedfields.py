"""Field ownership and server-side apply merges (turnout.kube.managedfields)."""

from __future__ import annotations

import pytest

from turnout.kube import errors, managedfields
from turnout.kube.managedfields import Manager

FS = managedfields.root_schema("apps", "Deployment")
NOW = "2026-12-02T00:00:00Z"


def deploy(replicas: int = 1, image: str = "nginx:1", extra_env: bool = False) -> dict:
    container: dict = {"name": "web", "image": image}
    if extra_env:
        container["env"] = [{"name": "A", "value": "1"}]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"app": "d"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [container]}}}}


def test_field_set_keys_containers_by_name_and_skips_system_metadata() -> None:
    fields = managedfields.field_set(deploy(), FS)
    item = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"web"}')
    assert item in fields and (*item, "f:image") in fields
    assert ("f:metadata", "f:labels", "f:app") in fields
    assert not any(p[:2] == ("f:metadata", "f:name") for p in fields)
    tree = managedfields.to_fields_v1(fields)
    node = tree["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert node == {".": {}, "f:image": {}, "f:name": {}}
    assert managedfields.from_fields_v1(tree) == fields


def test_path_string_as_structured_merge_diff_prints_it() -> None:
    p = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"web"}', "f:image")
    assert managedfields.path_string(p) == '.spec.template.spec.containers[name="web"].image'


def test_update_takes_changed_fields_from_other_managers() -> None:
    created = managedfields.record_update(None, deploy(), [], "kubectl-create", "apps/v1", NOW,
                                          FS)
    scaled = managedfields.record_update(deploy(), deploy(replicas=3), created, "kubectl-scale",
                                         "apps/v1", NOW, FS)
    by = {m.manager: m.fields for m in scaled}
    assert ("f:spec", "f:replicas") in by["kubectl-scale"]
    assert ("f:spec", "f:replicas") not in by["kubectl-create"]
    assert by["kubectl-scale"] == {("f:spec", "f:replicas")}


def test_apply_conflicts_with_an_update_manager_in_the_real_wording() -> None:
    owners = [Manager("kubectl-create", "Update", "apps/v1", NOW,
                      managedfields.field_set(deploy(), FS))]
    with pytest.raises(errors.ApiError) as e:
        managedfields.apply(deploy(), deploy(replicas=5), owners, "kubectl", "apps/v1", NOW, FS,
                            force=False)
    err = e.value
    assert err.code == 409 and err.reason == "Conflict"
    assert err.message == ('Apply failed with 1 conflict: conflict with "kubectl-create" using '
                           "apps/v1: .spec.replicas")
    assert err.causes[0].reason == "FieldManagerConflict"
    assert err.causes[0].field == ".spec.replicas"


def test_several_conflicts_are_listed_by_manager() -> None:
    owners = [Manager("a", "Apply", "apps/v1", NOW, managedfields.field_set(deploy(), FS))]
    with pytest.raises(errors.ApiError) as e:
        managedfields.apply(deploy(), deploy(replicas=5, image="nginx:2"), owners, "b",
                            "apps/v1", NOW, FS, force=False)
    assert e.value.message.startswith('Apply failed with 2 conflicts: conflicts with "a":\n- ')
    assert '- .spec.template.spec.containers[name="web"].image' in e.value.message


def test_same_values_do_not_conflict_and_share_ownership() -> None:
    owners = [Manager("a", "Apply", "apps/v1", NOW, managedfields.field_set(deploy(), FS))]
    new, managers = managedfields.apply(deploy(), deploy(), owners, "b", "apps/v1", NOW, FS,
                                        force=False)
    assert new["spec"]["replicas"] == 1
    assert {m.manager for m in managers} == {"a", "b"}


def test_force_takes_ownership() -> None:
    owners = [Manager("a", "Apply", "apps/v1", NOW, managedfields.field_set(deploy(), FS))]
    new, managers = managedfields.apply(deploy(), deploy(replicas=7), owners, "b", "apps/v1",
                                        NOW, FS, force=True)
    assert new["spec"]["replicas"] == 7
    by = {m.manager: m.fields for m in managers}
    assert ("f:spec", "f:replicas") in by["b"] and ("f:spec", "f:replicas") not in by["a"]


def test_a_field_dropped_from_the_configuration_is_removed_unless_someone_else_owns_it() -> None:
    first, managers = managedfields.apply(None, deploy(extra_env=True), [], "a", "apps/v1", NOW,
                                          FS, force=False)
    assert first["spec"]["template"]["spec"]["containers"][0]["env"]
    second, _ = managedfields.apply(first, deploy(), managers, "a", "apps/v1", NOW, FS,
                                    force=False)
    assert "env" not in second["spec"]["template"]["spec"]["containers"][0]
    shared = [*managers, Manager("b", "Update", "apps/v1", NOW, {
        ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"web"}', "f:env",
         'k:{"name":"A"}', "f:value")})]
    kept, _ = managedfields.apply(first, deploy(), shared, "a", "apps/v1", NOW, FS, force=False)
    assert kept["spec"]["template"]["spec"]["containers"][0]["env"]


def test_apply_merges_keyed_lists_item_by_item() -> None:
    live = deploy()
    live["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "s"})
    config = deploy(image="nginx:2")
    new, _ = managedfields.apply(live, config, [], "a", "apps/v1", NOW, FS, force=False)
    containers = new["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("web", "nginx:2"), ("side", "s")]


def test_managers_round_trip_through_the_object() -> None:
    obj = deploy()
    m = Manager("kubectl", "Apply", "apps/v1", NOW, managedfields.field_set(obj, FS))
    managedfields.write(obj, [m])
    entry = obj["metadata"]["managedFields"][0]
    assert entry["fieldsType"] == "FieldsV1" and entry["operation"] == "Apply"
    assert managedfields.read(obj)[0].fields == m.fields
