"""Predictor on photos: values, no-face handling, the reference cache, checkpoint loading."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from infer_frames import blank, shifted

from pain3d.facs import AU_NAMES
from pain3d.infer.predictor import Predictor


def test_photo_prediction_is_finite_and_in_range(predictor, photo):
    p = predictor.predict(photo, reference=shifted(photo, 5, 3))
    assert p.ok and p.flags == []
    assert 0 <= p.pspi <= 16 and 0 <= p.pain_prob <= 1
    assert p.au.shape == (6,) and np.all(np.isfinite(p.au))
    row = p.as_row()
    assert list(AU_NAMES) == [k for k in row if k.startswith("AU")]


def test_prediction_equals_the_model_on_the_aligned_crops(predictor, tiny_model, photo):
    ref = shifted(photo, 5, 3)
    p = predictor.predict(photo, reference=ref)
    q = predictor.align(photo).crop
    r = predictor.align(ref).crop
    with torch.inference_mode():
        out = tiny_model(predictor.to_tensor([q]), neutral=predictor.to_tensor([r]))
    assert p.pspi == pytest.approx(float(out.pspi[0]), abs=1e-4)
    assert np.allclose(p.au, out.au[0].numpy(), atol=1e-4)


def test_image_without_face_gives_nan_and_a_flag(predictor, photo):
    p = predictor.predict(blank(), reference=photo)
    assert not p.ok and p.flags == ["no_face"]
    assert np.isnan(p.pspi) and np.all(np.isnan(p.au)) and np.all(np.isnan(p.box))


def test_reference_without_face_is_an_error_naming_the_problem(predictor, photo):
    with pytest.raises(ValueError, match="no usable face"):
        predictor.predict(photo, reference=blank())


def test_shared_reference_is_encoded_once(predictor, photo, monkeypatch):
    calls = []
    original = predictor.model.encode_reference
    monkeypatch.setattr(predictor.model, "encode_reference",
                        lambda x: calls.append(x.shape) or original(x))
    ref = shifted(photo, 2, 2)
    a = predictor.predict(photo, reference=ref)
    b = predictor.predict(shifted(photo, -3, 1), reference=ref)
    assert len(calls) == 1 and a.ok and b.ok


def test_multi_shot_reference_averages_over_references(predictor, photo):
    refs = [shifted(photo, 4, 0), shifted(photo, 0, 4)]
    p = predictor.predict(photo, reference=refs)
    singles = [predictor.predict(photo, reference=r).pspi for r in refs]
    assert p.pspi == pytest.approx(np.mean(singles), abs=1e-4)


@pytest.mark.parametrize("run_folder", [False, True])
def test_from_checkpoint_reproduces_the_model(checkpoint, predictor, photo, run_folder):
    # a run folder holding model/ is accepted as well as the model folder itself
    loaded = Predictor.from_checkpoint(checkpoint.parent if run_folder else checkpoint)
    try:
        ref = shifted(photo, 5, 3)
        assert loaded.predict(photo, reference=ref).pspi == pytest.approx(
            predictor.predict(photo, reference=ref).pspi, abs=1e-5)
    finally:
        loaded.close()


def test_checkpoints_run_the_fused_forward_on_cpu_unless_told_not_to(checkpoint, photo):
    from pain3d.infer.predictor import PredictConfig
    from pain3d.model.fused import FusedDINOv3

    fused = Predictor.from_checkpoint(checkpoint)
    eager = Predictor.from_checkpoint(checkpoint, PredictConfig(fuse=False))
    try:
        assert isinstance(fused.model.encoder.fused, FusedDINOv3)
        assert eager.model.encoder.fused is None
        ref = shifted(photo, 5, 3)
        a, b = fused.predict(photo, reference=ref), eager.predict(photo, reference=ref)
        assert a.pspi == pytest.approx(b.pspi, abs=1e-5)
        assert np.allclose(a.au, b.au, atol=1e-5)
    finally:
        fused.close()
        eager.close()


def test_missing_checkpoint_says_how_to_get_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="pain3d"):
        Predictor.from_checkpoint(tmp_path / "nope")
