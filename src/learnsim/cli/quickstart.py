"""``learnsim quickstart``: the whole job on built-in example data."""

from __future__ import annotations

from pathlib import Path

import typer


def quickstart(
    training_iters: int = typer.Option(2000, min=1, help="Training steps."),
    run_dir: Path = typer.Option(None, "--run-dir", help="Where to write the run."),
):
    """Generate the example oscillator, train it with the default recipe, free-run the held-out test
    episodes, print what the numbers mean and write the run's HTML report with plots."""
    from learnsim.quickstart import quickstart as run_quickstart
    from learnsim.quickstart import test_episode_scores
    from learnsim.report import write_report

    result = run_quickstart(training_iters, run_dir)
    page = write_report(result.run_dir)
    print(meaning(result.report["test"], result.report["validation"], test_episode_scores(result)))
    # plain lines: people copy the path and the command from them
    print(f"report with plots: {page}")
    print(
        f"look around (lineage, runs, data, simulate): learnsim ui   then open http://127.0.0.1:8765/runs/{result.run_dir.name}"
    )


def meaning(test: dict, validation: dict, episodes: dict[int, float]) -> str:
    """What the test numbers say, in a few sentences: the test and validation metrics of a run, and the
    whole-episode nRMSE of each test episode."""
    full = test.get("test/nrmse@full")
    if full is None:
        return "no test split: the run was not tested"
    hold, linear = test.get("test/hold/nrmse@full"), test.get("test/linear/nrmse@full")
    against = [
        f"{name} {value:.3g}"
        for name, value in (("the linear model", linear), ("holding the last state", hold))
        if value is not None
    ]
    return (
        f"Free run over whole held-out test episodes, from their first recorded rows on, driven only by the recorded "
        f"control input: nRMSE {full:.3g} (RMSE / the recording's spread; 0 is perfect, 1 is as far off as the signal "
        f"varies) against {' and '.join(against)}. The table above gives the same runs in physical units; "
        f"a one-step error is far smaller than a free run's, which is what a simulator is judged by."
        + _spread(full, validation.get("val/nrmse@full"), episodes)
    )


def _spread(full: float, validation: float | None, episodes: dict[int, float]) -> str:
    """One sentence on how the test number is made of its episodes (and why it may exceed validation's)."""
    if not episodes:
        return ""
    import statistics

    hardest = max(episodes, key=episodes.get)
    text = (
        f" Over the {len(episodes)} test episodes one at a time: median {statistics.median(episodes.values()):.3g}, "
        f"the hardest (episode {hardest}) {episodes[hardest]:.3g}"
    )
    if validation is not None:
        text += f"; the validation episodes scored {validation:.3g} together"
    return text + "."
