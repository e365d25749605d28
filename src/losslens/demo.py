"""``scripts/demo``: a synthetic run logged through the public API, then its summary."""

from __future__ import annotations

import math
import os
import random
import sys

import losslens
from losslens.render.runs import print_renderable, show_run
from losslens.store import Store


def main() -> int:
    store_dir = os.environ.get("LOSSLENS_HOME") or os.path.join(os.getcwd(), "out", "demo")
    os.environ["LOSSLENS_HOME"] = store_dir
    rng = random.Random(0)
    run = losslens.init(project="demo", name="synthetic", config={"lr": 2e-4, "max_steps": 100})
    for step in range(1, 101):
        lr = 2e-4 * 0.5 * (1 + math.cos(math.pi * step / 100))
        loss = 0.06 + 2.7 * math.exp(-step / 18) + rng.gauss(0, 0.02)
        run.log({"train/loss": loss, "train/learning_rate": lr, "train/grad_norm": 1.5}, step=step)
    run.finish()
    with Store(store_dir) as store:
        print_renderable(show_run(store.load(run.id)))
    print(f"\nstore: {store_dir}  (try: LOSSLENS_HOME={store_dir} losslens runs)")
    from losslens.analysis import analyze
    from losslens.render.html import write_report

    with Store(store_dir) as store:
        data = store.load(run.id)
    html = write_report(data, os.path.join(store_dir, "report.html"), analyze(data))
    print(f"report: {html}\ndashboard: losslens ui --store {store_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
