"""A tuning worker process: ``python -m learnsim.tune.worker URL WORKER`` with the search config as JSON on
standard input. A fresh interpreter (not a fork, not multiprocessing's spawn) so that neither torch's thread
pools nor the caller's ``__main__`` module are carried over; one torch thread, so that workers sharing a
machine do not spin against each other.
"""

from __future__ import annotations

import sys


def main() -> None:
    import torch

    from learnsim.errors import LearnsimError
    from learnsim.tune.config import SearchConfig
    from learnsim.tune.study import work

    url, worker = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(1)
    config = SearchConfig.model_validate_json(sys.stdin.read())
    try:
        work(config, url, worker)
    except LearnsimError as error:
        print(f"worker {worker}: {error}", file=sys.stderr, flush=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
