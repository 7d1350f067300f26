"""Build KubeFactory's container images from ``images/`` without a Docker engine or a registry.

Entry point: ``python3 hack/images/build.py`` (``make images``). Image names: :mod:`hack.images.names`.
"""
