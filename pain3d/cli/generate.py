"""``pain3d generate``, ``pain3d verify`` and ``pain3d inspect``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    _register_generate(sub)
    _register_checks(sub)


def _register_generate(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser(
        "generate",
        help="generate a 3DPain-compatible synthetic dataset (reproducible, resumable)",
        description="Render identities x (neutral + pain configurations) x views with heatmaps, "
        "annotations, textured meshes, manifest, splits and a dataset card. The same config "
        "and pain3d version give byte-identical files whatever the workers or engine; "
        "re-running on a killed run finishes only the missing work.",
    )
    g.add_argument("--out", required=True, help="dataset folder (new, empty or a resumed run)")
    g.add_argument("--config", help="YAML with GenerateConfig keys; flags override it")
    g.add_argument("--identities", type=int)
    g.add_argument("--per-identity", type=int, help="pain configurations per identity")
    g.add_argument("--views", type=int)
    g.add_argument("--size", type=int, help="image side in pixels")
    g.add_argument("--seed", type=int)
    g.add_argument("--layout", choices=["3dpain", "hub", "both"])
    g.add_argument("--extras", help="comma-separated: masks,depth")
    g.add_argument("--face-model", choices=["builtin", "flame"])
    g.add_argument("--flame-dir")
    g.add_argument("--backgrounds", help="folder of background photos (default: procedural)")
    g.add_argument("--jpeg-quality", type=int)
    g.add_argument("--antialias", type=int, choices=[1, 2, 3, 4],
                   help="supersampling factor (default 1: silhouette feathering only)")
    g.add_argument("--renderer", help="'builtin' (default) or module:Class (testing seam)")
    _add_option_groups(g)
    g.add_argument("--workers", type=int, help="worker processes (default: all cores)")
    g.add_argument("--engine", choices=["local", "ray"], default="local")
    g.add_argument("--ray-address", help="address of a running Ray cluster (default: local)")
    g.add_argument("--only", metavar="NAME",
                   help="regenerate one identity, configuration or image, e.g. "
                   "flame_sample_0003_pain_2, as loose files in --out")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.set_defaults(handler=_generate)


def _add_option_groups(g: argparse.ArgumentParser) -> None:
    """The diffusion, reference-variation and photo-identity argument groups."""
    d = g.add_argument_group(
        "diffusion appearance", "a Stable Diffusion portrait per identity baked onto its "
        "texture, optional inpainted backgrounds; needs pain3d[diffusion], the weights and a "
        "GPU (docs/generate.md). Other keys: diffusion.* in the --config YAML")
    d.add_argument("--appearance", choices=["procedural", "diffusion"])
    d.add_argument("--base-model", help="SD 1.5-family model id or folder")
    d.add_argument("--depth-controlnet", help="depth ControlNet id or folder")
    d.add_argument("--inpaint-model", help="inpainting model id or folder")
    d.add_argument("--diffusion-device", help="cuda (default), cuda:N or cpu")
    d.add_argument("--diffusion-dtype", choices=["float16", "float32"])
    d.add_argument("--diffusion-steps", type=int, help="denoising steps (default 30)")
    d.add_argument("--background-prompt",
                   help="scene prompt to inpaint the backgrounds, e.g. 'a hospital room'")
    r = g.add_argument_group(
        "reference variation", "every image its own small head pose, light and camera change, "
        "and neutral sessions as PSPI-0 samples (docs/generate.md); magnitudes: "
        "reference_variation.* in the --config YAML")
    r.add_argument("--reference-variation", action="store_true", default=None,
                   help="turn it on with the documented defaults (head +-3 deg, roll +-2 deg, "
                   "distance +-3 %%, shift +-5 mm, light +-10 deg, exposure +-10 %%, 2 neutral "
                   "sessions)")
    r.add_argument("--neutral-sessions", type=int,
                   help="neutral sessions per identity (implies --reference-variation)")
    ph = g.add_argument_group(
        "photo identities", "real neutral photos as identities, deformed by the AU rig "
        "(docs/photo_identities.md). Other keys: photo.* in the --config YAML")
    ph.add_argument("--identities-from", metavar="PATH",
                    help="a folder of photos, or a CSV with a 'path' column and optional sex, "
                    "age_band, ancestry columns; --identities is then the most photos used")
    ph.add_argument("--strict", action="store_true",
                    help="stop (writing nothing) when a photo cannot become an identity, "
                    "instead of skipping it with its reason")
    ph.add_argument("--non-neutral", choices=["reject", "warn"],
                    help="photos whose face is not neutral: skip them (default) or keep them "
                    "with a warning (their labels are then not the whole expression)")


def _register_checks(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser("verify", help="check a generated dataset against its manifest",
                       description="Completeness, decodable images, PSPI = PSPI of the AUs in "
                       "manifest and annotations, neutral/pain pairs for every view. Exit 1 "
                       "and a list of problems when anything is wrong.")
    v.add_argument("root", help="dataset folder")
    v.add_argument("--workers", type=int, default=None, help="decoding threads")
    v.add_argument("--max-problems", type=int, default=50, help="problems to list")
    v.set_defaults(handler=_verify)

    i = sub.add_parser("inspect", help="label and demographic tables and a contact sheet",
                       description="Prints the PSPI histogram, AU and demographic tables of a "
                       "generated dataset and writes a contact sheet PNG.")
    i.add_argument("root", help="dataset folder")
    i.add_argument("--sheet", help="contact sheet PNG (default: ROOT/contact_sheet.png)")
    i.add_argument("--identities", type=int, default=6, help="rows of the contact sheet")
    i.set_defaults(handler=_inspect)


def _generate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pain3d.appearance.diffusion import DiffusionUnavailable
    from pain3d.cli import CLIError
    from pain3d.config import load_config
    from pain3d.synth.config import GenerateConfig
    from pain3d.synth.engine import EngineUnavailable
    from pain3d.synth.generate import RunOptions, generate, regenerate
    from pain3d.synth.photo_source import PhotoSourceError

    overrides = {
        "identities": args.identities,
        "per_identity": args.per_identity,
        "views": args.views,
        "size": args.size,
        "seed": args.seed,
        "layout": args.layout,
        "extras": args.extras,
        "face_model": args.face_model,
        "flame_dir": args.flame_dir,
        "backgrounds": args.backgrounds,
        "jpeg_quality": args.jpeg_quality,
        "antialias": args.antialias,
        "renderer": args.renderer,
        "appearance": args.appearance,
        "diffusion.base_model": args.base_model,
        "diffusion.depth_controlnet": args.depth_controlnet,
        "diffusion.inpaint_model": args.inpaint_model,
        "diffusion.device": args.diffusion_device,
        "diffusion.dtype": args.diffusion_dtype,
        "diffusion.steps": args.diffusion_steps,
        "diffusion.background_prompt": args.background_prompt,
        "reference_variation.neutral_sessions": args.neutral_sessions,
        "identities_from": args.identities_from,
        "photo.non_neutral": args.non_neutral,
    }
    cfg = load_config(GenerateConfig, args.config, overrides)
    if args.reference_variation and cfg.reference_variation is None:
        import dataclasses

        from pain3d.synth.config import VariationConfig

        cfg = dataclasses.replace(cfg, reference_variation=VariationConfig())
    try:
        if args.only:
            paths = regenerate(cfg, Path(args.out), args.only)
            print(f"wrote {len(paths)} files of {args.only} into {args.out}")
            return 0
        opts = RunOptions(out=Path(args.out), workers=args.workers, engine=args.engine,
                          ray_address=args.ray_address,
                          progress=not args.no_progress, strict=args.strict)
        summary = generate(cfg, opts)
    except (EngineUnavailable, DiffusionUnavailable, PhotoSourceError) as exc:
        raise CLIError(str(exc)) from exc
    print(summary.text())
    return 0


def _verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pain3d.synth.verify import verify

    report = verify(Path(args.root), workers=args.workers)
    print(report.text(args.max_problems))
    return 0 if report.ok else 1


def _inspect(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pain3d.synth.inspect import inspect_dataset

    root = Path(args.root)
    sheet = Path(args.sheet) if args.sheet else root / "contact_sheet.png"
    text = inspect_dataset(root, sheet, identities=args.identities)
    print(text)
    return 0
