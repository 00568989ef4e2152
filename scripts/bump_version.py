#!/usr/bin/env python3
"""Set one version on every mnn distribution: the root VERSION file, each pyproject's
[project].version, exact pins between sibling mnn distributions, and literal ``__version__``s.

    scripts/bump_version.py 0.2.0            # rewrite the files
    scripts/bump_version.py 0.2.0 --dry-run  # list what would change
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

VERSION_RE = re.compile(r"^\d+(\.\d+){1,2}((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")
PROJECT_VERSION = re.compile(r'^(version\s*=\s*)"[^"]*"', re.M)
SIBLING_PIN = re.compile(r'"(mnn[-_][A-Za-z0-9_.-]*?)(\[[^\]]*\])?\s*==\s*[^";]*')
DUNDER_VERSION = re.compile(r'^(__version__\s*=\s*)"[^"]*"', re.M)


def distributions(root: Path) -> list[Path]:
    """Directories holding a distribution: mnn_core, plugins/*, backend-*."""
    dirs = [root / "mnn_core", *sorted((root / "plugins").glob("*")), *sorted(root.glob("backend-*"))]
    return [d for d in dirs if (d / "pyproject.toml").is_file()]


def version_files(root: Path) -> list[Path]:
    """Every file bump rewrites, VERSION first."""
    files = [root / "VERSION"]
    for dist in distributions(root):
        files.append(dist / "pyproject.toml")
        files.extend(sorted(p for p in (dist / "src").glob("*/__init__.py") if DUNDER_VERSION.search(p.read_text())))
    return files


def rewrite(path: Path, text: str, version: str) -> str:
    if path.name == "VERSION":
        return version + "\n"
    if path.name == "pyproject.toml":
        head, sep, rest = text.partition("[project]")
        section, nxt, tail = rest.partition("\n[")
        section = PROJECT_VERSION.sub(rf'\g<1>"{version}"', section, count=1)
        text = head + sep + section + nxt + tail
        return SIBLING_PIN.sub(lambda m: f'"{m.group(1)}{m.group(2) or ""}=={version}', text)
    return DUNDER_VERSION.sub(rf'\g<1>"{version}"', text, count=1)


def bump(root: Path, version: str, dry_run: bool = False) -> list[Path]:
    """Rewrite every version file under `root`; returns the files that changed."""
    if not VERSION_RE.match(version):
        raise ValueError(f"{version!r} is not a release version like 1.2.3, 1.2.3rc1 or 1.2.3.dev0")
    changed = []
    for path in version_files(root):
        old = path.read_text() if path.exists() else ""
        new = rewrite(path, old, version)
        if new != old:
            changed.append(path)
            if not dry_run:
                path.write_text(new)
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    try:
        changed = bump(args.root, args.version, args.dry_run)
    except ValueError as error:
        print(f"bump_version: {error}", file=sys.stderr)
        return 2
    verb = "would change" if args.dry_run else "changed"
    for path in changed:
        print(f"{verb} {path.relative_to(args.root)}")
    print(f"{len(changed)} file(s) {verb}; version {args.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
