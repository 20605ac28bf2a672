"""The runtime (kubelet): pods as local process groups, each with its own 127.x address.

Public surface: :class:`~turnout.runtime.kubelet.Kubelet`, the
:class:`~turnout.runtime.client.KubeletClient` protocol it reports through (with an in-memory
:class:`~turnout.runtime.fake.FakeClient`), the image :class:`~turnout.runtime.catalog.Catalog`,
and the log readers :func:`~turnout.runtime.logs.read_log` and
:func:`~turnout.runtime.logs.follow_log`.
"""
