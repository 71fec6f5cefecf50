"""Checkpoint format: round trips, safe loading, and one clear error per kind of bad file."""
from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import pytest
import torch

from blender_p2m.errors import P2MError
from blender_p2m.model import Pixel2Mesh, get_config
from blender_p2m.model.checkpoint import FORMAT, atomic_save, checkpoint_dict, load_checkpoint, read_checkpoint


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(3)
    return Pixel2Mesh(get_config("tiny")).eval()


@pytest.fixture(scope="module")
def example_input():
    g = torch.Generator().manual_seed(5)
    images = torch.rand(2, 3, 64, 64, generator=g)
    intrinsics = torch.tensor([[71.0, 71.0, 32.0, 32.0], [60.0, 66.0, 30.0, 33.5]])
    return images, intrinsics


def run(model, example_input):
    with torch.no_grad():
        return model(*example_input)[-1].vertices


def assert_clear_error(excinfo, path: Path) -> str:
    """One P2MError that names the file, without a chained traceback or torch's advice."""
    message = str(excinfo.value)
    assert str(path) in message
    error = excinfo.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    assert "weights_only` set to `False`" not in message and "weights_only=False" not in message
    assert len(message) < 400
    return message


def test_round_trip_float32(tmp_path, tiny_model, example_input):
    path = tmp_path / "model.pt"
    atomic_save(checkpoint_dict(tiny_model, metadata={"note": "hello", "step": 12}), path)
    model, metadata = load_checkpoint(path)
    assert metadata == {"note": "hello", "step": 12}
    assert model.config == tiny_model.config
    assert not model.training
    state, original = model.state_dict(), tiny_model.state_dict()
    assert state.keys() == original.keys()
    assert all(torch.equal(state[k], original[k]) for k in state)
    assert torch.equal(run(model, example_input), run(tiny_model, example_input))


def test_round_trip_half_precision(tmp_path, tiny_model, example_input):
    full, half = tmp_path / "full.pt", tmp_path / "half.pt"
    atomic_save(checkpoint_dict(tiny_model), full)
    atomic_save(checkpoint_dict(tiny_model, half=True), half)
    raw = torch.load(half, weights_only=True)
    floats = [t for t in raw["state_dict"].values() if t.is_floating_point()]
    assert floats and all(t.dtype == torch.float16 for t in floats)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    model, _ = load_checkpoint(half)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    expected, got = run(tiny_model, example_input), run(model, example_input)
    assert not torch.equal(expected, got)          # really rounded...
    torch.testing.assert_close(got, expected, rtol=0, atol=2e-3)   # ...but the mesh is the same


def test_atomic_save_replaces_without_leftovers(tmp_path, tiny_model):
    path = tmp_path / "sub" / "model.pt"
    atomic_save({"format": "old"}, path)
    atomic_save(checkpoint_dict(tiny_model), path)
    assert read_checkpoint(path)["format"] == FORMAT
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]


class _Evil:
    """Unpickling this calls open(marker, "w"), which creates the marker file."""

    marker: str = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_checkpoints_with_the_encoders_older_block_names_load_unchanged(tmp_path, tiny_model, example_input):
    """Checkpoints written before the VGG blocks were renamed (encoder.stages.N -> encoder.
    conv_blocks.N), such as the compact weights bundled until the Lite0 release, load to the
    same network."""
    ckpt = checkpoint_dict(tiny_model)
    ckpt["state_dict"] = {k.replace("encoder.conv_blocks.", "encoder.stages."): v for k, v in ckpt["state_dict"].items()}
    assert sum(k.startswith("encoder.stages.") for k in ckpt["state_dict"]) > 10
    atomic_save(ckpt, tmp_path / "older.pt")
    model, _ = load_checkpoint(tmp_path / "older.pt")
    assert model.state_dict().keys() == tiny_model.state_dict().keys()
    assert torch.equal(run(model, example_input), run(tiny_model, example_input))


@pytest.mark.parametrize("wrapping", ["torch.save", "inside a checkpoint", "raw pickle"])
def test_code_in_a_pickle_is_never_run(tmp_path, tiny_model, wrapping):
    marker = tmp_path / "pwned"
    evil = _Evil()
    evil.marker = str(marker)
    path = tmp_path / "evil.pt"
    if wrapping == "torch.save":
        torch.save({"format": FORMAT, "payload": evil}, path)
    elif wrapping == "inside a checkpoint":
        ckpt = checkpoint_dict(tiny_model)
        ckpt["metadata"]["innocent"] = evil
        torch.save(ckpt, path)
    else:
        path.write_bytes(pickle.dumps(evil))
    # The payload works (so the test means something): plain unpickling would run it.
    if wrapping == "raw pickle":
        pickle.loads(path.read_bytes()).close()
        assert marker.exists()
        marker.unlink()
    with pytest.raises(P2MError) as excinfo:
        load_checkpoint(path)
    assert not marker.exists()
    message = assert_clear_error(excinfo, path)
    if wrapping != "raw pickle":
        assert "could run code" in message and "io.open" in message


def _write_bad_file(tmp_path: Path, kind: str, tiny_model) -> Path:
    path = tmp_path / f"{kind.replace(' ', '_')}.pt"
    good = io.BytesIO()
    torch.save(checkpoint_dict(tiny_model), good)
    data = good.getvalue()
    if kind == "missing":
        return path
    if kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind.startswith("truncated"):
        fraction = {"truncated start": 0.01, "truncated middle": 0.5, "truncated end": 0.999}[kind]
        path.write_bytes(data[:int(len(data) * fraction)])
    elif kind == "random bytes":
        path.write_bytes(os.urandom(4096))
    elif kind == "text":
        path.write_text("this is not a checkpoint\n")
    elif kind == "plain pickle":
        path.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    elif kind == "a tensor":
        torch.save(torch.ones(3), path)
    elif kind == "a state dict only":
        torch.save(tiny_model.state_dict(), path)
    elif kind == "another format":
        torch.save({"format": "someone-else", "state_dict": tiny_model.state_dict()}, path)
    elif kind == "newer version":
        ckpt = checkpoint_dict(tiny_model)
        ckpt["format_version"] = 99
        torch.save(ckpt, path)
    elif kind == "no weights":
        ckpt = checkpoint_dict(tiny_model)
        del ckpt["state_dict"]
        torch.save(ckpt, path)
    elif kind == "bad configuration":
        ckpt = checkpoint_dict(tiny_model)
        ckpt["config"]["colour"] = "blue"
        torch.save(ckpt, path)
    elif kind == "other configuration":
        ckpt = checkpoint_dict(tiny_model)
        ckpt["config"] = get_config("compact").to_dict()      # tiny weights, compact network
        torch.save(ckpt, path)
    elif kind == "missing weight":
        ckpt = checkpoint_dict(tiny_model)
        ckpt["state_dict"].pop(next(iter(ckpt["state_dict"])))
        torch.save(ckpt, path)
    else:
        raise AssertionError(kind)
    return path


BAD_FILES = {
    "missing": "not found", "folder": "folder", "empty": "empty",
    "truncated start": "truncated or corrupted", "truncated middle": "truncated or corrupted",
    "truncated end": "truncated or corrupted", "random bytes": "not a blender-p2m checkpoint",
    "text": "not a blender-p2m checkpoint", "plain pickle": "not a blender-p2m checkpoint",
    "a tensor": "not a blender-p2m checkpoint", "a state dict only": "not a blender-p2m checkpoint",
    "another format": "not a blender-p2m checkpoint", "newer version": "format version 99",
    "no weights": "damaged", "bad configuration": "invalid model configuration",
    "other configuration": "does not match its configuration 'compact'",
    "missing weight": "does not match",
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_file_gives_one_clear_error_naming_it(tmp_path, tiny_model, kind):
    path = _write_bad_file(tmp_path, kind, tiny_model)
    with pytest.raises(P2MError) as excinfo:
        load_checkpoint(path)
    message = assert_clear_error(excinfo, path)
    assert BAD_FILES[kind] in message
