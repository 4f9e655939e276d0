#!/usr/bin/env python
"""Published entry point, kept for newcomers: ``python train.py --config configs/vit_pain.yaml
--batch_size 32`` (flags override the file). Equivalent to ``pain3d train``."""

import sys

from pain3d.cli.train import published_main

if __name__ == "__main__":
    sys.exit(published_main())
