"""Helpers shared by the generation tests (imported by name: the test dir is on sys.path)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from pain3d.synth.config import GenerateConfig
from pain3d.synth.generate import RunOptions, generate

PLAIN = "pain3d.synth.testing:PlainRenderer"
RUN_LOG = "run_log.jsonl"


def tiny_generate_config(**kw) -> GenerateConfig:
    base = dict(identities=3, per_identity=3, views=3, size=48, seed=7, renderer=PLAIN,
                shard_identities=2)
    base.update(kw)
    return GenerateConfig(**base)


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under root (the run log, which records times, excluded)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and rel != RUN_LOG:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def make(out: Path, cfg: GenerateConfig, workers: int = 1, **kw) -> Path:
    generate(cfg, RunOptions(out=out, workers=workers, progress=False, **kw))
    return out


# The naming rules of the published 3DPain loader (FORMATS.md section 2), written out
# independently of pain3d's own naming code.
_MARKERS = ("_textured_view_", "_view_", "_bg_", "_render_", "_deform_", "_inpainted",
            "_textured")


def parse_published_name(filename: str) -> dict:
    stem = Path(filename).stem
    cut = min((stem.find(m) for m in _MARKERS if m in stem), default=len(stem))
    base = stem[:cut]
    m = re.fullmatch(r"(flame_sample_\d{4})_(?:pain_(\d+)|(neutral))", base)
    if not m:
        raise ValueError(f"{filename}: not a 3DPain image name")
    return {"base": base, "identity": m.group(1),
            "config": int(m.group(2)) if m.group(2) else None, "neutral": bool(m.group(3))}
