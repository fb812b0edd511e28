"""Executes examples/tour.ipynb on the Atrium kernel with nbclient and prints every cell's outputs."""
import pathlib
import sys

import nbformat
from nbclient import NotebookClient

HERE = pathlib.Path(__file__).parent


def describe(output):
    kind = output["output_type"]
    if kind == "stream":
        return f"[{output['name']}] {output['text'].rstrip()}"
    if kind in ("execute_result", "display_data"):
        data = output["data"]
        rich = [mime for mime in data if mime != "text/plain"]
        suffix = f"   (also {', '.join(rich)})" if rich else ""
        return f"[{kind}] {data.get('text/plain', '').rstrip()}{suffix}"
    if kind == "error":
        return f"[error] {output['ename']}: {output['evalue']}"
    return f"[{kind}]"


def main():
    kernel = sys.argv[1] if len(sys.argv) > 1 else "atrium"
    notebook = nbformat.read(HERE / "tour.ipynb", as_version=4)
    NotebookClient(notebook, kernel_name=kernel, timeout=60).execute()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        print(f"In [{cell.execution_count}]: " + cell.source.replace("\n", "\n        "))
        for output in cell.outputs:
            print("   " + describe(output).replace("\n", "\n   "))
    print(f"\nAll {sum(c.cell_type == 'code' for c in notebook.cells)} code cells ran on kernel '{kernel}'.")


if __name__ == "__main__":
    main()
