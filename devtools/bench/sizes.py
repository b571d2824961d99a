"""Deployment size: each built artifact unzipped, and zipped the way it is uploaded."""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

ARTIFACTS = ("ApiFunction", "MigrateFunction", "DependenciesLayer")
# AWS Lambda quotas: function and all its layers together, unzipped; a zip uploaded directly
UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024
DIRECT_UPLOAD_ZIP_LIMIT_BYTES = 50 * 1024 * 1024


def _files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def _zipped_size(root: Path, files: list[Path]) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "artifact.zip"
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, path.relative_to(root))
        return os.path.getsize(target)


def _top_entries(root: Path, files: list[Path], top: int) -> list[dict[str, Any]]:
    """The biggest top-level entries (packages, in a layer), with their dist-info folded in."""
    sizes: Counter[str] = Counter()
    base = root / "python" if (root / "python").is_dir() else root
    for path in files:
        parts = path.relative_to(base).parts
        name = parts[0].split("-", 1)[0].split(".", 1)[0].lower() if len(parts) > 1 else parts[0]
        sizes[name] += path.stat().st_size
    return [{"name": name, "bytes": size} for name, size in sizes.most_common(top)]


def measure(build_dir: Path, top: int = 10) -> dict[str, Any]:
    artifacts = {}
    for name in ARTIFACTS:
        root = build_dir / name
        if not root.is_dir():
            continue
        files = _files(root)
        artifacts[name] = {
            "files": len(files),
            "pyc_files": sum(1 for path in files if path.suffix == ".pyc"),
            "unzipped_bytes": sum(path.stat().st_size for path in files),
            "zipped_bytes": _zipped_size(root, files),
            "largest": _top_entries(root, files, top),
        }
    deployed = [
        artifacts[name] for name in ("ApiFunction", "DependenciesLayer") if name in artifacts
    ]
    return {
        "build_dir": str(build_dir),
        "artifacts": artifacts,
        "api_function_with_layer_unzipped_bytes": sum(item["unzipped_bytes"] for item in deployed),
        "unzipped_limit_bytes": UNZIPPED_LIMIT_BYTES,
        "direct_upload_zip_limit_bytes": DIRECT_UPLOAD_ZIP_LIMIT_BYTES,
    }
