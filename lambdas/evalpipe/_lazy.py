"""Package re-exports imported on first use (PEP 562 module ``__getattr__``).

A package that re-exports its modules' names (``from evalpipe.suite import Suite``) would import
every module at its first import; a Lambda function pays that at every cold start even for the
names it never uses. `lazy_exports` gives the package a ``__getattr__`` that imports a name's
module when the name is first asked for, and keeps the value in the package's namespace.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def lazy_exports(package: str, modules: Mapping[str, str]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package``: ``name`` -> its module's (``modules[name]``) attribute."""

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
