"""Maps the top-level folders ``runtime/`` and ``operator/`` to ``kubefactory.runtime`` and
``kubefactory.operator``: a bare ``operator`` package would shadow the standard library."""

from setuptools import find_packages, setup

_TOP = ("runtime", "operator")
packages = [f"kubefactory.{name}" for name in find_packages(include=[f"{top}*" for top in _TOP])]

setup(
    packages=packages,
    package_data={"kubefactory.runtime": ["py.typed", "data/templates/*.yaml"], "kubefactory.operator": ["py.typed"]},
)
