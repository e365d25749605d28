"""Write the Keras fixtures in ``other/keras/`` (see README.md).

Keras is not one of losslens' dependencies; run this with a Python that has ``keras`` 3 and
``torch`` and ``pandas`` (e.g. ``python -m venv /tmp/kv``, then
``/tmp/kv/bin/pip install keras torch pandas``):

    KERAS_BACKEND=torch /tmp/kv/bin/python tests/data/importers/make_keras.py
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "other" / "keras"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 16)).astype("float32")
    y = (x[:, :4].sum(1) > 0).astype("int32")
    model = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    log = OUT / "training.log"
    log.unlink(missing_ok=True)
    console = io.StringIO()
    histories = []
    with contextlib.redirect_stdout(console):
        # 8 epochs, then the run resumed for 4 more: CSVLogger(append=True) adds rows 8-11
        for first, last in ((0, 8), (8, 12)):
            h = model.fit(
                x[:384],
                y[:384],
                validation_data=(x[384:], y[384:]),
                initial_epoch=first,
                epochs=last,
                batch_size=32,
                verbose=2,
                callbacks=[
                    # first, so that its learning_rate is in the logs CSVLogger writes
                    keras.callbacks.ReduceLROnPlateau(patience=1, factor=0.5),
                    keras.callbacks.CSVLogger(str(log), append=first > 0),
                ],
            )
            histories.append(h.history)
    (OUT / "console.txt").write_text(console.getvalue())
    # the first fit's History, as scripts save it: json.dump and pandas' to_csv (with its index)
    with open(OUT / "history.json", "w") as f:
        json.dump(histories[0], f)
    pd.DataFrame(histories[0]).to_csv(OUT / "history.csv")


if __name__ == "__main__":
    main()
