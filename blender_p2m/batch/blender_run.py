"""Run the batch tool inside any Blender 3.4+ without installing the add-on:

    blender -b -P /path/to/blender_p2m/batch/blender_run.py -- reconstruct INPUTS... -o OUT

The package next to this file is imported (its parent folder goes first on sys.path).
PyTorch must be importable in Blender's Python: enable the installed add-on (it adds its
PyTorch folder), or see docs/batch.md.
"""
import os
import sys

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    from blender_p2m.batch.cli import main_in_blender

    main_in_blender()
