"""`python -m blender_p2m reconstruct|demo ...`: the batch tool (blender_p2m.batch.cli)."""
import sys

from .threads import prefer_passive_omp_wait

prefer_passive_omp_wait()   # before torch is imported

from .batch.cli import main  # noqa: E402

sys.exit(main())
