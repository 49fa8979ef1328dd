"""Bundles: export, load with no store, import into a store, and a named error for every kind of damage."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile

import pytest
import torch

from learnsim.errors import FileCorruptError
from learnsim.export import export_model
from learnsim.store.models import list_models, load_model


def _rollout_equal(a, b) -> None:
    from learnsim.simulate import rollout

    L, n = a.config.sequence_length, a.step.n_inputs
    series = torch.linspace(-1, 1, 3 * (L + 50) * n).reshape(3, L + 50, n)
    with torch.no_grad():
        assert torch.equal(rollout(a, series[:, :L], series, 50)[1], rollout(b, series[:, :L], series, 50)[1])


def test_bundle_round_trip_without_a_store(stored_model, tmp_path, isolated_home, monkeypatch):
    model, meta = stored_model
    (path,) = export_model("arm", tmp_path / "arm.lsim")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
    assert names == {"manifest.json", "model.safetensors", "model.json", "meta.json"}
    assert manifest["format_version"] == 1 and set(manifest["members"]) == names - {"manifest.json"}
    monkeypatch.setenv("LEARNSIM_HOME", str(tmp_path / "elsewhere"))  # no store at all
    loaded = load_model(str(path))
    _rollout_equal(model, loaded)
    assert not (tmp_path / "elsewhere").exists()


def test_models_import_adds_the_same_version(stored_model, tmp_path, isolated_home, monkeypatch):
    from learnsim.store.models import import_bundle

    _, meta = stored_model
    (path,) = export_model(f"arm@{meta['version']}", tmp_path / "arm.lsim")
    monkeypatch.setenv("LEARNSIM_HOME", str(tmp_path / "other"))
    imported = import_bundle(path)
    assert (imported["name"], imported["version"]) == ("arm", meta["version"])
    assert imported["metrics"] == {"test/rollout_score": 0.5}
    assert imported["lineage"]["dataset"] == "arm" and "imported_from" in imported["lineage"]
    import_bundle(path)
    assert len(list_models()) == 1  # same content, same version


def _rewrite(path, change) -> None:
    """Rewrite the bundle's members through ``change(members: dict) -> dict``."""
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members = change(members)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _manifest(change):
    def apply(members):
        manifest = json.loads(members["manifest.json"])
        change(manifest)
        members["manifest.json"] = json.dumps(manifest).encode()
        return members

    return apply


def _edit_weights(members):
    data = bytearray(members["model.safetensors"])
    data[-1] ^= 0xFF
    members["model.safetensors"] = bytes(data)
    return members


def _consistent_but_wrong_weights(members):
    """Weights altered with the manifest updated to match: model.json's own checksum still catches it."""
    members = _edit_weights(members)
    manifest = json.loads(members["manifest.json"])
    data = members["model.safetensors"]
    manifest["members"]["model.safetensors"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    members["manifest.json"] = json.dumps(manifest).encode()
    return members


DAMAGE = {
    "format version": (_manifest(lambda m: m.update(format_version=99)), "format version 99"),
    "not a bundle": (_manifest(lambda m: m.update(format="zip")), "not a learnsim bundle"),
    "missing member": (
        lambda m: {k: v for k, v in m.items() if k != "meta.json"},
        "member 'meta.json' is missing",
    ),
    "missing manifest": (
        lambda m: {k: v for k, v in m.items() if k != "manifest.json"},
        "'manifest.json' is missing",
    ),
    "truncated member": (
        lambda m: m | {"model.safetensors": m["model.safetensors"][:100]},
        "'model.safetensors' has 100 bytes",
    ),
    "altered member": (_edit_weights, "'model.safetensors': checksum mismatch"),
    "altered with manifest": (_consistent_but_wrong_weights, "model.safetensors: checksum mismatch"),
    "bad json": (lambda m: m | {"manifest.json": b"{not json"}, "'manifest.json' is not valid JSON"),
    "member escaping": (lambda m: m | {"../../evil.txt": b"x"}, "unexpected member(s) ['../../evil.txt']"),
    "absolute member": (lambda m: m | {"/abs/evil.txt": b"x"}, "unexpected member(s) ['/abs/evil.txt']"),
    "extra member": (lambda m: m | {"notes.txt": b"x"}, "altered after export"),
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_bundles_name_the_member(stored_model, tmp_path, kind):
    (path,) = export_model("arm", tmp_path / "arm.lsim")
    change, message = DAMAGE[kind]
    _rewrite(path, change)
    with pytest.raises(FileCorruptError) as error:
        load_model(str(path))
    assert str(path) in str(error.value) and message in str(error.value)


def test_truncated_file_and_pickle(stored_model, tmp_path):
    (path,) = export_model("arm", tmp_path / "arm.lsim")
    cut = tmp_path / "cut.lsim"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(FileCorruptError, match="cut.lsim"):
        load_model(str(cut))
    evil = tmp_path / "evil.lsim"
    shutil.copy(path, evil)
    _rewrite(evil, lambda m: m | {"model.safetensors": b"\x80\x04\x95" + b"cos\nsystem\n" * 10})
    with pytest.raises(FileCorruptError, match="model.safetensors"):
        load_model(str(evil))


def test_export_errors_name_the_problem(stored_model, tmp_path):
    from learnsim.errors import ConfigError

    with pytest.raises(ConfigError, match="--format must be one of"):
        export_model("arm", tmp_path / "a.x", "tflite")
    with pytest.raises(ConfigError, match="is a directory"):
        export_model("arm", tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        export_model("arm", tmp_path / "no" / "a.lsim")
    with pytest.raises(ConfigError, match="--horizon applies to onnx and torchscript"):
        export_model("arm", tmp_path / "a.lsim", horizon=10)
    with pytest.raises(ConfigError, match="--horizon must be 1 to 10000 .* loop the step graph"):
        export_model("arm", tmp_path / "a.onnx", "onnx", horizon=1_000_000)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("a.")]  # nothing written
    data = tmp_path / "data.csv"  # a user's file is never replaced by an export of another kind
    data.write_text("t,x\n0,1\n")
    with pytest.raises(ConfigError, match="data.csv exists and is not a bundle file .* refusing to replace it"):
        export_model("arm", data)
    assert data.read_text() == "t,x\n0,1\n"
    export_model("arm", tmp_path / "b.lsim")
    export_model("arm", tmp_path / "b.lsim")  # an earlier export of the same kind is replaced


def test_cli_export_and_import(stored_model, tmp_path, isolated_home, monkeypatch):
    import os
    import subprocess
    import sys

    env = os.environ | {"LEARNSIM_HOME": str(isolated_home)}
    run = [sys.executable, "-m", "learnsim"]
    out = subprocess.run(
        [*run, "export", "arm", "-o", str(tmp_path / "arm.lsim")], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0 and "wrote" in out.stdout, out.stderr
    ts = subprocess.run(
        [*run, "export", "arm", "--format", "torchscript", "-o", str(tmp_path / "arm.pt"), "--horizon", "5"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert ts.returncode == 0 and (tmp_path / "arm.rollout5.pt").is_file(), ts.stderr
    env["LEARNSIM_HOME"] = str(tmp_path / "other")
    imported = subprocess.run(
        [*run, "models", "import", str(tmp_path / "arm.lsim"), "--name", "arm2"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0 and imported.stdout.startswith("imported arm2@"), imported.stderr
    bad = subprocess.run(
        [*run, "models", "import", str(tmp_path / "arm.pt")], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "arm.pt" in bad.stderr
