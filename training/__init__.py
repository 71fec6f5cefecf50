"""Training blender-p2m's network (development side: needs the `training` dependency group).

The core, at the top: data (building and reading datasets), losses, metrics, train (the
loop), validate, evaluate, export, run_checkpoints, sampler, distributed, config, plot,
mesh_render. One-off measurements live in training.diagnostics, which uses the core and
is never used by it. The network itself is blender_p2m.model; Blender helpers come from
blender_p2m.blender (tests/test_import_order.py keeps the order).
"""
from blender_p2m.threads import prefer_passive_omp_wait

# Before PyTorch is imported by any training module: training and evaluation run beside
# their own DataLoader workers and other jobs, where spinning OpenMP threads make every
# step many times slower (blender_p2m/threads.py).
prefer_passive_omp_wait()
