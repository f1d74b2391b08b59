"""Stage q1_baseline (beyond the assignment): what a linear code of the same size explains (PCA).

For Lhid = q1.hidden and every q1.sweep.hidden, the held-out variance explained by that many principal components
of the training patches (pipeline.q1.pca), on the same split as the networks; written to
results/q1/baseline/pca.json. The report puts each network's heldout_r2 beside it.
"""

from __future__ import annotations

from pipeline.common import io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.errors import make_app, run
from pipeline.common.staging import outputs
from pipeline.q1.data import training_split
from pipeline.q1.params import PATCH_KEYS, SCHEMA
from pipeline.q1.pca import heldout_r2

PARAMS = (*PATCH_KEYS, "q1.hidden", "q1.sweep.hidden")

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


@app.command(help=HELP)
def main() -> None:
    """Held-out variance explained by the first Lhid principal components, for each Lhid of the study."""
    p = load(SCHEMA, PARAMS)
    split = training_split(p)
    components = sorted({p.q1.hidden, *p.q1.sweep.hidden})
    scores = heldout_r2(split.train.astype(float), split.held.astype(float), components)
    with outputs(paths.Q1_BASELINE_RESULTS):
        io.write_json(paths.Q1_BASELINE_RESULTS / "pca.json",
                      {"heldout_r2": {str(k): r2 for k, r2 in scores.items()}})
    print("q1_baseline: PCA held-out r2 " + ", ".join(f"{k} components {r2:.3f}" for k, r2 in scores.items()))


if __name__ == "__main__":
    run(app)
