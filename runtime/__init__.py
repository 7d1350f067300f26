"""KubeFactory runtime: what runs inside training and serving pods, and on a laptop.

Heavy libraries (torch, transformers, peft, trl) are imported inside functions only, so that
``kubefactory --help`` and config validation stay fast and torch-free.
"""

__version__ = "0.1.0"
