"""A real local Kubernetes control plane for KubeFactory's integration tests.

Everything is built from Go modules (no release downloads, no containers) and
cached outside the checkout. Entry point: ``python3 hack/controlplane/cluster.py``.
"""
