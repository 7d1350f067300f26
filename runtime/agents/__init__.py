"""Pod-side agents: what the operator's pods run next to the work itself.

``dataset_prepare`` (the prepare Job: check every row, write the usable ones, report through the
termination message) and ``progress_report`` (around torchrun: publish the progress record to the
job's progress ConfigMap). They speak the pod contract (:mod:`kubefactory.runtime.contract`).
"""
