"""``dataset_card.md``: counts, label and demographic distributions, and how it was made.

Built from the plan and manifest only, so it is byte-identical across runs; times, machines
and worker counts go to ``run_log.jsonl`` instead.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pain3d.config import dump_config
from pain3d.demographics import AGE_BANDS, ANCESTRIES, SEXES
from pain3d.facs import AU_NAMES, PSPI_MAX
from pain3d.synth import layout, photo_source
from pain3d.synth.spec import SPLIT_NAMES, DatasetPlan


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def is_pain_row(row: dict[str, Any]) -> bool:
    """A manifest row of a pain configuration (not the neutral reference, not a neutral
    session of ``reference_variation``; manifests without the column have none)."""
    return row["expression"] != "neutral" and not int(row.get("neutral_session", 0) or 0)


def label_tables(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Markdown tables of PSPI, AUs and demographics for manifest rows (dicts)."""
    configs = {(r["identity"], r["expression"]): r for r in rows if is_pain_row(r)}
    pspi = Counter(int(round(float(r["PSPI"]))) for r in configs.values())
    out = {}
    out["pspi"] = _table(
        ["PSPI", "configurations"], [[lv, pspi.get(lv, 0)] for lv in range(PSPI_MAX + 1)]
    )
    au_rows = []
    for name in AU_NAMES:
        vals = [float(r[name]) for r in configs.values()]
        n = max(1, len(vals))
        hist = Counter(int(round(v)) for v in vals)
        au_rows.append([name, f"{sum(vals) / n:.2f}", f"{sum(v > 0 for v in vals) / n:.0%}",
                        *[hist.get(k, 0) for k in range(6)]])
    out["aus"] = _table(["AU", "mean", "present", "0", "1", "2", "3", "4", "5"], au_rows)
    people = {r["identity"]: r for r in rows}.values()
    cells = Counter((p["sex"], p["age_band"]) for p in people)
    out["sex_age"] = _table(["sex", *AGE_BANDS],
                            [[s, *[cells.get((s, a), 0) for a in AGE_BANDS]] for s in SEXES])
    anc = Counter(p["ancestry"] for p in people)
    out["ancestry"] = _table(["ancestry", "identities"], [[a, anc.get(a, 0)] for a in ANCESTRIES])
    sp = Counter(p["split"] for p in people)
    out["split"] = _table(["split", "identities"], [[s, sp.get(s, 0)] for s in SPLIT_NAMES])
    return out


def _appearance_text(cfg) -> str:
    """How the identities' textures (and backgrounds) were made."""
    if cfg.identities_from is not None:
        return photo_source.appearance_text(cfg)
    if cfg.appearance != "diffusion":
        return ("Appearance: procedural (pain3d's painted skin, hair, eyes and age cues, "
                "seeded per identity).")
    d = cfg.diffusion
    text = (f"Appearance: diffusion. Per identity a depth-conditioned portrait "
            f"(`{d.base_model}` with the ControlNet `{d.depth_controlnet}`, {d.steps} steps, "
            f"{d.dtype} on {d.device}) from its demographic prompt, rendered from a frontal "
            f"camera and baked onto its procedural texture; all its images share it.")
    if d.background_prompt is not None:
        text += (f" Backgrounds inpainted by `{d.inpaint_model}` from the prompt "
                 f"\"{d.background_prompt}\" around the head mask (head pixels kept).")
    return text + (" Reproducible on the same weights, library versions and hardware.")


def _identities_text(cfg) -> str:
    if cfg.identities_from is not None:
        return ("Identities are real photos (section Photo identities), the builtin head "
                "fitted to each.")
    return (f"Identities are drawn from the {cfg.face_model} face model, balanced over\n"
            "   sex x age band x ancestry; each has its own seed.")


def _faces_text(cfg) -> str:
    if cfg.identities_from is not None:
        return ("Photo identities: real people's neutral photos deformed by the AU rig; labels "
                "are exact by construction\nbut the expressions are a simplified model of real "
                "pain expressions.")
    return ("Synthetic faces: not photographs of real people; labels are exact by construction "
            "but the\nfaces are a simplified model of real pain expressions.")


def _nuisance_text(cfg) -> str:
    if not cfg.nuisance_aus:
        return "No nuisance AUs (`nuisance_aus` is empty)."
    return (f"Nuisance AUs {', '.join(cfg.nuisance_aus)} (uniform 0..{cfg.nuisance_max:g} per "
            "pain configuration, never part of PSPI) move the face but not the labels; the "
            "rig switches the brow raisers AU1/AU2 off from AU4 = 1 on and removes any "
            "nuisance motion against the pain AUs' motion, so they never hide a pain AU. The "
            "manifest columns `AU1` ... `AU26` and the annotations hold the intensities as "
            "applied; heatmaps show the pain AUs only.")


def _variation_text(cfg) -> str:
    v = cfg.reference_variation
    if v is None:
        return ("Reference variation off (the published composition): all images of a view "
                "share its camera, light rig and background; only camera effects and noise "
                "are drawn per image.")
    return (f"Reference variation on: every image (neutral reference, pain images, "
            f"{v.neutral_sessions} neutral session(s) per identity) has its own head pose "
            f"offset (yaw and pitch uniform +-{v.head_deg:g} deg, roll +-{v.roll_deg:g} deg), "
            f"camera distance (+-{v.distance_frac:.0%}) and look-at shift (+-"
            f"{v.shift_m * 1000:g} mm), light rig rotation (+-{v.light_deg:g} deg about the "
            f"vertical, +-{v.light_deg / 2:g} deg about the horizontal axis) and exposure "
            f"(x{1 - v.light_gain:g}..x{1 + v.light_gain:g}), recorded in the `var_*` "
            "manifest columns. Neutral sessions are the configurations after the pain ones "
            "(all AUs 0, PSPI 0, black heatmaps; `neutral_session` > 0 in the manifest): "
            "PSPI-0 samples, never references."
            + (" Photo identities keep their photo's framing: only head pose and light vary "
               "(distance 1, shift 0)." if cfg.identities_from is not None else ""))


def _method_text(cfg) -> str:
    """The card's "How it was made" section."""
    from pain3d.face.rig import RIG_VERSION

    return f"""## How it was made

1. {_identities_text(cfg)}
2. Pain configurations come from `pain3d.facs.sample_plan`: PSPI levels uniform over
   {cfg.min_pspi}..16 across the dataset and distinct within an identity.
3. The AU rig (version {RIG_VERSION}, `pain3d.face.rig.RIG_VERSION`; docs/rig.md) deforms
   the neutral mesh; the heatmap is the per-vertex displacement of the pain AUs, neutral ->
   pain, on a fixed dataset-wide scale, rendered from view 0.
4. {_nuisance_text(cfg)}
5. Each expression is rendered from {cfg.views} cameras shared with the neutral images
   (paired references), with seeded lighting, background and camera effects.
6. {_variation_text(cfg)}
7. {_appearance_text(cfg)}
"""


def dataset_card(plan: DatasetPlan, rows: list[dict[str, Any]]) -> str:
    cfg = plan.config
    n_pain = sum(len(u.heatmaps) for u in plan.units)
    n_sessions = sum(1 for u in plan.units for s in u.heatmaps if s.session)
    t = label_tables(rows)
    layouts = {
        "3dpain": "`meshes_inpainted/`, `annotations/`, `heatmaps/`, `textured_meshes/` as loose "
        "files (the layout the published 3DPain training code reads)",
        "hub": "`images/`, `annotations/`, `heatmaps/`, `textured_meshes/` as "
        "`<folder>_00000.tar.gz` shards with a README.txt each",
        "both": "the 3dpain layout at the root and the hub layout under `hub/`",
    }[cfg.layout]
    extras = ", ".join(cfg.extras) if cfg.extras else "none"
    return f"""# Synthetic pain-face dataset (pain3d {plan.version})

A 3DPain-compatible synthetic dataset made by `pain3d generate`. Every file is a pure
function of this card's config and the pain3d version: regenerate any sample with
`pain3d generate --config config.yaml --out DIR --only flame_sample_0003_pain_2`.

## Contents

| what | count |
|---|---|
| identities | {len(plan.units)} |
| pain configurations per identity | {cfg.per_identity} |
| views per expression | {cfg.views} |
| images ({cfg.size}x{cfg.size} JPEG, quality {cfg.jpeg_quality}) | {plan.n_images} |
| heatmaps (one per pain configuration) | {n_pain} |
| annotations (one per pain configuration) | {n_pain} |
| of which neutral sessions (PSPI 0) | {n_sessions} |
| textured meshes (PNG textures at zlib level {cfg.texture_png_level}) | {len(plan.units)} |
| extras | {extras} |

Layout: {layouts}. `manifest.parquet` / `manifest.csv` list every image with its labels,
view, demographics, seeds and the paths of its heatmap, mask and mesh; `splits.csv` is the
published split file (`annotation_base_name,split`, 0 = train, 1 = val, 2 = test, by identity).

## Labels

Pain configurations by PSPI = AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43 (neutral images
have all AUs and PSPI 0):

{t["pspi"]}

AU intensities of the pain configurations (FACS 0-5; AU43 is 0 or 1):

{t["aus"]}

## Identities

{t["sex_age"]}

{t["ancestry"]}

{t["split"]}

{_method_text(cfg)}
{_faces_text(cfg)}

{photo_source.card_section(plan)}## Config

```yaml
{dump_config(cfg).rstrip()}
```

`{layout.CHECKSUMS}` holds the SHA-256 of every file (`sha256sum -c {layout.CHECKSUMS}`;
`pain3d verify` checks it too); `{layout.RUN_LOG}` records when and how each run was executed
(the only file that differs between runs).
"""
