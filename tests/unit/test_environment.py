"""environment.yml (conda) and pyproject.toml (pip) must ask for the same packages."""
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# PyPI name -> conda-forge name, where they differ
CONDA_NAMES = {"docker": "docker-py", "graphviz": "python-graphviz"}
CONDA_ONLY = {"python", "pip", "graphviz"}  # the interpreter, the installer, the `dot` binary package


def split_requirement(text: str) -> tuple[str, str]:
    name, spec = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*(.*?)\s*(#.*)?$", text).group(1, 2)
    return name.lower(), spec.replace(" ", "")


def conda_dependencies() -> dict[str, str]:
    found, in_dependencies = {}, False
    for line in (REPO / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_dependencies = True
        elif in_dependencies and re.match(r"^  - [^ ]", line) and not line.strip().endswith("pip:"):
            name, spec = split_requirement(line.strip()[2:])
            found[name] = spec
    return found


def test_environment_yml_lists_the_same_packages_as_pyproject_and_its_test_extra():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    needed = pyproject["project"]["dependencies"] + pyproject["project"]["optional-dependencies"]["test"]
    wanted = dict(split_requirement(dep) for dep in needed)
    wanted = {CONDA_NAMES.get(name, name): spec for name, spec in wanted.items()}
    conda = conda_dependencies()
    listed = {name: spec for name, spec in conda.items() if name not in CONDA_ONLY or name in wanted}
    assert listed == wanted
    assert "graphviz" in conda, "conda users need the graphviz binary package for `dot`"


def test_environment_yml_python_matches_requires_python():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert conda_dependencies()["python"] == pyproject["project"]["requires-python"]


def test_test_tools_are_not_runtime_dependencies():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    runtime = {split_requirement(dep)[0] for dep in pyproject["project"]["dependencies"]}
    assert not runtime & {"pytest", "nbval", "playwright"}
