"""`python -m blender_p2m reconstruct|demo ...`: the batch tool (blender_p2m.batch.cli)."""
import sys

from .batch.cli import main

sys.exit(main())
