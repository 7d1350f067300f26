"""``kubefactory run -f``: the operator's own builders, run on this machine without a cluster.

The manifests are validated by the API models, their children are built by the same pure builders
the operator applies (the rendered runtime config, the prepare Job, the trainer Job, the server
Deployment), and each pod those builders describe is then run here as a local process: volumes
become folders (a claim is ``<workdir>/<namespace>/claims/<claim>``, the same layout as on the
claim), the pod paths under ``/kubefactory`` are mapped onto them, and the container's command
runs with the pod's environment. Nothing here imports kopf or a Kubernetes client.
"""
