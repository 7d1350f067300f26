"""KubeFactory operator: Dataset, FineTuneJob and ModelServer reconciled by kopf.

Imports from the runtime only its light config models (kubefactory.runtime.config); never torch,
transformers, peft, trl or deepspeed. The operator image does not contain torch.
"""
