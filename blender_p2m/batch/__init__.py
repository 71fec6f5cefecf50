"""Headless batch conversion: many images -> mesh files, one implementation for three doors.

    python -m blender_p2m reconstruct INPUTS... -o OUT          (the bpy module or plain Python)
    blender -b --python-expr "..." -- reconstruct INPUTS... -o OUT   (Blender 3.4+, add-on installed)
    blender -c pixel2mesh reconstruct INPUTS... -o OUT          (Blender 4.2+, add-on enabled)

All three call ``cli.main(argv)``. The modules, in the order a run uses them: inputs (which
images, their output names, the shard), intrinsics_source (sidecar JSON, a .blend camera or
the default), image_reader, runner (the loop), mesh_files (.obj, .glb, .ply; .blend files
come from blender_p2m.blender.scene and blend_file; all atomic through
blender_p2m.atomic_files), preview, summary and progress. See docs/batch.md.

Importing this package needs neither torch, numpy nor bpy.
"""
