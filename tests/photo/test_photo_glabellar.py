"""Each photo identity has its own glabellar lines, the same for the same photo."""

from __future__ import annotations

import hashlib

import numpy as np

from pain3d.appearance.wrinkles import WRINKLE_CHANNELS
from pain3d.synth.photo import photo_glabellar, photo_identity


def test_glabellar_lines_follow_the_photos_hash():
    one = "ab" * 32
    assert photo_glabellar(one) == photo_glabellar(one)
    patterns = {photo_glabellar(hashlib.sha256(bytes([k])).hexdigest()) for k in range(12)}
    assert len(patterns) == 12  # people rarely share them
    assert photo_glabellar("not a hash") == photo_glabellar("not a hash")


def test_a_photo_identitys_wrinkle_map_carries_its_own_glabellar_lines(photo, identity):
    other = photo_identity(photo, source_sha256="cd" * 32, screened=None)
    glab = WRINKLE_CHANNELS.index("glabellar")
    a, b = identity.appearance.wrinkles, other.appearance.wrinkles
    assert not np.array_equal(a[..., glab], b[..., glab])
    rest = [k for k in range(len(WRINKLE_CHANNELS)) if k != glab]
    assert np.array_equal(a[..., rest], b[..., rest])  # nose, periorbital, nasolabial alike
