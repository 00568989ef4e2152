"""The monorepo stays releasable as one: every distribution carries the root VERSION, pins its mnn
siblings to exactly that version, declares its plugin entry point and has a tox env; and
scripts/bump_version.py rewrites all of it."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import bump_version  # noqa: E402

REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*)")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def load(path: Path) -> dict:
    return tomllib.loads(path.read_text())


def dists(root: Path = ROOT) -> list[Path]:
    return bump_version.distributions(root)


def plugin_dists(root: Path = ROOT) -> list[Path]:
    return [d for d in dists(root) if d.name != "mnn_core"]


def tox_env(dist: Path) -> str:
    return "core" if dist.name == "mnn_core" else dist.name


def requirements(project: dict) -> list[str]:
    reqs = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        reqs.extend(extra)
    return reqs


def check_versions(root: Path) -> list[str]:
    """Every version mismatch under `root`, as messages (empty when consistent)."""
    version = (root / "VERSION").read_text().strip()
    names = {norm(load(d / "pyproject.toml")["project"]["name"]) for d in dists(root)}
    problems = []
    for dist in dists(root):
        project = load(dist / "pyproject.toml")["project"]
        where = dist.relative_to(root)
        if project.get("version") != version:
            problems.append(f"{where}: version {project.get('version')!r}, VERSION says {version!r}")
        for req in requirements(project):
            name, _, spec = REQUIREMENT.match(req).groups()
            if norm(name) in names or norm(name).startswith("mnn-"):
                if spec.replace(" ", "") != f"=={version}":
                    problems.append(f"{where}: requirement {req!r} must pin =={version} exactly")
        for init in (dist / "src").glob("*/__init__.py"):
            found = bump_version.DUNDER_VERSION.search(init.read_text())
            if found and f'"{version}"' not in found.group(0):
                problems.append(f"{init.relative_to(root)}: {found.group(0)}, VERSION says {version!r}")
    return problems


def test_distributions_found() -> None:
    found = {d.name for d in dists()}
    assert "mnn_core" in found and "frontend-onnx" in found


def test_versions_and_sibling_pins_match_root_version() -> None:
    assert bump_version.VERSION_RE.match((ROOT / "VERSION").read_text().strip())
    assert check_versions(ROOT) == []


@pytest.mark.parametrize("dist", plugin_dists(), ids=lambda d: d.name)
def test_plugin_declares_entry_point(dist: Path) -> None:
    project = load(dist / "pyproject.toml")["project"]
    entry_points = project.get("entry-points", {}).get("mnn.plugins", {})
    assert entry_points, f"{dist.name} declares no [project.entry-points.\"mnn.plugins\"]"
    for name, target in entry_points.items():
        assert re.fullmatch(r"[\w.]+(:[\w.]+)?", target), f"{name} = {target!r} is not a module path"


@pytest.mark.parametrize("dist", dists(), ids=lambda d: d.name)
def test_distribution_has_tox_env_installing_it_non_editable(dist: Path) -> None:
    tox = load(ROOT / "tox.toml")
    assert tox["env_run_base"]["package"] == "skip" and "MNN_*" in tox["env_run_base"]["pass_env"]
    env = tox["env"].get(tox_env(dist))
    assert env is not None, f"tox.toml has no env {tox_env(dist)!r} for {dist.name}"
    assert f"./{dist.relative_to(ROOT).as_posix()}" in env["deps"]
    assert tox_env(dist) in tox["env_list"]
    assert not any("-e" in str(dep).split() for e in tox["env"].values() for dep in e.get("deps", []))


def test_bump_version_rewrites_everything(tmp_path: Path) -> None:
    for path in bump_version.version_files(ROOT):
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    script = ROOT / "scripts" / "bump_version.py"
    run = subprocess.run([sys.executable, str(script), "7.8.9rc1", "--root", str(tmp_path)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "VERSION").read_text() == "7.8.9rc1\n"
    assert check_versions(tmp_path) == []
    assert all(load(d / "pyproject.toml")["project"]["version"] == "7.8.9rc1" for d in dists(tmp_path))
    assert bump_version.bump(tmp_path, "7.8.9rc1") == [], "bumping to the current version changes nothing"
    (tmp_path / "VERSION").write_text("1.0.0\n")
    assert check_versions(tmp_path), "a stale VERSION must be reported"
    bad = subprocess.run([sys.executable, str(script), "latest", "--root", str(tmp_path)], capture_output=True)
    assert bad.returncode == 2
