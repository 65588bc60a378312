#!/usr/bin/env python3
"""Export the models of mora's models.yaml to ONNX: <models_dir>/<id>/{model.onnx[, model.onnx.data],
tokenizer.json, manifest.json}.

    python scripts/export_models.py [--config models.yaml] [--models ID,..]
        [--suite default|optional|all] [--force] [--downloads DIR] [--offline] [--list]
        [--slim-cache DIR] [--mora PATH]

The exporter is the package scripts/mora_export/ (its __init__.py lists the modules); this file is its
entry point, so it runs with any Python that has the packages a model needs, without installing anything.
models.yaml is checked by mora (`mora models --check`): build it first (`cargo build --release`).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

from mora_export.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
