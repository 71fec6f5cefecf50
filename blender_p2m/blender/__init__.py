"""Plain bpy helpers shared by the add-on, the batch tools and training (no UI, no torch).

    camera       Blender camera <-> Intrinsics, by Blender's own rules
    mesh_object  vertex and triangle arrays -> mesh datablocks and objects placed by a camera
    image        bpy Images <-> RGBA arrays; image files read by Blender's loader
    scene        a reconstruction as a scene of its own (camera, background, mesh)
    blend_file   writing .blend files atomically; reading them without running their code
    render       Workbench stills as RGBA arrays
    quiet        silencing Blender's C-level output

These modules import bpy only inside the functions that need it, so describing a scene
(scene.SceneContent) or importing the layer works without Blender. They import nothing
from the add-on, the batch tools, training, the model or PyTorch (tests/test_import_order.py).
"""
