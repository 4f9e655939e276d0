"""``pain3d predict`` and ``pain3d export-onnx``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="estimate pain (PSPI, AUs) on a photo, a folder of photos or a video",
        description="Faces are found and aligned with mediapipe (the training crop geometry). "
        "Image / folder: give the person's neutral photo with --reference. Video: a per-frame "
        "CSV, a timeline PNG and a summary go to --out; without --reference the neutral "
        "reference is chosen from the first seconds (lowest landmark expression energy). "
        "Example: pain3d predict clip.mp4 --checkpoint demo/model --out clip_pain/",
    )
    p.add_argument("input", help="image, folder of images, or video (MP4/AVI/MOV)")
    p.add_argument("--checkpoint", required=True, help="model directory (pain3d train output)")
    p.add_argument("--reference", nargs="+", default=None,
                   help="neutral photo(s) of the same person (several: multi-shot average)")
    p.add_argument("--out", default=None, help="CSV (image, folder) or output folder (video)")
    p.add_argument("--config", default=None, help="YAML with PredictConfig defaults")
    p.add_argument("--select", choices=("largest", "track"), default=None,
                   help="several faces: the largest, or the one tracked across frames")
    p.add_argument("--n-references", type=int, default=None, help="video references (3)")
    p.add_argument("--reference-seconds", type=float, default=None,
                   help="opening window searched for video references (3 s)")
    p.add_argument("--frame-step", type=int, default=None, help="analyse every n-th frame")
    p.add_argument("--max-frames", type=int, default=None, help="stop after n frames (0 = all)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--device", default=None, help="torch device (cpu, cuda, ...)")
    p.add_argument("--dtype", choices=("float32", "bfloat16"), default=None,
                   help="backbone precision (float32; bfloat16 is about twice as fast on CPUs "
                        "with AVX512-BF16/AMX, see docs/inference.md)")
    p.add_argument("--fuse", action=argparse.BooleanOptionalAction, default=None,
                   help="fused CPU backbone forward (default on; --no-fuse: transformers' "
                        "eager path)")
    p.set_defaults(handler=_predict)

    e = sub.add_parser(
        "export-onnx",
        help="export a checkpoint to ONNX and check its outputs against PyTorch",
        description="Writes a graph with inputs image and neutral (1..N, 3, S, S, normalised) "
        "and outputs pspi, pain_prob, au, binary_logits; the preprocessing is saved beside it "
        "as JSON. Example: pain3d export-onnx --checkpoint demo/model --out vitpain.onnx",
    )
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--out", required=True, help="ONNX file to write")
    e.add_argument("--opset", type=int, default=17)
    e.add_argument("--references", type=int, default=1,
                   help="neutral references per query fixed in the graph (N)")
    e.add_argument("--no-check", action="store_true", help="skip the onnxruntime parity check")
    e.set_defaults(handler=_export)


def _predict(args: argparse.Namespace) -> int:
    import json

    from pain3d.config import load_config
    from pain3d.infer.pipeline import run_predict
    from pain3d.infer.predictor import PredictConfig

    cfg = load_config(PredictConfig, args.config, {
        "detect.select": args.select, "n_references": args.n_references,
        "reference_seconds": args.reference_seconds, "frame_step": args.frame_step,
        "max_frames": args.max_frames, "batch_size": args.batch_size, "device": args.device,
        "dtype": args.dtype, "fuse": args.fuse,
    })
    ref = args.reference[0] if args.reference and len(args.reference) == 1 else args.reference
    summary = run_predict(args.input, args.checkpoint, args.out, ref, cfg)
    if summary["kind"] == "image":
        if summary["flags"]:
            print(f"{summary['path']}: flags {summary['flags']}")
        if summary["pspi"] == summary["pspi"]:  # not NaN
            aus = " ".join(f"{k}={summary[k]:.2f}" for k in ("AU4", "AU6", "AU7", "AU9",
                                                             "AU10", "AU43"))
            print(f"{summary['path']}: PSPI {summary['pspi']:.2f}  P(pain) "
                  f"{summary['pain_prob']:.2f}  {aus}")
        else:
            print(f"{summary['path']}: no prediction (no usable face)")
    else:
        print(json.dumps(summary, indent=2))
    return 0


def _export(args: argparse.Namespace) -> int:
    from pain3d.infer.onnx import export_checkpoint

    report = export_checkpoint(args.checkpoint, args.out, opset=args.opset,
                               references=args.references,
                               check=not args.no_check)
    msg = f"wrote {report['path']}"
    if "max_abs_diff_pspi" in report:
        msg += (f" (max |ONNX - PyTorch|: PSPI {report['max_abs_diff_pspi']:.2e}, "
                f"AU {report['max_abs_diff_au']:.2e})")
    print(msg)
    return 0
