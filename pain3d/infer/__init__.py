"""Inference on real faces: detection and alignment, the predictor, videos, ONNX export.

    from pain3d.infer import Predictor
    p = Predictor.from_checkpoint("demo/model")
    p.predict("pain.jpg", reference="neutral.jpg").pspi
    p.predict_video("clip.mp4").frames          # per-frame pandas DataFrame

Heavy libraries (torch, mediapipe, OpenCV) are imported when first used.
"""

from pain3d.face.tracker import Face
from pain3d.infer.detect import FLAGS, DetectConfig, FaceDetector
from pain3d.infer.pipeline import predict_folder, run_predict
from pain3d.infer.predictor import (
    PredictConfig,
    Prediction,
    Predictor,
    VideoPrediction,
    predict_video,
)
from pain3d.infer.reference import choose_reference_frames, expression_energy

__all__ = [
    "FLAGS",
    "DetectConfig",
    "Face",
    "FaceDetector",
    "Prediction",
    "PredictConfig",
    "Predictor",
    "VideoPrediction",
    "choose_reference_frames",
    "expression_energy",
    "predict_folder",
    "predict_video",
    "run_predict",
]
