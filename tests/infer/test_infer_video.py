"""Videos and folders end to end: CSV rows and columns, flags, reference choice, CLI."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
from infer_frames import blank, face_photo, shifted

from pain3d.cli import main
from pain3d.infer.predictor import predict_video
from pain3d.infer.video import FRAME_COLUMNS


def test_video_gives_one_row_per_frame_with_flags_for_missing_faces(predictor, video_path):
    res = predict_video(predictor, video_path)
    df = res.frames
    assert list(df.columns) == list(FRAME_COLUMNS) and len(df) == 12
    assert df["frame"].tolist() == list(range(12))
    assert np.allclose(df["time_s"], np.arange(12) / 4.0)
    no_face = df["flags"].str.contains("no_face")
    assert no_face.tolist() == [False] * 6 + [True, True] + [False] * 4
    assert df.loc[no_face, ["pspi", "pain_prob", "AU4", "x0"]].isna().all().all()
    assert df.loc[~no_face, "pspi"].between(0, 16).all()
    assert df.loc[[8, 9], "flags"].str.contains("multiple_faces").all()
    # the largest face of the two-face frames sits in the left half
    assert ((df.loc[[8, 9], "x0"] + df.loc[[8, 9], "x1"]) / 2 < 256).all()
    # references: k=3 face frames from the opening 3 s, nothing from the no-face frames
    assert len(res.reference_frames) == 3
    assert all(df.loc[i, "time_s"] <= 3.0 and not no_face[i] for i in res.reference_frames)
    assert df["is_reference"].sum() == 3


def test_video_without_any_face_is_all_empty_rows(predictor, tmp_path):
    from pain3d.infer.video import write_video

    path = write_video(tmp_path / "empty.avi", [blank()] * 5, fps=5.0)
    res = predict_video(predictor, path)
    assert len(res.frames) == 5 and res.frames["pspi"].isna().all()
    assert res.reference_frames == []


def test_cli_video_writes_csv_timeline_and_summary(checkpoint, video_path, tmp_path):
    out = tmp_path / "clip_pain"
    rc = main(["predict", str(video_path), "--checkpoint", str(checkpoint), "--out", str(out),
               "--select", "track", "--n-references", "2"])
    assert rc == 0
    df = pd.read_csv(out / "frames.csv", keep_default_na=False, na_values=[""])
    assert list(df.columns) == list(FRAME_COLUMNS) and len(df) == 12
    assert df["pspi"].isna().sum() == 2
    png = cv2.imread(str(out / "timeline.png"))
    assert png is not None and png.shape[1] > 500
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 12 and summary["frames_with_prediction"] == 10
    assert len(summary["reference_frames"]) == 2
    assert (out / "predict.yaml").read_text().count("select: track") == 1


def test_cli_folder_writes_one_row_per_image(checkpoint, photo, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, img in enumerate([photo, shifted(photo, 6, 0), blank()]):
        cv2.imwrite(str(folder / f"img{i}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    (folder / "notes.txt").write_text("not an image")
    ref = tmp_path / "neutral.jpg"
    cv2.imwrite(str(ref), cv2.cvtColor(shifted(photo, 2, 2), cv2.COLOR_RGB2BGR))
    out = tmp_path / "preds.csv"
    assert main(["predict", str(folder), "--checkpoint", str(checkpoint), "--reference",
                 str(ref), "--out", str(out)]) == 0
    df = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert df["path"].tolist() == ["img0.png", "img1.png", "img2.png"]
    assert df["pspi"].notna().tolist() == [True, True, False]
    assert df.loc[2, "flags"] == "no_face"


def test_cli_image_without_reference_is_a_clear_error(checkpoint, photo, tmp_path, capsys):
    img = tmp_path / "face.png"
    cv2.imwrite(str(img), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    assert main(["predict", str(img), "--checkpoint", str(checkpoint)]) == 2
    assert "neutral reference" in capsys.readouterr().err


def test_frame_step_and_max_frames_select_the_analysed_frames(tiny_model, video_path):
    from pain3d.infer.predictor import PredictConfig, Predictor

    p = Predictor(tiny_model, PredictConfig(frame_step=3, max_frames=10, reference_seconds=1.0))
    try:
        res = predict_video(p, video_path, reference=face_frame())
    finally:
        p.close()
    assert res.frames["frame"].tolist() == [0, 3, 6, 9]
    assert np.allclose(res.frames["time_s"], [0.0, 0.75, 1.5, 2.25])
    assert res.reference_frames == []  # an explicit reference: no frame is chosen
    assert res.frames["pspi"].notna().tolist() == [True, True, False, True]


def face_frame():
    return shifted(face_photo(), 1, 1)
