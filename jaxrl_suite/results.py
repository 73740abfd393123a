"""Results files that travel: paths in them are relative to the repository, never one machine's absolute path."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def portable_path(path: str | Path, root: Path = REPO) -> str:
    """``path`` relative to the repository when it lies inside it; otherwise only its name, marked as outside
    (a scratch folder on the machine that ran it says nothing to a reader elsewhere)."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return f"outside the repository: {resolved.name}"
