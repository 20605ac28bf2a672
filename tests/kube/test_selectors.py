from __future__ import annotations

from typing import Any

import pytest

from turnout.kube.errors import ApiError
from turnout.kube.selectors import (
    EVERYTHING,
    NOTHING,
    format_label_selector,
    from_label_selector_obj,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    parse_field_selector,
    parse_label_selector,
    selector_to_string,
)

LABELS = {"app": "ads", "version": "v2", "tier": "backend", "n": "5"}


@pytest.mark.parametrize(("text", "matches", "printed"), [
    ("", True, ""),
    ("app=ads", True, "app=ads"),
    ("app==ads", True, "app==ads"),
    ("app!=ads", False, "app!=ads"),
    ("app=ads,version=v1", False, "app=ads,version=v1"),
    ("version in (v1, v2)", True, "version in (v1,v2)"),
    ("version notin (v1,v2)", False, "version notin (v1,v2)"),
    ("missing notin (a)", True, "missing notin (a)"),
    ("tier", True, "tier"),
    ("!canary", True, "!canary"),
    ("!app", False, "!app"),
    ("  version in (v2) , app  ", True, "app,version in (v2)"),
    ("n>4,n<6", True, "n>4,n<6"),
    ("n>5", False, "n>5"),
    ("x in (foo,,baz),y,z notin ()", False, "x in (,baz,foo),y,z notin ()"),
    ("value in (in)", False, "value in (in)"),
    ("example.com/app=ads", False, "example.com/app=ads"),
    ("app=", False, "app="),
])
def test_label_selector_match_and_string(text: str, matches: bool, printed: str) -> None:
    s = parse_label_selector(text)
    assert s.matches(LABELS) is matches
    assert str(s) == printed
    assert str(parse_label_selector(str(s))) == printed


QNAME = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
         "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
         "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


@pytest.mark.parametrize(("text", "message"), [
    ("env IN (a)",
     "unable to parse requirement: found 'IN', expected: in, notin, =, ==, !=, gt, lt"),
    ("test-label=====name1", "unable to parse requirement: found '==', expected: identifier"),
    ("a=b=c", "found '=', expected: ',' or 'end of string'"),
    ("a,", "found '', expected: identifier after ','"),
    (",a", "found ',', expected: !, identifier, or 'end of string'"),
    ("app in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("app in a", "unable to parse requirement: found 'a' expected: '('"),
    ("-foo=x", 'unable to parse requirement: <nil>: Invalid value: "-foo": name part ' + QNAME),
    ("app=foo/bar",
     'unable to parse requirement: values[0][app]: Invalid value: "foo/bar": a valid label must '
     "be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
     "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
     "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
    ("n>x", 'unable to parse requirement: values[0]: Invalid value: "x": for \'Gt\', \'Lt\' '
            "operators, the value must be an integer"),
])
def test_label_selector_errors_use_server_wording(text: str, message: str) -> None:
    with pytest.raises(ApiError) as e:
        parse_label_selector(text)
    assert (e.value.code, e.value.reason) == (400, "BadRequest")
    assert e.value.message == message


def test_exact_value() -> None:
    s = parse_label_selector("app=ads,version in (v1,v2)")
    assert s.exact("app") == "ads"
    assert s.exact("version") is None
    assert s.exact("other") is None


@pytest.mark.parametrize(("obj", "labels", "matches", "printed"), [
    (None, LABELS, False, ""),
    ({}, LABELS, True, ""),
    ({"matchLabels": {"app": "ads"}}, LABELS, True, "app=ads"),
    ({"matchLabels": {"version": "v2", "app": "ads"}}, {"app": "ads"}, False, "app=ads,version=v2"),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "backend"]}]},
     LABELS, True, "tier in (backend,web)"),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["backend"]}]},
     LABELS, False, "tier notin (backend)"),
    ({"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"},
                           {"key": "app", "operator": "Exists"}]}, LABELS, True, "app,!canary"),
])
def test_label_selector_objects(obj: dict[str, Any] | None, labels: dict[str, str],
                                matches: bool, printed: str) -> None:
    s = from_label_selector_obj(obj)
    assert s.matches(labels) is matches
    assert selector_to_string(obj) == printed


def test_nil_and_empty_selectors() -> None:
    assert from_label_selector_obj(None) == NOTHING and not NOTHING.matches({})
    assert from_label_selector_obj({}) == EVERYTHING and EVERYTHING.matches(None)
    assert format_label_selector({}) == "<none>"
    with pytest.raises(ApiError) as e:
        from_label_selector_obj({"matchExpressions": [{"key": "a", "operator": "Maybe"}]})
    assert e.value.message == '"Maybe" is not a valid label selector operator'


def test_name_rules() -> None:
    assert is_dns1123_label("my-name") == []
    assert is_dns1123_label("a.b") == ["must not contain dots"]
    assert is_dns1123_subdomain("a.b") == []
    assert is_dns1123_subdomain("Foo") == [
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
        "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
        "regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]
    assert is_qualified_name("app.kubernetes.io/name") == []
    assert is_qualified_name("a/b/c")[0].startswith("a qualified name must consist")
    assert is_qualified_name("/x") == ["prefix part must be non-empty"]
    assert is_qualified_name("x" * 64) == ["name part must be no more than 63 characters"]


POD = {"metadata": {"name": "p1", "namespace": "ns1"},
       "spec": {"nodeName": "turnout", "restartPolicy": "Always", "hostNetwork": False},
       "status": {"phase": "Running", "podIP": "127.1.0.2"}}


@pytest.mark.parametrize(("text", "matches"), [
    ("metadata.name=p1", True),
    ("metadata.name==p2", False),
    ("metadata.name!=p2,metadata.namespace=ns1", True),
    ("status.phase=Running,spec.nodeName=turnout", True),
    ("status.phase!=Running", False),
    ("status.podIP=127.1.0.2", True),
    ("spec.hostNetwork=false", True),
    ("status.nominatedNodeName=", True),
    ("", True),
])
def test_pod_field_selectors(text: str, matches: bool) -> None:
    assert parse_field_selector(text, "Pod").matches(POD) is matches


def test_field_selector_values_and_exact() -> None:
    node = {"metadata": {"name": "n"}, "spec": {}}
    assert parse_field_selector("spec.unschedulable=false", "Node").matches(node)
    rs = {"metadata": {"name": "r"}, "status": {}}
    assert parse_field_selector("status.replicas=0", "ReplicaSet", "apps").matches(rs)
    ev = {"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p1"},
          "source": {"component": "kubelet"}, "type": "Normal", "reason": "Pulled"}
    s = parse_field_selector("involvedObject.kind=Pod,involvedObject.name=p1,source=kubelet,"
                             "type=Normal", "Event")
    assert s.matches(ev)
    ev2 = {"metadata": {"name": "e"}, "regarding": {"kind": "Pod"},
           "reportingController": "kubelet"}
    assert parse_field_selector("regarding.kind=Pod,reportingController=kubelet", "Event",
                                "events.k8s.io").matches(ev2)
    assert parse_field_selector("type=Opaque", "Secret").matches({"type": "Opaque"})
    s = parse_field_selector(r"metadata.name=a\,b", "Deployment", "apps")
    assert s.exact("metadata.name") == "a,b"
    assert str(s) == r"metadata.name=a\,b"


@pytest.mark.parametrize(("text", "kind", "group", "message"), [
    ("spec.foo=x", "Pod", "", "field label not supported: spec.foo"),
    ("metadata.namespace=x", "Node", "", "field label not supported: metadata.namespace"),
    ("status.replicas=1", "Deployment", "apps",
     '"status.replicas" is not a known field selector: only "metadata.name", '
     '"metadata.namespace"'),
    ("spec.x=1", "VirtualService", "networking.istio.io",
     '"spec.x" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    ("metadata.name", "Pod", "", "invalid selector: 'metadata.name'; can't understand "
                                 "'metadata.name'"),
    (r"metadata.name=a\x", "Pod", "", r"invalid field selector: invalid escape sequence: \x"),
    ("metadata.name=a=b", "Pod", "", "invalid field selector: unescaped character in value: ="),
])
def test_field_selector_errors(text: str, kind: str, group: str, message: str) -> None:
    with pytest.raises(ApiError) as e:
        parse_field_selector(text, kind, group)
    assert (e.value.code, e.value.message) == (400, message)
