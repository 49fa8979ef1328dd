"""The README and the getting-started page run as printed, in order, on a fresh store; the documentation site
builds with ``mkdocs build --strict``.

Each ``bash`` and ``python`` block runs in one working directory and one LEARNSIM_HOME, as a reader would type
them. Only the install and test commands of the README's first block are left out: ``.ci/run`` runs exactly
those (`pip install torch==2.13.0`, `pip install -e ".[test]"`, `python -m pytest -q`) on a fresh clone.
``text`` blocks are shown, not run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```", re.S | re.M)
SET_UP = re.compile(r"^(pip install \S+( -e)? ?\S*|python -m pytest -q)$")


def blocks(path: Path) -> list[tuple[str, str]]:
    """(language, code) of every runnable block, the README's install and test commands left out."""
    found = []
    for language, code in BLOCK.findall(path.read_text()):
        if language == "bash":
            lines = []
            for line in code.splitlines():
                command = line.split("  #")[0].strip()
                parts = [p.strip() for p in command.split("&&")]
                kept = [p for p in parts if not SET_UP.match(p)]
                if kept != parts and not kept:
                    continue
                lines.append(" && ".join(kept) if kept != parts else line)
            code = "\n".join(lines) + "\n"
        found.append((language, code))
    return found


def run_blocks(path: Path, work: Path, home: Path) -> list[str]:
    """Run the blocks of ``path`` in order; their outputs (each block's stdout)."""
    env = {
        **os.environ,
        "LEARNSIM_HOME": str(home),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    outputs = []
    for language, code in blocks(path):
        argv = (
            ["bash", "-e", "-o", "pipefail", "-c", code]
            if language == "bash"
            else [sys.executable, "-c", code]
        )
        done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (
            f"{path.name}, block:\n{code}\nstdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
        )
        outputs.append(done.stdout)
    return outputs


@pytest.fixture(scope="module")
def readme(tmp_path_factory):
    work, home = tmp_path_factory.mktemp("readme"), tmp_path_factory.mktemp("home")
    return {"outputs": run_blocks(ROOT / "README.md", work, home), "work": work, "home": home}


def test_the_readme_runs_as_printed(readme):
    quickstart, tour, cli = readme["outputs"]
    assert "report with plots:" in quickstart
    assert "torch.Size([4," in tour and "position" in tour  # the free run and its long table
    assert "used column 'time' as the time axis" in cli and "saved bench@" in cli
    assert "model: bench-mlp -> bench-mlp@" in cli and "wrote bench.lsim" in cli
    assert (readme["work"] / "bench.lsim").is_file() and (readme["work"] / "recording.csv").is_file()


def test_the_main_job_trains_the_default_recipe_and_says_what_it_means(readme):
    """The README's main job at its default budget. The free run over whole held-out test episodes is well
    below the linear model's and holding the last state's (0.038 against 0.42 and 1.10 when written)."""
    quickstart = readme["outputs"][0]
    (run_dir,) = (readme["home"] / "runs").glob("quickstart-*")
    assert f"run directory: {run_dir}" in quickstart and "quickstart@" in quickstart
    page = run_dir / "report.html"
    assert f"report with plots: {page}" in quickstart and "learnsim ui" in quickstart
    assert page.read_text().count("<img") >= 4  # the plots are in the main job's report
    report = json.loads((run_dir / "report.json").read_text())
    test = report["test"]
    assert test["test/rollout_horizon"] >= 400  # ~4 s of free run per test episode
    assert report["warnings"] == []  # it simulates: nothing to say loudly
    assert test["test/nrmse@full"] < 0.25 * test["test/linear/nrmse@full"] < test["test/hold/nrmse@full"]
    # the default recipe: the config named only the dataset and the features, and the step budget
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["training"]["training_iters"] == 2000 and config["model"]["activation"] == "silu_relu"
    assert config["training"]["rollout"]["weighting"] == "balanced" and config["model"]["linear_skip"] is True
    assert f"nRMSE {test['test/nrmse@full']:.3g} (RMSE / the recording's spread" in quickstart
    assert f"the linear model {test['test/linear/nrmse@full']:.3g}" in quickstart
    # and how the test number is made of its episodes: the hardest one dominates a mean over 7
    spread = re.search(
        r"Over the (\d+) test episodes one at a time: median (\S+), the hardest \(episode (\d+)\) (\S+);",
        quickstart,
    )
    count, median, hardest = int(spread[1]), float(spread[2]), float(spread[4].rstrip(";"))
    assert count == len(json.loads((run_dir / "dataset.json").read_text())["split"]["test"])
    assert 0 < median <= hardest
    assert (
        f"the validation episodes scored {report['validation']['val/nrmse@full']:.3g} together" in quickstart
    )


def test_the_getting_started_page_runs_as_printed(tmp_path):
    (tmp_path / "work").mkdir()
    outputs = run_blocks(ROOT / "docs" / "getting-started.md", tmp_path / "work", tmp_path / "home")
    text = "".join(outputs)
    assert "saved my_arm@" in text and "model: my_arm -> my_arm@" in text and "hold last state" in text
    assert (tmp_path / "work" / "my_arm.lsim").is_file()


def test_blocks_leave_out_only_the_set_up_commands():
    first = blocks(ROOT / "README.md")[0][1]
    assert first.strip() == "learnsim quickstart"
    assert blocks(ROOT / "README.md")[2][1].splitlines()[0].startswith("learnsim data import recording.csv")


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) < 150


@pytest.mark.skipif(
    shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None, reason="no mkdocs (docs extra)"
)
def test_the_documentation_site_builds_strictly(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    done = subprocess.run([mkdocs, "build", "--strict", "-d", str(tmp_path / "site")], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()
    assert "learnsim evaluate [OPTIONS]" in cli and "--dataset" in cli  # generated from the app
    api = (tmp_path / "site" / "reference" / "api" / "index.html").read_text()
    assert "train_model" in api and "free run" in api.lower()


def test_what_a_new_user_needs_comes_with_the_plain_install_and_the_docs_name_the_benchmark_file():
    """The README's tour calls to_dataframe (pandas) and quickstart points to learnsim ui (starlette,
    uvicorn): both are core dependencies, not extras. The Silverbox file is named with its checksum."""
    import re as regex
    from importlib.metadata import requires

    from learnsim.protocols.silverbox import SHA256

    core = {regex.split(r"[<>=\[; ]", r)[0].lower() for r in requires("learnsim") if "extra ==" not in r}
    assert {"pandas", "starlette", "uvicorn", "matplotlib", "torch"} <= core
    benchmarks = (ROOT / "docs" / "benchmarks.md").read_text()
    assert SHA256 in benchmarks and "SNLS80mV.csv" in benchmarks and "nonlinearbenchmark.org" in benchmarks
