"""Unit tests of the exporter package's seams: the source-kind registry, ExportContext and the typed
models.yaml entries. No torch, no network, no export.

    .venv/bin/python -m unittest discover -s scripts/tests -v
"""

from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys
import unittest
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO_CONFIG = HERE.parent.parent / "models.yaml"

sys.path.insert(0, str(HERE.parent))
from mora_export.config import Config, ModelEntry, load_config, validate_config  # noqa: E402
from mora_export.context import ExportContext  # noqa: E402
from mora_export.errors import ConfigError  # noqa: E402
from mora_export.recipe import recipe_sha256  # noqa: E402
from mora_export.sources import SOURCE_KINDS, SourceKind, handler_for, register  # noqa: E402

KNOWN = ["onnx-file", "transformers", "diffusers", "hub", "local"]

GOOD: dict[str, Any] = {"schema": 1, "models_dir": "m", "models": [
    {"id": "x", "weights": "real", "source": {"kind": "onnx-file", "package": "p==1", "file": "f"}}]}


def config_with(**source: object) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    doc["models"][0]["source"] = dict(source)
    return doc


class RegistryTest(unittest.TestCase):
    def test_the_known_kinds_in_order(self):
        self.assertEqual(list(SOURCE_KINDS), KNOWN)
        for kind, handler in SOURCE_KINDS.items():
            self.assertIsInstance(handler, SourceKind)
            self.assertEqual(handler.kind, kind)

    def test_every_kind_in_models_yaml_has_a_handler(self):
        if not REPO_CONFIG.is_file():
            self.skipTest("no models.yaml at the repository root")
        doc = load_config(REPO_CONFIG)
        kinds = {m["source"]["kind"] for m in doc["models"]}
        self.assertTrue(kinds)
        self.assertLessEqual(kinds, set(SOURCE_KINDS), "a source kind of models.yaml has no handler")
        for m in doc["models"]:
            with self.subTest(model=m["id"]):
                self.assertEqual(handler_for(m["source"]["kind"], m["id"]).kind, m["source"]["kind"])

    def test_an_unknown_kind_names_the_model_and_the_known_kinds(self):
        with self.assertRaises(ConfigError) as cm:
            handler_for("torrent", "tiny")
        msg = str(cm.exception)
        self.assertIn("model 'tiny'", msg)
        self.assertIn("unknown source kind 'torrent'", msg)
        self.assertIn("(known: " + ", ".join(KNOWN) + ")", msg)

    def test_an_unknown_kind_in_models_yaml_is_a_config_error(self):
        with self.assertRaises(ConfigError) as cm:
            validate_config(config_with(kind="torrent"), Path("models.yaml"))
        self.assertEqual(str(cm.exception), "models.yaml: model 'x': unknown source kind 'torrent' "
                                            "(known: onnx-file, transformers, diffusers, hub, local)")

    def test_a_missing_or_odd_kind_is_a_config_error_not_a_crash(self):
        for kind in (None, ["onnx-file"], {"a": 1}, 3):
            with self.subTest(kind=kind), self.assertRaisesRegex(ConfigError, "model 'x': unknown source kind"):
                validate_config(config_with(kind=kind), Path("models.yaml"))

    def test_each_kind_checks_its_own_keys(self):
        cases = [
            (dict(kind="onnx-file", package="p", file="f"), r"source \(onnx-file\): `package` must be a pinned"),
            (dict(kind="transformers", architecture="t5", pretrained="a/b"), r"unknown architecture 't5'"),
            (dict(kind="transformers", architecture="bert", pretrained="a/b", gguf_file="g"),
             r"`weights_dir` / `gguf_file` need `weights_package`"),
            (dict(kind="diffusers", component="unet"), r"model 'x': a diffusers model needs `inputs`"),
            (dict(kind="diffusers", component="vae"), r"unknown component 'vae'"),
        ]
        for source, pattern in cases:
            with self.subTest(source=source), self.assertRaisesRegex(ConfigError, pattern):
                validate_config(config_with(**source), Path("models.yaml"))
        validate_config(config_with(kind="hub", repo="a/b"), Path("models.yaml"))
        validate_config(config_with(kind="local", path="m.onnx"), Path("models.yaml"))

    def test_hub_and_local_export_nothing(self):
        self.assertEqual([k for k, h in SOURCE_KINDS.items() if not h.exports], ["hub", "local"])
        for kind in ("onnx-file", "transformers", "diffusers"):
            self.assertIsNot(type(SOURCE_KINDS[kind]).export, SourceKind.export, kind)

    def test_register_adds_a_kind_once(self):
        @register
        class Fake(SourceKind):
            kind = "fake-test-kind"

        try:
            self.assertIsInstance(handler_for("fake-test-kind", "x"), Fake)
            with self.assertRaisesRegex(RuntimeError, "registered twice"):
                register(Fake)
        finally:
            del SOURCE_KINDS["fake-test-kind"]

    def test_labels_of_the_exporting_line(self):
        entry = ModelEntry.from_mapping({"id": "a", "weights": "random", "source": {
            "kind": "transformers", "architecture": "bert", "pretrained": "x/y"}})
        self.assertEqual(handler_for("transformers", "a").label(entry.source), "transformers, bert")
        entry = ModelEntry.from_mapping(config_with(kind="onnx-file", package="p==1", file="f")["models"][0])
        self.assertEqual(handler_for("onnx-file", "x").label(entry.source), "onnx-file")

    def test_importing_the_package_imports_no_heavy_package(self):
        probe = ("import sys\n"
                 f"sys.path.insert(0, {str(HERE.parent)!r})\n"
                 "import mora_export.cli, mora_export.slim_cache\n"
                 "bad = [m for m in ('torch', 'transformers', 'diffusers', 'gguf', 'onnx', 'tokenizers', 'yaml')"
                 " if m in sys.modules]\n"
                 "assert not bad, bad\n")
        r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class ExportContextTest(unittest.TestCase):
    def ctx(self, **kw: object) -> ExportContext:
        return ExportContext(config_dir=Path("/somewhere"), offline=True, **kw)  # type: ignore[arg-type]

    def test_fields_cover_what_the_export_records(self):
        names = {f.name for f in dataclasses.fields(ExportContext)}
        self.assertEqual(names, {"config_dir", "offline", "defaults", "weights", "method", "notes", "used",
                                 "params", "seq_max", "vocab", "cleanup"})

    def test_starts_empty_with_onnx_used(self):
        c = self.ctx()
        self.assertEqual((c.weights, c.method, c.notes, c.params, c.seq_max, c.vocab, c.cleanup, c.defaults),
                         ("", "", [], 0, None, None, [], {}))
        self.assertEqual(c.used, {"onnx"})
        self.assertTrue(c.offline)
        self.assertEqual(c.config_dir, Path("/somewhere"))

    def test_two_contexts_share_nothing(self):
        a, b = self.ctx(), self.ctx()
        a.note("one")
        a.use("torch", "transformers")
        a.defaults["sequence_length"] = 8
        self.assertEqual(a.notes, ["one"])
        self.assertEqual(a.used, {"onnx", "torch", "transformers"})
        self.assertEqual((b.notes, b.used, b.defaults), ([], {"onnx"}, {}))

    def test_temp_dirs_are_removed(self):
        c = self.ctx()
        d1, d2 = c.temp_dir("mora-test-"), c.temp_dir("mora-test-")
        (d1 / "f").write_text("x")
        self.assertTrue(d1.is_dir() and d2.is_dir() and d1 != d2)
        self.assertEqual(c.cleanup, [d1, d2])
        d2.rmdir()  # one already gone is fine
        c.remove_temp_dirs()
        self.assertFalse(d1.exists() or d2.exists())


class TypedConfigTest(unittest.TestCase):
    def test_recipe_hashes_do_not_change(self):
        # computed with the single-file exporter before it became a package: a change here would
        # re-export every model that is already up to date
        tiny = {"id": "tiny", "type": "embedding", "weights": "real",
                "source": {"kind": "onnx-file", "package": "tiny-pkg==0.1.0", "file": "tiny_pkg/model.onnx"},
                "tokenizer": {"kind": "tokenizer-json", "package": "tiny-pkg==0.1.0", "file": "tiny_pkg/tokenizer.json"}}
        unet = {"id": "g", "weights": "random", "inputs": {"sample": [1, 4, 8, 8]},
                "source": {"kind": "diffusers", "component": "unet", "pretrained": "x/y",
                           "config": {"sample_size": 8, "block_out_channels": [32, 64]}}}
        self.assertEqual(recipe_sha256(tiny), "95acaa86910675a5348494eac16e963debbbc77a0657fa3320362fbeffbb4752")
        self.assertEqual(recipe_sha256(unet), "f35c35bfc188c1a55e9e78f68416352caf689021733ac0f6fac2d68490b6c61e")
        self.assertEqual(ModelEntry.from_mapping(tiny).recipe_sha256, recipe_sha256(tiny))

    def test_entries_of_models_yaml(self):
        if not REPO_CONFIG.is_file():
            self.skipTest("no models.yaml at the repository root")
        cfg = Config.load(REPO_CONFIG)
        doc = load_config(REPO_CONFIG)
        self.assertEqual([m.id for m in cfg.models], [m["id"] for m in doc["models"]])
        self.assertEqual(cfg.models_dir, REPO_CONFIG.resolve().parent / doc["models_dir"])
        for entry, raw in zip(cfg.models, doc["models"]):
            with self.subTest(model=entry.id):
                self.assertEqual(entry.raw, raw)
                self.assertEqual(entry.source.raw, raw["source"])
                self.assertEqual(entry.recipe_sha256, recipe_sha256(raw))
                self.assertEqual(entry.suite, raw.get("suite", "default"))
                self.assertEqual(entry.tokenizer is None, "tokenizer" not in raw)
        self.assertEqual([m.id for m in cfg.select(None, "default")],
                         [m["id"] for m in doc["models"] if m.get("suite", "default") == "default"])
        self.assertEqual([m.id for m in cfg.select("gpt2,minilm-l6", "default")], ["gpt2", "minilm-l6"])
        with self.assertRaisesRegex(ConfigError, "unknown model id"):
            cfg.select("nope", "all")


if __name__ == "__main__":
    unittest.main()
