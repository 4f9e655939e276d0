"""``generate``: a plan rendered by an engine, written in the chosen layouts, resumably.

Order of writes (each one atomic): ``config.yaml`` (claims the folder) -> per identity its
files, then its completion record -> per hub shard its tar.gz, then its record -> splits,
manifest, hub READMEs and dataset card -> ``SHA256SUMS`` -> one line appended to
``run_log.jsonl``. A run killed
anywhere and started again redoes only units and shards without a record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pain3d.config import dump_config
from pain3d.io import atomic_write_bytes, atomic_write_text
from pain3d.synth import layout, state
from pain3d.synth.card import dataset_card
from pain3d.synth.config import GenerateConfig
from pain3d.synth.diffusion import check_diffusion
from pain3d.synth.engine import Engine, default_workers, run_units, worker_pool
from pain3d.synth.manifest import manifest_rows, splits_csv, write_manifest
from pain3d.synth.photo_source import check_strict, record_photos, report_text, run_report
from pain3d.synth.plan import build_plan, select
from pain3d.synth.spec import DatasetPlan, UnitSpec
from pain3d.synth.worker import render_samples

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """How a dataset is produced (never changes its bytes).

    Attributes:
        out: dataset folder.
        workers: worker processes or Ray tasks; None = all cores.
        engine: ``local`` process pool or ``ray``.
        ray_address: a running Ray cluster; None starts a local instance.
        progress: show a progress bar on stderr.
        strict: with ``identities_from``, stop (before writing anything) when a photo cannot
            become an identity, instead of skipping it with its reason.
    """

    out: Path
    workers: int | None = None
    engine: Engine = "local"
    ray_address: str | None = None
    progress: bool = True
    strict: bool = False


@dataclass
class GenerateSummary:
    """What a run did."""

    root: str
    images: int
    heatmaps: int
    annotations: int
    meshes: int
    units_rendered: int
    units_skipped: int
    seconds: float
    render_seconds: float
    images_per_s: float
    disk_bytes: int
    workers: int
    engine: str
    peak_rss_mb: float = 0.0
    cpu_seconds: float = 0.0
    driver_cpu_seconds: float = 0.0
    unit_cpu_median_s: float = 0.0
    photos: dict = field(default_factory=dict)
    """Photo identities: listed, usable, used and skipped photos with their reasons."""

    def text(self) -> str:
        return (
            f"{self.root}: {self.images} images, {self.heatmaps} heatmaps, "
            f"{self.annotations} annotations, {self.meshes} meshes "
            f"({self.units_rendered} identities rendered now, {self.units_skipped} already done) "
            f"in {self.seconds:.1f} s, {self.images_per_s:.1f} images/s with {self.workers} "
            f"{self.engine} worker(s) ({self.cpu_seconds:.1f} CPU s), peak worker memory "
            f"{self.peak_rss_mb:.0f} MB, "
            f"{self.disk_bytes / 1e6:.1f} MB on disk"
        ) + report_text(self.photos)


def _is_extra(path: str) -> bool:
    return path.startswith(("masks/", "depth/", f"{layout.SOURCE_PHOTOS_DIR}/"))


class _Writer:
    """Places unit files: loose at the root, or for hub-only datasets one staged plain tar
    per identity (few large files instead of ~44 small ones each) until its shards exist."""

    def __init__(self, root: Path, cfg: GenerateConfig) -> None:
        self.root, self.cfg = root, cfg
        self.staged = cfg.layout == "hub"

    def staged_unit(self, identity: int) -> Path:
        return state.staging_dir(self.root) / f"{identity:05d}.tar"

    def write(self, identity: int, files: dict[str, bytes]) -> None:
        loose = {k: v for k, v in files.items() if not self.staged or _is_extra(k)}
        for rel in sorted(loose):
            atomic_write_bytes(self.root / rel, loose[rel])
        if self.staged:
            layout.write_tar(self.staged_unit(identity),
                             {k: v for k, v in files.items() if not _is_extra(k)})

    def unit_files(self, unit: UnitSpec, folders: tuple[str, ...]) -> dict[str, bytes]:
        """The unit's files of some hub folders, from staging or the loose layout."""
        if self.staged:
            return layout.read_tar_members(self.staged_unit(unit.identity.index))
        paths = layout.unit_paths(self.cfg, unit)
        return {rel: (self.root / rel).read_bytes() for f in folders for rel in paths[f]}

    def _shards_done(self, identity: int) -> bool:
        s = layout.shard_of(self.cfg, identity)
        return all(state.shard_done(self.root, layout.shard_path(self.cfg, f, s), f, s)
                   for f in layout.HUB_FOLDERS)

    def unit_done(self, unit: UnitSpec) -> bool:
        files = state.read_unit(self.root, unit.identity.index)
        if files is None:
            return False
        if self.staged and not (self.staged_unit(unit.identity.index).is_file()
                                or self._shards_done(unit.identity.index)):
            return False
        for rel, size in files.items():
            if self.staged and not _is_extra(rel):
                continue
            p = self.root / rel
            if not p.is_file() or p.stat().st_size != size:
                return False
        return True


def _progress(total: int, initial: int, enabled: bool):
    import sys

    from tqdm import tqdm

    # In a terminal the bar redraws twice a second; in a log file a line every 30 s.
    interval = 0.5 if sys.stderr.isatty() else 30.0
    return tqdm(total=total, initial=initial, unit="img", desc="generate", disable=not enabled,
                smoothing=0.1, dynamic_ncols=True, mininterval=interval)


def _start(cfg: GenerateConfig, strict: bool, root: Path) -> tuple[DatasetPlan, bool]:
    """Plan, refuse what cannot be done before anything is written, claim the folder; return
    the plan and whether this run resumes an earlier one."""
    check_diffusion(cfg)
    plan = build_plan(cfg)
    check_strict(plan, strict)
    resumed = state.claim(root, dump_config(plan.config))
    record_photos(root, plan)
    return plan, resumed


def generate(cfg: GenerateConfig, opts: RunOptions) -> GenerateSummary:
    """Generate (or finish) the dataset of ``cfg`` in ``opts.out``.

    With ``appearance: diffusion`` the default is one worker (each worker loads the
    pipelines onto the GPU).

    Raises:
        FileExistsError: if the folder holds another config or unrelated files.
        DiffusionUnavailable: before anything is written, when the diffusion appearance
            lacks diffusers, its weights or its device.
        PhotoSourceError: before anything is written, when ``identities_from`` has no
            usable photo (or, with ``strict``, any unusable one); on a resume, when the
            photos changed.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    root = Path(opts.out)
    workers = opts.workers or (1 if cfg.appearance == "diffusion" else default_workers())
    peak_rss = worker_cpu = 0.0
    unit_cpu: list[float] = []
    with worker_pool(cfg, opts.engine, workers) as pool:  # workers start while we plan
        plan, resumed = _start(cfg, opts.strict, root)
        cfg = plan.config  # photo identities: identities = the photos used
        swept = state.sweep_temporaries(root)
        if resumed:
            log.info("resuming %s (%d stale temporary files removed)", root, swept)
        writer = _Writer(root, cfg)
        todo = [u for u in plan.units if not writer.unit_done(u)]
        skipped = len(plan.units) - len(todo)
        t_render = time.perf_counter()
        with _progress(plan.n_images, sum(u.n_images for u in plan.units) - sum(
                u.n_images for u in todo), opts.progress) as bar:
            for res in run_units(cfg, todo, engine=opts.engine, workers=workers,
                                 ray_address=opts.ray_address, pool=pool):
                writer.write(res.identity, res.files)
                state.mark_unit(root, res.identity, res.files, res.landmarks)
                peak_rss = max(peak_rss, res.peak_rss_mb)
                worker_cpu += res.cpu_seconds
                unit_cpu.append(res.cpu_seconds)
                bar.update(res.n_images)
        worker_cpu += pool.start_cpu_seconds() if pool is not None else 0.0
    render_seconds = time.perf_counter() - t_render
    if cfg.layout in ("hub", "both"):
        _pack_shards(root, plan, writer, workers)
    _write_root_files(root, plan)
    _write_checksums(root, plan, writer)
    state.sweep_temporaries(root)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0  # this process: writes, packing, manifest
    in_process = opts.engine == "local" and workers == 1
    driver_cpu = cpu - worker_cpu if in_process else cpu
    cpu += 0.0 if in_process else worker_cpu  # in-process units are already in `cpu`
    rendered_images = sum(u.n_images for u in todo)
    n_pain = sum(len(u.heatmaps) for u in plan.units)
    summary = GenerateSummary(
        root=str(root),
        images=plan.n_images,
        heatmaps=n_pain,
        annotations=n_pain,
        meshes=len(plan.units),
        units_rendered=len(todo),
        units_skipped=skipped,
        seconds=seconds,
        render_seconds=render_seconds,
        images_per_s=rendered_images / seconds if seconds > 0 else 0.0,
        disk_bytes=_disk_bytes(root),
        workers=workers,
        engine=opts.engine,
        peak_rss_mb=peak_rss,
        cpu_seconds=cpu,
        driver_cpu_seconds=driver_cpu,
        # Per identity, steady state: the median leaves out each worker's first unit, which
        # also pays for building its renderer and identity table.
        unit_cpu_median_s=float(sorted(unit_cpu)[len(unit_cpu) // 2]) if unit_cpu else 0.0,
        photos=run_report(plan),
    )
    _append_run_log(root, started, summary)
    log.debug("%s", summary.text())
    return summary


def _pack_shard(root: Path, plan: DatasetPlan, writer: _Writer, shard: int) -> None:
    """Write the missing folders' tar.gz of one shard, reading each identity once."""
    cfg = plan.config
    folders = tuple(f for f in layout.HUB_FOLDERS
                    if not state.shard_done(root, layout.shard_path(cfg, f, shard), f, shard))
    if not folders:
        return
    tars = {f: layout.TarGzWriter(root / layout.shard_path(cfg, f, shard), layout.gzip_level(f))
            for f in folders}
    try:
        for i in layout.shard_identities(cfg, shard):
            unit = plan.units[i]
            files = writer.unit_files(unit, folders)
            paths = layout.unit_paths(cfg, unit)
            for f in folders:
                for rel in paths[f]:
                    tars[f].add(layout.member_name(f, rel), files[rel])
    except BaseException:
        for t in tars.values():
            t.abort()
        raise
    for f, t in tars.items():
        t.commit()
        state.mark_shard(root, f, shard, t.members, t.path.stat().st_size, t.sha256)


def _pack_shards(root: Path, plan: DatasetPlan, writer: _Writer, workers: int) -> None:
    cfg = plan.config
    log.info("packing %d shards per hub folder", layout.n_shards(cfg))
    # zlib releases the GIL, so threads pack shards in parallel.
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(lambda s: _pack_shard(root, plan, writer, s), range(layout.n_shards(cfg))))
    hub = root / layout.hub_root(cfg)
    for folder in layout.HUB_FOLDERS:
        files = sum(len(layout.unit_paths(cfg, u)[folder]) for u in plan.units)
        text = layout.readme_text(cfg, folder, {"shards": layout.n_shards(cfg), "files": files})
        atomic_write_text(hub / folder / "README.txt", text)
    if writer.staged:
        shutil.rmtree(state.staging_dir(root), ignore_errors=True)


def _write_root_files(root: Path, plan: DatasetPlan) -> None:
    atomic_write_text(root / "splits.csv", splits_csv(plan))
    keypoints: dict[str, list[float] | None] = {}
    for unit in plan.units:
        keypoints.update(state.read_unit_landmarks(root, unit.identity.index))
    rows = manifest_rows(plan, keypoints)
    write_manifest(root, rows)
    atomic_write_text(root / "dataset_card.md", dataset_card(plan, rows))


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_checksums(root: Path, plan: DatasetPlan, writer: _Writer) -> None:
    """``SHA256SUMS`` (``sha256sum -c`` format) of every dataset file.

    Loose files and shards take the hashes recorded when they were written; the few root
    files are read once more.
    """
    cfg = plan.config
    sums: dict[str, str] = {}
    for unit in plan.units:
        for rel, digest in state.read_unit_hashes(root, unit.identity.index).items():
            if not writer.staged or _is_extra(rel):
                sums[rel] = digest
    if cfg.layout in ("hub", "both"):
        hub = f"{layout.hub_root(cfg)}/" if layout.hub_root(cfg) else ""
        for folder in layout.HUB_FOLDERS:
            sums[f"{hub}{folder}/README.txt"] = ""
            for s in range(layout.n_shards(cfg)):
                sums[layout.shard_path(cfg, folder, s)] = state.shard_hash(root, folder, s)
    for name in ("config.yaml", "splits.csv", "manifest.parquet", "manifest.csv",
                 "dataset_card.md"):
        sums[name] = ""
    for rel in sums:
        sums[rel] = sums[rel] or _sha256_file(root / rel)
    text = "".join(f"{sums[rel]}  {rel}\n" for rel in sorted(sums))
    atomic_write_text(root / layout.CHECKSUMS, text)


def _disk_bytes(root: Path | str) -> int:
    """Bytes of the files under ``root`` (os.scandir: one stat per file, 0.8 s for the full
    composition's 140,000 files where ``Path.rglob`` took 2.5 s)."""
    total = 0
    with os.scandir(root) as entries:
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                total += _disk_bytes(e.path)
            elif e.is_file(follow_symlinks=False):
                total += e.stat(follow_symlinks=False).st_size
    return total


def _append_run_log(root: Path, started: str, summary: GenerateSummary) -> None:
    """The run log is the one file that records times and machines; datasets never embed them."""
    entry = {"started": started, "finished": datetime.now(UTC).isoformat(timespec="seconds"),
             "cores": default_workers(), **asdict(summary)}
    path = root / layout.RUN_LOG
    old = path.read_text() if path.is_file() else ""
    atomic_write_text(path, old + json.dumps(entry) + "\n")


def sample_files(cfg: GenerateConfig, name: str) -> dict[str, bytes]:
    """Regenerate the files of one identity, configuration or image from the specs alone.

    Args:
        cfg: the dataset config (e.g. loaded from the dataset's ``config.yaml``).
        name: ``flame_sample_0003`` (everything of the identity), ``flame_sample_0003_pain_2``
            (its images, heatmap and annotation) or an image stem.

    Returns:
        ``{loose relative path: bytes}``, byte-identical to the files of a full run.
    """
    check_diffusion(cfg)
    return _plan_files(build_plan(cfg), name)


def _plan_files(plan: DatasetPlan, name: str) -> dict[str, bytes]:
    specs = select(plan, name)
    whole_identity = specs[0].identity.name == name.rsplit("/", 1)[-1].split(".")[0]
    return render_samples(plan.config, specs, heatmaps=True, mesh=whole_identity)


def regenerate(cfg: GenerateConfig, out: Path, name: str) -> list[str]:
    """Write :func:`sample_files` into ``out`` as loose files; return their paths.

    ``out`` must be empty, or hold a dataset of the same ``cfg``.
    """
    root = Path(out)
    check_diffusion(cfg)
    plan = build_plan(cfg)
    state.claim(root, dump_config(plan.config))
    files = _plan_files(plan, name)
    for rel in sorted(files):
        atomic_write_bytes(root / rel, files[rel])
    return sorted(files)
