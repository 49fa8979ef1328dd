"""``learnsim simulate``: free-run a stored model on recorded episodes of a stored dataset."""

from __future__ import annotations

import sys
from pathlib import Path

import typer


def simulate(
    model: str = typer.Argument(
        ...,
        help="Stored model NAME[@VERSION]; a bare NAME is its version marked best by a search, else the newest.",
    ),
    dataset: str = typer.Option(..., "--dataset", help="Stored dataset NAME[@VERSION] to simulate on."),
    episodes: str = typer.Option(None, "--episodes", help="Comma-separated episode ids (default: all)."),
    horizon: int = typer.Option(
        None, "--horizon", min=1, help="Max simulated steps per episode (default: all)."
    ),
    steps: int = typer.Option(None, "--steps", min=1, hidden=True, help="Deprecated name of --horizon."),
    plot: bool = typer.Option(False, "--plot", help="Also write one PNG per episode (needs matplotlib)."),
    out: Path = typer.Option(None, "--out", help="Output folder (default $LEARNSIM_HOME/simulations/...)."),
):
    """Free-run MODEL on recorded episodes: write predicted vs recorded trajectories (Parquet) and plots."""
    from rich.console import Console

    from learnsim.evaluate.recorded import simulate_recorded
    from learnsim.store.models import pinned

    model, line = pinned(model)
    print(line)
    if steps is not None:
        print("warning: --steps is deprecated; use --horizon", file=sys.stderr)
        horizon = horizon or steps
    console = Console()
    path = simulate_recorded(model, dataset, _episode_list(episodes), horizon, plot, out, console)
    console.print(f"wrote {path}")


def _episode_list(text: str | None) -> list[int] | None:
    if text is None:
        return None
    from learnsim.errors import ConfigError

    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--episodes must be comma-separated integers, got '{text}'") from None
