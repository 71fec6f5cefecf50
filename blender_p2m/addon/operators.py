"""The Reconstruct button: check the inputs, run the model off the main thread, build the mesh.

invoke() (a click) starts a ReconstructWorker and a modal timer that drains its queue, so
Blender stays responsive; Esc cancels. execute() (scripts, --background) runs the same steps
synchronously. The steps themselves live in reconstruct_job. Either way a failure leaves the file as it was and says what to do, in the
panel and as a report.
"""
from __future__ import annotations

from dataclasses import dataclass

import bpy

from ..errors import P2MError
from . import network_preview, worker

TIMER_SECONDS = 0.1


@dataclass
class JobStatus:
    """What the panel shows about the current or last click (main thread only)."""

    running: bool = False
    progress: float = 0.0
    step: str = ""
    result: str = ""
    error: str = ""


STATUS = JobStatus()


def _job():
    """The click's logic (reconstruct_job needs numpy, which some Blender builds, e.g.
    Debian's, lack until PyTorch's folder is added): imported on the first click."""
    try:
        from . import reconstruct_job
    except ImportError as e:
        if getattr(e, "name", "") != "numpy":
            raise
        raise P2MError(worker.TORCH_MISSING) from None
    return reconstruct_job


def _redraw_panels() -> None:
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == 'VIEW_3D':
                area.tag_redraw()


class P2M_OT_reconstruct(bpy.types.Operator):
    """Reconstruct a mesh from the image, lined up with the camera"""

    bl_idname = "pixel2mesh.reconstruct"
    bl_label = "Reconstruct"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        return context.scene is not None and not STATUS.running

    def execute(self, context):
        """Synchronous: scripts and --background (there is no event loop to wait in)."""
        self._begin()
        try:
            plan = _job().plan_reconstruction(context)
            outcome = worker.reconstruct(plan.request, on_step=self._print_step)
        except P2MError as e:
            return self._fail(str(e))
        except Exception as e:
            return self._fail(worker.describe_unexpected(e))
        self._print_step(0.95, "Building the mesh")
        return self._finish(context, plan, outcome)

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:
            return self.execute(context)
        self._begin()
        try:
            self._plan = _job().plan_reconstruction(context)
        except P2MError as e:
            return self._fail(str(e))
        except Exception as e:
            return self._fail(worker.describe_unexpected(e))
        self._worker = worker.ReconstructWorker(self._plan.request)
        self._worker.start()
        self._timer = context.window_manager.event_timer_add(TIMER_SECONDS, window=context.window)
        context.window_manager.modal_handler_add(self)
        self._show_step(0.0, "Starting", context)
        return {'RUNNING_MODAL'}

    def modal(self, context, event):
        if event.type == 'ESC' and event.value == 'PRESS':
            self._worker.cancelled.set()
            self._end_modal(context)
            STATUS.error = "Cancelled. Nothing was created."
            self.report({'WARNING'}, STATUS.error)
            return {'CANCELLED'}
        if event.type != 'TIMER':
            return {'PASS_THROUGH'}
        for message in self._worker.drain():
            kind = message[0]
            if kind == "step":
                self._show_step(message[1], message[2], context)
            elif kind == "failed":
                self._end_modal(context)
                return self._fail(message[1])
            elif kind == "done":
                self._end_modal(context)
                STATUS.progress, STATUS.step = 0.95, "Building the mesh"
                return self._finish(context, self._plan, message[1])
        return {'PASS_THROUGH'}

    def cancel(self, context):
        """Blender ends the modal run (e.g. a file is opened): drop the worker's result."""
        self._worker.cancelled.set()
        self._end_modal(context)
        STATUS.error = "Cancelled. Nothing was created."

    def _finish(self, context, plan, outcome):
        """Both paths end here: build the object, show what the network saw, report."""
        try:
            obj = _job().build_result(context, plan, outcome)
        except P2MError as e:
            return self._fail(str(e))
        except Exception as e:
            return self._fail(worker.describe_unexpected(e))
        _job().show_network_view(outcome)
        return self._succeed(_job().success_message(obj, outcome, plan.request.stage))

    # Status bookkeeping shared by both paths.
    def _begin(self) -> None:
        STATUS.running, STATUS.progress, STATUS.step = True, 0.0, "Starting"
        STATUS.result, STATUS.error = "", ""
        network_preview.clear()                  # the picture belongs to the last result

    def _print_step(self, fraction: float, text: str) -> None:
        STATUS.progress, STATUS.step = fraction, text
        print(f"Pixel2Mesh: {text}...")

    def _show_step(self, fraction: float, text: str, context) -> None:
        STATUS.progress, STATUS.step = fraction, text
        if context.workspace is not None:
            context.workspace.status_text_set(
                f"Pixel2Mesh: {text}... {round(fraction * 100)}%  (Esc to cancel)")
        _redraw_panels()

    def _end_modal(self, context) -> None:
        STATUS.running = False
        if getattr(self, "_timer", None) is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        if context.workspace is not None:
            context.workspace.status_text_set(None)
        _redraw_panels()

    def _fail(self, message: str):
        STATUS.running, STATUS.progress, STATUS.step = False, 0.0, ""
        STATUS.error = message
        self.report({'ERROR'}, message)
        _redraw_panels()
        return {'CANCELLED'}

    def _succeed(self, message: str):
        STATUS.running, STATUS.progress, STATUS.step = False, 1.0, ""
        STATUS.result = message
        self.report({'INFO'}, message)
        _redraw_panels()
        return {'FINISHED'}


CLASSES = (P2M_OT_reconstruct,)
