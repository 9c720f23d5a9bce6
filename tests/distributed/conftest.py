"""Fixtures for the distributed tests: one small multi-node Ray cluster on loopback, shut down after."""

from __future__ import annotations

import os

import pytest

# Ray binds the machine's own address unless told this; the tests stay on 127.0.0.1.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

MB = 1024 * 1024
#: nodes besides the head; each has 1 CPU, a 100 MB object store and the custom resource "worker"
WORKER_NODES = 3


@pytest.fixture(scope="package")
def ray_cluster():
    """A head (no CPUs for work) and ``WORKER_NODES`` worker nodes, all on 127.0.0.1; torn down after
    the last test of this folder."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    common = {"object_store_memory": 100 * MB, "node_ip_address": "127.0.0.1"}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False, **common})
    try:
        nodes = [cluster.add_node(num_cpus=1, resources={"worker": 1}, **common) for _ in range(WORKER_NODES)]
        ray.init(address=cluster.address, _node_ip_address="127.0.0.1", log_to_driver=False)
        cluster.wait_for_nodes()
        cluster.worker_nodes_list = nodes
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
