"""Dynamic provisioning as kind's `standard` StorageClass does it."""

from __future__ import annotations

from turnout.kube import provisioning
from turnout.types import Obj

SC = provisioning.default_storage_class()


def claim(**spec: object) -> Obj:
    return {"metadata": {"name": "www-web-0", "namespace": "wk", "uid": "u1"},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "2Gi"}},
                     "storageClassName": "standard", **spec}}


def test_default_class_is_the_newest_annotated_one() -> None:
    other: Obj = {"metadata": {"name": "fast", "creationTimestamp": "2027-01-01T00:00:00Z",
                               "annotations": {
                                   "storageclass.beta.kubernetes.io/is-default-class": "true"}}}
    plain: Obj = {"metadata": {"name": "slow"}}
    assert provisioning.default_class_name([SC, plain]) == "standard"
    assert provisioning.default_class_name([SC, other]) == "fast"
    assert provisioning.default_class_name([plain]) is None


def test_wait_for_first_consumer_provisions_only_once_a_pod_uses_the_claim() -> None:
    assert not provisioning.should_provision(claim(), SC, used_by_pod=False)
    assert provisioning.should_provision(claim(), SC, used_by_pod=True)
    immediate = {**SC, "volumeBindingMode": "Immediate"}
    assert provisioning.should_provision(claim(), immediate, used_by_pod=False)
    assert not provisioning.should_provision(claim(volumeName="pv1"), SC, used_by_pod=True)
    assert not provisioning.should_provision(claim(), None, used_by_pod=True)
    foreign = {**SC, "provisioner": "ebs.csi.aws.com"}
    assert not provisioning.should_provision(claim(), foreign, used_by_pod=True)


def test_the_volume_carries_the_claims_size_modes_and_reference() -> None:
    pv = provisioning.volume_for(claim(), SC)
    assert pv["metadata"]["name"] == "pvc-u1"
    assert pv["spec"]["capacity"] == {"storage": "2Gi"}
    assert pv["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert pv["spec"]["claimRef"]["uid"] == "u1" and pv["spec"]["storageClassName"] == "standard"


def test_claims_a_pod_uses() -> None:
    pod: Obj = {"spec": {"volumes": [{"name": "a", "persistentVolumeClaim": {"claimName": "c1"}},
                                     {"name": "b", "emptyDir": {}}]}}
    assert provisioning.claims_used(pod) == ["c1"]
