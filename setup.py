"""Maps the top-level folders ``runtime/`` and ``operator/`` to ``kubefactory.runtime`` and
``kubefactory.operator``.

``operator/`` deliberately has no ``__init__.py``: as a regular package it would shadow the
standard library's ``operator`` module for any ``python -m ...`` run from the repository root
(``python -m pip`` included). Without it, the folder is only a namespace portion, which the
standard library module always wins over; inside the installed distribution it is
``kubefactory.operator``.
"""

from setuptools import find_namespace_packages, setup

_TOP = ("runtime", "operator")
packages = [
    f"kubefactory.{name}"
    for name in find_namespace_packages(include=[f"{top}*" for top in _TOP])
    if "__pycache__" not in name
]

setup(
    packages=packages,
    package_data={
        "kubefactory.runtime": ["py.typed", "data/templates/*.yaml"],
        "kubefactory.operator": ["py.typed"],
    },
)
