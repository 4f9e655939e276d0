"""Subject folds, made and read in one place.

A fold is ``(train subjects, test subjects)``: two sorted arrays, no subject in both. In memory
subjects are names (``042-ll042``, ``flame_sample_0007``); prepared UNBC files store integer
subject ids (``folds/<scheme>/fold-K/{train_subjects,test_subjects}``) and are translated to
names when read (:func:`folds_by_name`).

- :func:`kfold_subjects`: k folds by subject (``prepare-unbc`` writes them; ``pain3d cv``
  computes them for data without stored folds);
- :func:`loso_subjects`: leave one subject out;
- :func:`inner_split`: the training subjects held out for checkpoint selection;
- :func:`hold_out_test`: the subjects held out as the test set of one run (data without a
  ``test`` split);
- :func:`cv_folds`: which folds a cross-validation uses (stored or computed);
- :func:`check_disjoint` / :func:`check_folds`: no subject (and, for synthetic data, no
  identity) in two parts of a split or fold: every fold, stored, given or made here, is
  checked before training and again when predictions are scored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from pain3d.data.common import DataError

log = logging.getLogger(__name__)

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
    return _hold_out(subs, fraction, seed, 0x1A1)


def hold_out_test(subjects: np.ndarray, fraction: float, seed: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Hold out ``fraction`` of the subjects (at least one, never all) as the test set of one
    run: they take no part in training, epoch selection or threshold calibration.

    Returns:
        ``(remaining subjects, test subjects)``, both sorted.

    Raises:
        ValueError: with fewer than 3 subjects (a test subject, a validation subject and a
            training subject are the least a run with a held-out test needs).
    """
    subs = np.unique(np.asarray(subjects, dtype=str))
    if len(subs) < 3:
        raise ValueError(f"{len(subs)} subject(s): holding out a test subject needs >= 3 "
                         "(one to test, one to select the epoch on, one to train on); set "
                         "test_fraction = 0 to report validation numbers instead (labelled so)")
    return _hold_out(subs, fraction, seed, 0x7E57)


def _hold_out(subs: np.ndarray, fraction: float, seed: int, stream: int
              ) -> tuple[np.ndarray, np.ndarray]:
    n_out = min(max(1, int(round(fraction * len(subs)))), len(subs) - 1)
    perm = np.random.default_rng([seed, stream]).permutation(subs)
    return np.sort(perm[n_out:]), np.sort(perm[:n_out])


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


def folds_by_name(folds: list[Fold], ids: np.ndarray, names: np.ndarray,
                  where: str = "folds") -> list[Fold]:
    """Folds of integer subject ids as folds of subject names (ids absent from the data are
    dropped, with a warning naming them).

    Args:
        ids, names: (N,) the id and the name of every frame.
        where: the fold file / group, for the warning.
    """
    name_of = {int(i): str(s) for i, s in zip(ids, names, strict=True)}
    absent = sorted({int(i) for tr, te in folds for i in np.r_[tr, te]} - set(name_of))
    if absent:
        log.warning("%s: subject id(s) %s are in the folds but not in the data; they are "
                    "left out", where, absent[:10])
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


def _fmt(names: Any, most: int = 8) -> str:
    names = sorted(str(n) for n in names)
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def check_disjoint(parts: Mapping[str, np.ndarray], where: str,
                   persons: Mapping[str, Any] | None = None) -> None:
    """No subject in two parts of one split (e.g. ``train`` / ``val`` / ``test``).

    Args:
        parts: part name -> subject names (repeats allowed).
        where: what is checked (fold file and fold, run split), for the message.
        persons: subject -> the set of identity keys behind it (synthetic data: the
            manifest's ``identity`` numbers, see :func:`identity_keys`); two subject names
            sharing an identity in two parts is an overlap as well.

    Raises:
        DataError: naming the parts, the subjects in both, and what to do.
    """
    names = list(parts)
    sets = {n: set(np.asarray(parts[n]).astype(str).tolist()) for n in names}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = sets[a] & sets[b]
            if both:
                raise DataError(
                    f"{where}: subject(s) {_fmt(both)} are in both {a} and {b}: the model "
                    f"would be {'tested' if 'test' in (a, b) else 'selected'} on people it "
                    "was trained on. Every subject must be in one part only: fix the fold "
                    "file / split column, or leave folds out so pain3d makes them by subject")
            if persons:
                ka = {k: s for s in sets[a] for k in persons.get(s, ())}
                kb = {k: s for s in sets[b] for k in persons.get(s, ())}
                shared = set(ka) & set(kb)
                if shared:
                    pairs = sorted(f"{ka[k]} / {kb[k]}" for k in shared)
                    raise DataError(
                        f"{where}: identit(ies) {_fmt(shared)} are in both {a} and {b} under "
                        f"other subject names ({_fmt(pairs)}): the same synthetic person on "
                        "both sides. Give each identity one name, or split by identity")


def check_folds(folds: list[Fold], where: str, persons: Mapping[str, Any] | None = None
                ) -> None:
    """:func:`check_disjoint` on the train and test subjects of every fold.

    Raises:
        DataError: naming the fold (``where`` fold K) and the subjects in both.
    """
    for k, (train, test) in enumerate(folds):
        check_disjoint({"train": train, "test": test}, f"{where} fold {k}", persons)


def identity_keys(subject: np.ndarray, identity: np.ndarray | None) -> dict[str, frozenset]:
    """Subject name -> the identity numbers of its rows (an empty mapping without an
    ``identity`` column), for :func:`check_disjoint`.

    Args:
        subject, identity: (N,) per frame.
    """
    if identity is None:
        return {}
    out: dict[str, set] = {}
    for s, i in zip(np.asarray(subject).astype(str), np.asarray(identity).astype(str),
                    strict=True):
        out.setdefault(s, set()).add(i)
    return {s: frozenset(v) for s, v in out.items()}
