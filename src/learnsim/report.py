"""``report.html``: one self-contained page about a run (config, dataset and lineage, metric tables, plots
embedded as data URIs) to send to a colleague. Needs no server and no file beside it."""

from __future__ import annotations

import base64
import datetime
import html
import importlib.util
import json
from pathlib import Path

import yaml

from learnsim.config_io import read_yaml_mapping
from learnsim.durable import read_json, write_text
from learnsim.errors import StoreError, TrainingError
from learnsim.rundir import RunDir
from learnsim.store.datasets import dataset_meta
from learnsim.track.console import rmse_features


def check_finished_run(run_dir: Path) -> None:
    """A clear error unless ``run_dir`` is a run directory whose training finished."""
    if not run_dir.is_dir():
        raise TrainingError(
            f"{run_dir}: no such run directory" if not run_dir.exists() else f"{run_dir}: not a directory"
        )
    if not RunDir(run_dir).config.is_file():
        raise TrainingError(f"{run_dir}: not a learnsim run directory (no config.yaml)")
    for path in (RunDir(run_dir).dataset, RunDir(run_dir).report):
        if not path.is_file():
            raise TrainingError(
                f"{run_dir}: the run has not finished (no {path.name}); resume it with learnsim train --resume"
            )


def ensure_plots(run_dir: str | Path) -> list[Path]:
    """The run's plots, made from its best checkpoint and exact dataset version when missing."""
    from learnsim.track import background

    background.wait()  # a run this process just trained may still be drawing them
    run_dir = Path(run_dir)
    existing = sorted(RunDir(run_dir).plots.glob("*.png")) if RunDir(run_dir).plots.is_dir() else []
    if existing or importlib.util.find_spec("matplotlib") is None:
        return existing
    from learnsim.data.splits import Split
    from learnsim.data.windows import WindowedData
    from learnsim.evaluate.plots import run_plots
    from learnsim.models.files import read_model
    from learnsim.store.datasets import load_dataset
    from learnsim.track.jsonl import MetricsFile
    from learnsim.train.config import load_run_config

    check_finished_run(run_dir)
    config = load_run_config(RunDir(run_dir).config)
    reference = read_json(RunDir(run_dir).dataset, "run lineage")
    report = read_json(RunDir(run_dir).report, "run report")
    dataset = load_dataset(reference["name"], reference["version"])
    data = WindowedData.build(dataset, config.model, Split.from_dict(reference["split"]))
    model = read_model(RunDir(run_dir).checkpoints / report["best_checkpoint"], "cpu")
    records = MetricsFile(RunDir(run_dir).metrics).read()
    return run_plots(run_dir, model, data, records, "test", config.training.eval_horizon)


def write_report(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    check_finished_run(run_dir)
    config = read_yaml_mapping(RunDir(run_dir).config, "the run's config")
    dataset = read_json(RunDir(run_dir).dataset, "run lineage")
    report = read_json(RunDir(run_dir).report, "run report")
    lineage = _dataset_lineage(dataset)
    plots = sorted(RunDir(run_dir).plots.glob("*.png")) if RunDir(run_dir).plots.is_dir() else []
    sections = [
        f"<h1>learnsim run <code>{_e(run_dir.name)}</code></h1>",
        f"<p class=meta>written {datetime.datetime.now():%Y-%m-%d %H:%M}; run directory <code>{_e(run_dir)}</code></p>",
        "<h2>Summary</h2>",
        _table(
            ["field", "value"],
            [
                ["model", f"{report['model']['name']}@{report['model']['version']}"],
                ["family", config["model"]["type"]],
                ["dataset", f"{dataset['name']}@{dataset['version']}"],
                [
                    "split",
                    f"by {dataset['split']['by']}: {len(dataset['split']['train'])} train / "
                    f"{len(dataset['split']['val'])} val / {len(dataset['split']['test'])} test segments",
                ],
                ["steps", report["steps"]],
                [
                    "best checkpoint",
                    f"{report['best_checkpoint']} ({report['selection']['metric']} = "
                    f"{_number(report['selection']['value'])})",
                ],
                ["stopped early", report["stopped_early"]],
                [
                    "training throughput",
                    f"{_number(report.get('train_sample_steps_per_second'))} samples x steps / s",
                ],
            ],
            "summary",
        ),
        "<h2>Metrics (physical units)</h2>",
        _feature_table(report.get("validation", {}), "val", "Validation, best checkpoint"),
        _feature_table(report.get("test", {}), "test", "Test, best checkpoint"),
        "<h2>Dataset and lineage</h2>",
        _table(["name", "version", "rows", "episodes", "dt (s)", "made from"], lineage, "lineage"),
        "<h2>Plots</h2>",
        *(
            f"<figure><img alt='{_e(p.stem)}' src='data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}'>"
            f"<figcaption>{_e(p.stem.replace('_', ' '))}</figcaption></figure>"
            for p in plots
        ),
        ""
        if plots
        else "<p>No plots: install the plots extra (matplotlib) and run <code>learnsim report</code> again.</p>",
        "<h2>Resolved configuration</h2>",
        f"<pre>{_e(yaml.safe_dump(config, sort_keys=False))}</pre>",
        f"<p class=meta>versions: {_e(json.dumps(report.get('versions', {})))}</p>",
    ]
    page = _PAGE.replace("{{title}}", _e(f"learnsim run {run_dir.name}")).replace(
        "{{body}}", "\n".join(sections)
    )
    return write_text(RunDir(run_dir).report_html, page)


def _dataset_lineage(dataset: dict) -> list[list]:
    rows, queue, seen = [], [(dataset["name"], dataset["version"])], set()
    while queue:
        name, version = queue.pop(0)
        if (name, version) in seen:
            continue
        seen.add((name, version))
        try:
            meta = dataset_meta(name, version)
        except StoreError:
            rows.append([name, version, "-", "-", "-", "(not in this store)"])
            continue
        sources = [(s["name"], s["version"]) for s in meta.get("lineage", [])]
        rows.append(
            [
                name,
                version,
                meta["rows"],
                meta["episodes"],
                meta["dt"],
                ", ".join(f"{n}@{v}" for n, v in sources) or meta.get("source", "-"),
            ]
        )
        queue.extend(sources)
    return rows


def _feature_table(metrics: dict, prefix: str, caption: str) -> str:
    if not metrics:
        return f"<p>{_e(caption)}: none.</p>"
    names = rmse_features(metrics, prefix)
    rows = [
        [n, _number(metrics.get(f"{prefix}/rmse/{n}")), _number(metrics.get(f"{prefix}/rollout_rmse/{n}"))]
        for n in names
    ]
    horizon = metrics.get(f"{prefix}/rollout_horizon")
    caption += f" (rollout horizon {horizon} steps)" if horizon else ""
    return _table(["feature", "one-step RMSE", "rollout RMSE"], rows, f"metrics-{prefix}", caption)


def _table(header: list[str], rows: list[list], css_id: str, caption: str | None = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    return f"<table id='{css_id}'>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _number(value) -> str:
    return f"{value:.5g}" if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def _e(value) -> str:
    return html.escape(str(value))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } caption { text-align: left; font-weight: 600; padding: .3em 0; }
th, td { border: 1px solid #ccc; padding: .3em .7em; text-align: left; } th { background: #f3f3f3; }
td:not(:first-child) { font-variant-numeric: tabular-nums; }
figure { margin: 1.5em 0; } img { max-width: 100%; border: 1px solid #eee; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 85%; } .meta { color: #666; font-size: 90%; }
</style></head>
<body>
{{body}}
<script>
// Lets automated checks (and curious people) see that every embedded image decoded.
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  document.body.dataset.images = images.length;
  document.body.dataset.imagesLoaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
});
</script>
</body></html>
"""
