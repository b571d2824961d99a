"""The locks agree with pyproject.toml, carry hashes, and mean the same set on every build host.

`make lock` writes `layers/requirements.lock` ([project] dependencies: what the Lambda layer and
the test virtualenv install) and `requirements-dev.lock` (what the dev extra adds, resolved
within the runtime lock). Both are installed in pip's hash-checking mode, which fails on a pin
without a hash but cannot know that pyproject.toml moved on: that is what these tests catch.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from tests.infra.cfn import ROOT

pytestmark = pytest.mark.infra

RUNTIME_LOCK = ROOT / "layers" / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"

Environment = Mapping[str, str]


@dataclass(frozen=True)
class Pin:
    name: NormalizedName
    version: Version
    marker: Marker | None
    hashes: tuple[str, ...]

    def applies(self, environment: Environment) -> bool:
        return self.marker is None or self.marker.evaluate({**environment, "extra": ""})


def parse_lock(text: str) -> list[Pin]:
    """`name==version ; marker --hash=sha256:...` entries, continuation lines joined."""
    entries: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        current += " " + line.removesuffix("\\")
        if not line.endswith("\\"):
            entries.append(current.strip())
            current = ""
    pins = []
    for entry in entries:
        requirement_text, *hash_options = entry.split(" --hash=")
        if requirement_text.startswith("-"):
            raise ValueError(f"an option in a lock changes what pip installs: {entry[:80]}")
        requirement = Requirement(requirement_text)
        (specifier,) = requirement.specifier  # exactly one
        if specifier.operator != "==" or "*" in specifier.version:
            raise ValueError(f"not an exact pin: {requirement_text}")
        pins.append(
            Pin(
                name=canonicalize_name(requirement.name),
                version=Version(specifier.version),
                marker=requirement.marker,
                hashes=tuple(option.strip() for option in hash_options),
            )
        )
    return pins


THIS_VENV: dict[str, str] = {key: str(value) for key, value in default_environment().items()}


def environment(python: str, system: str, machine: str) -> dict[str, str]:
    """Marker variables for a CPython on another machine."""
    return {
        **THIS_VENV,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "python_version": python,
        "python_full_version": f"{python}.0",
        "os_name": "posix",
        "sys_platform": system.lower(),
        "platform_system": system,
        "platform_machine": machine,
    }


LAMBDA = {
    "lambda-arm64": environment("3.13", "Linux", "aarch64"),
    "lambda-x86_64": environment("3.13", "Linux", "x86_64"),
}
# pip evaluates markers for the Python running it, not for --platform: sam build on any of these
# must install the set the Lambda runtime gets
BUILD_HOSTS = {
    **LAMBDA,
    "linux-x86_64-host": environment("3.13", "Linux", "x86_64"),
    "mac-arm64-host": environment("3.13", "Darwin", "arm64"),
    "mac-x86_64-host": environment("3.13", "Darwin", "x86_64"),
}


def selected(pins: Iterable[Pin], environment: Environment) -> dict[NormalizedName, Pin]:
    chosen: dict[NormalizedName, Pin] = {}
    for pin in pins:
        if pin.applies(environment):
            assert pin.name not in chosen, f"{pin.name} is pinned twice for one environment"
            chosen[pin.name] = pin
    return chosen


def disagreements(requirements: Iterable[str], pins: Iterable[Pin]) -> list[str]:
    """Each requirement locked (whatever the environment) and every pin of it in its range."""
    by_name: dict[NormalizedName, list[Pin]] = {}
    for pin in pins:
        by_name.setdefault(pin.name, []).append(pin)
    problems = []
    for line in requirements:
        requirement = Requirement(line)
        locked = by_name.get(canonicalize_name(requirement.name), [])
        if not locked:
            problems.append(f"{requirement.name} is in pyproject.toml but not locked")
        problems += [
            f"{requirement.name}=={pin.version} is locked, outside {requirement.specifier}"
            for pin in locked
            if not requirement.specifier.contains(pin.version, prereleases=True)
        ]
    return problems


def unhashed(pins: Iterable[Pin]) -> list[str]:
    return [
        f"{pin.name}=={pin.version}"
        for pin in pins
        if not pin.hashes or not all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in pin.hashes)
    ]


def needed(
    roots: Iterable[str], locked: Mapping[NormalizedName, Pin], environment: Environment
) -> tuple[set[NormalizedName], list[str]]:
    """What `roots` need in `environment`, walked through the installed packages' metadata.

    The virtualenv holds the locked versions (make install), so their metadata is the lock's.
    For another environment, a pin this virtualenv does not hold at that version (another
    Python's fork of the resolution) is not walked.
    """
    names: set[NormalizedName] = set()
    problems: list[str] = []
    queue = [(Requirement(line), "") for line in roots]
    walked: set[tuple[NormalizedName, str]] = set()
    while queue:
        requirement, parent_extra = queue.pop()
        if requirement.marker and not requirement.marker.evaluate(
            {**environment, "extra": parent_extra}
        ):
            continue
        name = canonicalize_name(requirement.name)
        pin = locked.get(name)
        if pin is None:
            problems.append(f"{name} ({requirement}) is needed but not locked")
            continue
        if not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{name}=={pin.version} is locked, but {requirement} is needed")
        names.add(name)
        try:
            installed = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if Version(installed.version) != pin.version:
            if environment == THIS_VENV:
                problems.append(f"{name} {installed.version} is installed, not the lock's")
            continue
        for extra in ("", *sorted(canonicalize_name(e) for e in requirement.extras)):
            if (name, extra) not in walked:
                walked.add((name, extra))
                queue += [(Requirement(line), extra) for line in installed.requires or []]
    return names, problems


@pytest.fixture(scope="module")
def project() -> dict[str, object]:
    project: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def _lock(path: Path) -> list[Pin]:
    return parse_lock(path.read_text())


def _runtime_dependencies(project: dict[str, object]) -> list[str]:
    dependencies = project["dependencies"]
    assert isinstance(dependencies, list)
    return dependencies


def _dev_dependencies(project: dict[str, object]) -> list[str]:
    optional = project["optional-dependencies"]
    assert isinstance(optional, dict)
    dev: list[str] = optional["dev"]
    return dev


@pytest.mark.parametrize("path", [RUNTIME_LOCK, DEV_LOCK], ids=lambda path: path.name)
def test_every_locked_requirement_is_pinned_and_hashed(path: Path) -> None:
    pins = _lock(path)
    assert len(pins) > 10, f"{path} parsed to almost nothing"
    assert unhashed(pins) == []
    for environment in (*BUILD_HOSTS.values(), THIS_VENV):
        selected(pins, environment)  # one pin per package wherever it installs


def test_runtime_lock_satisfies_pyproject(project: dict[str, object]) -> None:
    """A dependency added to pyproject.toml, or a range moved past its pin: `make lock`."""
    assert disagreements(_runtime_dependencies(project), _lock(RUNTIME_LOCK)) == []


def test_dev_lock_satisfies_the_dev_extra(project: dict[str, object]) -> None:
    pins = _lock(RUNTIME_LOCK) + _lock(DEV_LOCK)
    assert disagreements(_dev_dependencies(project), pins) == []


def test_each_pin_has_one_home() -> None:
    """A runtime package pinned in the dev lock too could be installed at the dev lock's version."""
    runtime = {pin.name for pin in _lock(RUNTIME_LOCK)}
    assert runtime & {pin.name for pin in _lock(DEV_LOCK)} == set()


@pytest.mark.parametrize("name", [*LAMBDA, "this-venv"])
def test_runtime_lock_is_exactly_what_the_dependencies_need(
    project: dict[str, object], name: str
) -> None:
    """Nothing missing (pip's hash-checking mode would stop the build), nothing stale."""
    environment = THIS_VENV if name == "this-venv" else LAMBDA[name]
    locked = selected(_lock(RUNTIME_LOCK), environment)
    names, problems = needed(_runtime_dependencies(project), locked, environment)
    assert problems == []
    assert sorted(set(locked) - names) == [], "locked, but nothing needs them: make lock"


def test_dev_lock_is_exactly_what_the_dev_extra_adds(project: dict[str, object]) -> None:
    locked = selected(_lock(RUNTIME_LOCK) + _lock(DEV_LOCK), THIS_VENV)
    roots = _runtime_dependencies(project) + _dev_dependencies(project)
    names, problems = needed(roots, locked, THIS_VENV)
    assert problems == []
    assert sorted(set(locked) - names) == [], "locked, but nothing needs them: make lock"


def test_every_build_host_installs_what_the_lambda_runtime_gets() -> None:
    """layers/Makefile's pip runs on the build host and evaluates markers there."""
    pins = _lock(RUNTIME_LOCK)
    expected = selected(pins, LAMBDA["lambda-arm64"])
    for name, environment in BUILD_HOSTS.items():
        assert selected(pins, environment) == expected, name


def test_the_layer_build_installs_exactly_the_lock() -> None:
    makefile = (ROOT / "layers" / "Makefile").read_text()
    assert re.search(r"^LOCK := requirements\.lock$", makefile, re.MULTILINE)
    install = re.search(r"\$\(PIP\) install .*", makefile)
    assert install
    assert "--require-hashes --requirement $(LOCK)" in install.group()
    assert not (ROOT / "layers" / "requirements.txt").exists(), "one list of dependencies"


def test_the_layer_leaves_boto3_to_the_runtime() -> None:
    """boto3 is locked (the tests need it) and removed from the layer after the install."""
    makefile = (ROOT / "layers" / "Makefile").read_text()
    provided = re.search(r"^RUNTIME_PROVIDED := (.*)$", makefile, re.MULTILINE)
    assert provided
    assert {"boto3", "botocore"} <= set(provided.group(1).split())
    assert {"boto3", "botocore"} <= {pin.name for pin in _lock(RUNTIME_LOCK)}


_LOCK = """\
# a comment
fastapi==0.121.0 \\
    --hash=sha256:{h}
    # via authapi
pycparser==2.22 ; implementation_name != 'PyPy' \\
    --hash=sha256:{h} \\
    --hash=sha256:{h}
""".format(h="0" * 64)


@pytest.mark.parametrize(
    ("dependencies", "lock", "problem"),
    [
        (["fastapi>=0.121,<1"], _LOCK, None),
        (["fastapi>=0.121,<1", "httpx>=0.28"], _LOCK, "httpx is in pyproject.toml but not locked"),
        (["fastapi>=0.122,<1"], _LOCK, "fastapi==0.121.0 is locked, outside <1,>=0.122"),
        (["fastapi[all]>=0.121", "pycparser<2.22"], _LOCK, "pycparser==2.22 is locked, outside"),
    ],
)
def test_disagreements_are_found(dependencies: list[str], lock: str, problem: str | None) -> None:
    found = disagreements(dependencies, parse_lock(lock))
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1
        assert found[0].startswith(problem)


def test_a_pin_without_hashes_is_found() -> None:
    assert unhashed(parse_lock(_LOCK + "uvicorn==0.32.0\n")) == ["uvicorn==0.32.0"]
    with pytest.raises(ValueError, match="not an exact pin"):
        parse_lock("uvicorn>=0.32\n")
    with pytest.raises(ValueError, match="an option"):
        parse_lock("--index-url https://example.com/simple\n")
