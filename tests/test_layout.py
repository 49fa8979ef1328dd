"""The package's shape, checked so it stays as designed: short functions, a public step object."""

import ast
from pathlib import Path

import learnsim

SOURCE = Path(learnsim.__file__).parent
LIMIT = 80


def test_no_function_is_longer_than_80_lines_without_saying_why():
    long = []
    for path in SOURCE.rglob("*.py"):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = node.end_lineno - node.lineno + 1
            body_start = node.body[0].lineno - 1
            explained = any(
                "longer than 80 lines because" in line for line in lines[node.lineno : body_start + 3]
            )
            if length > LIMIT and not explained:
                long.append(f"{path.relative_to(SOURCE)}:{node.lineno} {node.name} ({length} lines)")
    assert long == []


def test_the_simulation_step_is_public_and_nothing_reaches_into_private_model_fields():
    reaches = []
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in ("model", "schema", "run", "data", "step"):
                    reaches.append(f"{path.relative_to(SOURCE)}:{node.lineno} {ast.unparse(node)}")
    assert reaches == []


def test_every_public_name_loads_and_import_learnsim_is_light():
    import subprocess
    import sys

    for name in learnsim.__all__:
        assert getattr(learnsim, name) is not None, name
    probe = "import sys, learnsim; print('torch' in sys.modules, 'numpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_the_run_directory_layout_is_spelled_only_by_its_owner():
    """Every file name of a run directory lives in ``learnsim.rundir``; everything else asks ``RunDir``."""
    from learnsim.rundir import RunDir

    names = set(RunDir.entries().values())
    assert {"config.yaml", "dataset.json", "metrics.jsonl", "report.json", "checkpoints"} <= names
    assert RunDir("r").config == Path("r") / "config.yaml"
    spelled = []
    for path in SOURCE.rglob("*.py"):
        if path.name == "rundir.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):  # a path joined with a run's file
                if isinstance(node.right, ast.Constant) and node.right.value in names:
                    spelled.append(f"{path.relative_to(SOURCE)}:{node.lineno} {ast.unparse(node)}")
    assert spelled == []
