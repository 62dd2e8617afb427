"""Run the notebooks in place (outputs kept, so plots from a real run are committed).

    python -m training.notebooks notebooks/01_data.ipynb notebooks/02_train.ipynb

Each notebook runs with its own folder as the working directory, in this interpreter's kernel.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def execute(path: Path, timeout: int = 1800) -> float:
    """Execute every cell of `path` and write the outputs back; returns the seconds taken."""
    import nbformat
    from nbclient import NotebookClient

    started = time.monotonic()
    notebook = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    client.execute()
    for cell in notebook.cells:
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if not _tensorflow_noise(o)]
    nbformat.write(notebook, path)  # type: ignore[no-untyped-call]
    return time.monotonic() - started


# TensorFlow's C++ start-up lines (absl logging writes them straight to fd 2).
_NOISE = ("WARNING: All log messages before absl", "I0000 ", "W0000 ", "E0000 ")


def _tensorflow_noise(output: dict[str, object]) -> bool:
    if output.get("output_type") != "stream" or output.get("name") != "stderr":
        return False
    lines = [line for line in str(output.get("text", "")).splitlines() if line.strip()]
    return all(line.startswith(_NOISE) for line in lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Execute notebooks in place, keeping outputs.")
    parser.add_argument("notebooks", type=Path, nargs="+")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        print(f"{path}: {execute(path, args.timeout):.0f} s")


if __name__ == "__main__":
    main()
