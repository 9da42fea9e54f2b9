"""tox's inline plugin: one environment per package and Python version, discovered, never listed.

For every package under ``packages/`` that is not retired, and for ``shared-contracts``, it declares
``<package>-py311``, ``-py312`` and ``-py313``. Each is built from that package's own ``uv.lock`` by tox-uv's
lock runner and runs the package's tests (and, for models, the conformance suite in ``tests/``) with 100 %
line and branch coverage required. The environments of ``tox.ini`` (lint, repository, docs) come on top.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from tox.config.loader.memory import MemoryLoader
from tox.config.sets import ConfigSet
from tox.plugin import impl
from tox.session.state import State

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "tools"))

from zoo.discovery import PYTHON_VERSIONS, discover_packages  # noqa: E402


def _suffix(version: str) -> str:
    return "py" + version.replace(".", "")


def _environments() -> dict[str, dict]:
    targets = [("shared-contracts", ROOT / "shared-contracts", "shared_contracts", "library")]
    targets += [
        (package.name, package.directory, package.module, package.kind)
        for package in discover_packages(ROOT, include_retired=False)
    ]
    environments = {}
    for name, directory, module, kind in targets:
        for version in PYTHON_VERSIONS:
            # Only what differs between packages is set here; the command itself is [testenv] in tox.ini.
            environments[f"{name}-{_suffix(version)}"] = {
                "description": f"{name}: its tests"
                + (" and the conformance suite" if kind == "model" else "")
                + f" on Python {version}, 100 % line and branch coverage",
                "package_root": str(directory),
                "base_python": [f"python{version}"],
                "set_env": {
                    "ZOO_ROOT": str(ROOT),
                    "ZOO_PACKAGE_DIRECTORY": str(directory),
                    "ZOO_MODULE": module,
                    "ZOO_PACKAGE_KIND": kind,
                    "PYTHONHASHSEED": "0",
                    # Each environment its own coverage data: the three Pythons of a package may run at once.
                    "COVERAGE_FILE": str(ROOT / ".tox" / f"{name}-{_suffix(version)}" / ".coverage"),
                },
            }
    return environments


_ENVIRONMENTS = _environments()


@impl
def tox_extend_envs() -> Iterable[str]:
    return tuple(_ENVIRONMENTS)


@impl
def tox_add_core_config(core_conf: ConfigSet, state: State) -> None:
    # The discovered environments join the default list, so that a plain `tox -p` runs all of them.
    import configparser

    from tox.config.types import EnvList

    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "tox.ini")
    declared = [name.strip() for name in ini.get("tox", "env_list", fallback="").replace(",", " ").split()]
    core_conf.loaders.insert(0, MemoryLoader(env_list=EnvList([*_ENVIRONMENTS, *declared])))
    for name, settings in _ENVIRONMENTS.items():
        state.conf.memory_seed_loaders[name].append(MemoryLoader(**settings))
