"""Subject folds, made and read in one place.

A fold is ``(train subjects, test subjects)``: two sorted arrays, no subject in both. In memory
subjects are names (``042-ll042``, ``flame_sample_0007``); prepared UNBC files store integer
subject ids (``folds/<scheme>/fold-K/{train_subjects,test_subjects}``) and are translated to
names when read (:func:`folds_by_name`).

- :func:`kfold_subjects`: k folds by subject (``prepare-unbc`` writes them; ``pain3d cv``
  computes them for data without stored folds);
- :func:`loso_subjects`: leave one subject out;
- :func:`inner_split`: the training subjects held out for checkpoint selection;
- :func:`cv_folds`: which folds a cross-validation uses (stored or computed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pain3d.data.common import DataError

Fold = tuple[np.ndarray, np.ndarray]


def kfold_subjects(subjects: np.ndarray, k: int = 5, seed: int = 0) -> list[Fold]:
    """Deterministic k-fold split by subject: unique subjects (sorted), permuted by ``seed``,
    dealt round-robin, so fold sizes differ by at most one and every subject is tested once.

    Args:
        subjects: (N,) subject names or ids, repeats allowed.
    """
    subs = np.unique(np.asarray(subjects))
    if len(subs) < k:
        raise DataError(f"{len(subs)} subject(s) cannot make {k} folds by subject")
    perm = np.random.default_rng([seed, 0xF01D]).permutation(subs)
    return [(np.setdiff1d(subs, perm[f::k]), np.sort(perm[f::k])) for f in range(k)]


def loso_subjects(subjects: np.ndarray) -> list[Fold]:
    """Leave one subject out: one fold per subject, in sorted order."""
    subs = np.unique(np.asarray(subjects))
    return [(np.delete(subs, i), subs[i:i + 1]) for i in range(len(subs))]


def inner_split(subjects: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hold out ``fraction`` of the training subjects (at least one, never all) for
    checkpoint selection.

    Returns:
        ``(fit subjects, validation subjects)``, both sorted.
    """
    subs = np.unique(np.asarray(subjects, dtype=str))
    if len(subs) < 2:
        raise ValueError(f"{len(subs)} training subject(s): an inner validation split needs >= 2")
    n_val = min(max(1, int(round(fraction * len(subs)))), len(subs) - 1)
    perm = np.random.default_rng([seed, 0x1A1]).permutation(subs)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def cv_folds(stored: dict[str, list[Fold]], subjects: np.ndarray, scheme: str, k: int,
             seed: int) -> list[Fold]:
    """The folds of a cross-validation.

    Args:
        stored: fold scheme name -> folds stored with the data (``kfold5``, ``loso``, ...).
        subjects: every subject of the data.
        scheme: ``loso`` (computed), ``5fold`` (the stored ``kfold5`` folds when ``k`` is 5,
            else computed with ``seed``) or ``file`` (the stored folds; required).
        k: folds of ``5fold``.
    """
    if scheme == "loso":
        return loso_subjects(subjects)
    given = stored.get("kfold5") or stored.get("file") or next(iter(stored.values()), None)
    if scheme == "file":
        if not given:
            raise ValueError("cv.scheme = file but the data has no stored folds: give "
                             "data.folds_file or use cv.scheme = 5fold")
        return given
    if given and len(given) == k and "kfold5" in stored:
        return stored["kfold5"]
    return kfold_subjects(subjects, k, seed)


def folds_by_name(folds: list[Fold], ids: np.ndarray, names: np.ndarray) -> list[Fold]:
    """Folds of integer subject ids as folds of subject names (ids absent from the data are
    dropped).

    Args:
        ids, names: (N,) the id and the name of every frame.
    """
    name_of = {int(i): str(s) for i, s in zip(ids, names, strict=True)}
    return [(np.array(sorted(name_of[int(i)] for i in tr if int(i) in name_of)),
             np.array(sorted(name_of[int(i)] for i in te if int(i) in name_of)))
            for tr, te in folds]


def read_folds(group: Any) -> list[Fold]:
    """Integer-id folds from an HDF5 group of ``fold-K`` groups, each holding
    ``train_subjects`` and ``test_subjects`` (or ``validation_subjects``: the derived trio)."""
    out = []
    for name in sorted(group, key=lambda n: int(n.rsplit("-", 1)[-1])):
        g = group[name]
        test_key = "test_subjects" if "test_subjects" in g else "validation_subjects"
        if "train_subjects" not in g or test_key not in g:
            raise DataError(f"{g.file.filename}:{g.name}: needs train_subjects and "
                            "test_subjects (or validation_subjects)")
        out.append((np.asarray(g["train_subjects"][:], np.int64).ravel(),
                    np.asarray(g[test_key][:], np.int64).ravel()))
    return out


def write_folds(h5: Any, name: str, folds: list[Fold]) -> None:
    """``folds/<name>/fold-K/{train_subjects,test_subjects}`` integer subject ids."""
    width = len(str(len(folds) - 1))
    for k, (train, test) in enumerate(folds):
        g = h5.create_group(f"folds/{name}/fold-{k:0{width}d}")
        g.create_dataset("train_subjects", data=np.asarray(train, np.int64))
        g.create_dataset("test_subjects", data=np.asarray(test, np.int64))
