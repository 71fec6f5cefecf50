"""Getting PyTorch into Blender's Python: status, an explicit installer, or an existing folder.

PyTorch is never downloaded on its own: only when the user clicks Install PyTorch, and only
where Blender allows online access (Preferences > System > Network, 4.2+; Blender 3.x has
no such switch, so the click is the consent). It is installed with pip into a folder of the
user's Blender configuration, never into the add-on's own folder (upgrades wipe that):

- Blender 4.2+ extension: ``bpy.utils.extension_path_user(package, "site-packages")``;
- legacy add-on: the user scripts ``modules/site-packages`` folder.

Alternatively the preferences point at a site-packages folder that already has PyTorch.
Both folders are *appended* to sys.path, so Blender's own numpy stays first.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass

import bpy

from .prefs import ADDON_ID, get_preferences

TORCH_INDEX = {"CPU": "https://download.pytorch.org/whl/cpu",
               "CUDA": "https://download.pytorch.org/whl/cu126"}
INSTALL_SUBFOLDER = "site-packages"


@dataclass
class InstallState:
    """What the preferences show about PyTorch; written on the main thread only."""

    running: bool = False
    last_line: str = ""
    outcome: str = ""
    failed: bool = False
    site_packages_message: str | None = None


STATE = InstallState()


def online_access_allowed() -> bool:
    """Blender 4.2+ asks users whether add-ons may go online; 3.x has no such switch."""
    return getattr(bpy.app, "online_access", True)


def install_dir(create: bool = False) -> str:
    """The user-writable folder PyTorch is installed into (never the add-on's folder)."""
    if hasattr(bpy.utils, "extension_path_user") and ADDON_ID.startswith("bl_ext."):
        return bpy.utils.extension_path_user(ADDON_ID, path=INSTALL_SUBFOLDER, create=create)
    modules = bpy.utils.user_resource('SCRIPTS', path="modules", create=create)
    path = os.path.join(modules, INSTALL_SUBFOLDER)
    if create:
        os.makedirs(path, exist_ok=True)
    return path


def add_site_packages(path: str) -> str | None:
    """Append a folder to sys.path; returns a message when it cannot be used, else None."""
    if not path:
        return None
    path = os.path.normpath(bpy.path.abspath(path))
    if not os.path.isdir(path):
        return f"Folder not found: {path}"
    if path not in sys.path:
        sys.path.append(path)
        importlib.invalidate_caches()
    if not os.path.isdir(os.path.join(path, "torch")):
        return f"No 'torch' folder in {path}: pick the site-packages folder that contains it."
    return None


def add_configured_site_packages() -> None:
    """At register: make PyTorch installed earlier (or pointed to) importable."""
    add_site_packages(install_dir())
    prefs = get_preferences()
    if prefs is not None:
        STATE.site_packages_message = add_site_packages(prefs.torch_site_packages)


@dataclass(frozen=True)
class TorchStatus:
    found: bool
    text: str


def torch_status() -> TorchStatus:
    """Whether PyTorch can be imported, without importing it (that takes seconds)."""
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        cuda = getattr(getattr(torch, "version", None), "cuda", None)
        return TorchStatus(True, f"PyTorch {getattr(torch, '__version__', '?')} loaded "
                                 f"({'CUDA ' + cuda if cuda else 'CPU build'}).")
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return TorchStatus(False, "PyTorch is not installed in Blender's Python.")
    where = os.path.dirname(os.path.dirname(spec.origin or "")) or "?"
    return TorchStatus(True, f"PyTorch found in {where} (loads on the first Reconstruct).")


def pip_install_command(target: str, build: str) -> list[str]:
    """The pip command line installing PyTorch into `target` (Blender's own Python runs it)."""
    command = [sys.executable, "-m", "pip", "install", "--target", target, "--upgrade",
               "--no-input", "--disable-pip-version-check", "--progress-bar", "off",
               "--only-binary=:all:", "torch"]
    if sys.platform != "darwin":                     # macOS wheels come from PyPI
        command += ["--index-url", TORCH_INDEX[build], "--extra-index-url", "https://pypi.org/simple"]
    return command


def _refusal(build: str) -> str | None:
    """Why an install cannot start now, or None."""
    if not online_access_allowed():
        return ("Online access is disabled in Blender (Preferences > System > Network > Allow "
                "Online Access). Allow it and click Install PyTorch again, or install PyTorch "
                "yourself and set 'PyTorch site-packages' to its folder.")
    if build == "CUDA" and sys.platform == "darwin":
        return "There are no CUDA builds of PyTorch for macOS: choose the CPU build."
    if STATE.running:
        return "PyTorch is already being installed."
    return None


def _outcome(returncode: int, target: str, last_line: str) -> tuple[bool, str]:
    if returncode != 0 and "No module named pip" in last_line:
        return False, ("Blender's Python has no pip, so PyTorch cannot be installed from here. "
                       "Install PyTorch with another Python of the same version and set "
                       "'PyTorch site-packages' to its folder.")
    if returncode != 0:
        return False, (f"Installing PyTorch failed (pip exit code {returncode}): {last_line} "
                       f"Check the internet connection and free disk space, then try again; "
                       f"the full log is in the system console.")
    add_site_packages(target)
    if importlib.util.find_spec("torch") is None:
        return False, f"pip finished but PyTorch cannot be found in {target}."
    return True, f"PyTorch installed into {target}. Click Reconstruct in the Pixel2Mesh panel."


class P2M_OT_install_torch(bpy.types.Operator):
    """Download PyTorch with pip into your Blender user folder (needs internet access)"""

    bl_idname = "pixel2mesh.install_torch"
    bl_label = "Install PyTorch"
    bl_options = {'REGISTER'}

    build: bpy.props.EnumProperty(
        name="Build", default='CPU',
        items=(('CPU', "CPU", "Works everywhere"), ('CUDA', "CUDA", "For NVIDIA GPUs")))

    def execute(self, context):
        """Synchronous install (background mode, scripts)."""
        process, target = self._start()
        if process is None:
            return {'CANCELLED'}
        for line in process.stdout:
            print(line, end="")
            STATE.last_line = line.strip() or STATE.last_line
        return self._finish(process.wait(), target)

    def invoke(self, context, event):
        if bpy.app.background:
            return self.execute(context)
        self._process, self._target = self._start()
        if self._process is None:
            return {'CANCELLED'}
        self._lines = queue.Queue()
        threading.Thread(target=self._read_output, daemon=True).start()
        self._timer = context.window_manager.event_timer_add(0.25, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {'RUNNING_MODAL'}

    def modal(self, context, event):
        if event.type == 'ESC':
            self._process.terminate()
            self._stop(context)
            STATE.outcome, STATE.failed = "Installing PyTorch was cancelled.", True
            self.report({'WARNING'}, STATE.outcome)
            return {'CANCELLED'}
        if event.type != 'TIMER':
            return {'PASS_THROUGH'}
        while not self._lines.empty():
            line = self._lines.get_nowait()
            if line is None:
                self._stop(context)
                return self._finish(self._process.wait(), self._target)
            STATE.last_line = line
        _redraw_preferences()
        return {'PASS_THROUGH'}

    def cancel(self, context):
        self._process.terminate()
        self._stop(context)

    def _read_output(self) -> None:
        """Worker thread: forward pip's output lines; None marks the end."""
        for line in self._process.stdout:
            print(line, end="")
            if line.strip():
                self._lines.put(line.strip())
        self._lines.put(None)

    def _start(self):
        reason = _refusal(self.build)
        if reason:
            STATE.outcome, STATE.failed = reason, True
            self.report({'ERROR'}, reason)
            return None, None
        target = install_dir(create=True)
        command = pip_install_command(target, self.build)
        print("Pixel2Mesh: running", " ".join(command))
        try:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True, bufsize=1)
        except OSError as e:
            STATE.outcome, STATE.failed = f"Could not start pip ({e}).", True
            self.report({'ERROR'}, STATE.outcome)
            return None, None
        STATE.running, STATE.outcome, STATE.failed = True, "", False
        STATE.last_line = f"Installing PyTorch ({self.build}) into {target}..."
        return process, target

    def _stop(self, context) -> None:
        STATE.running = False
        if getattr(self, "_timer", None) is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        _redraw_preferences()

    def _finish(self, returncode: int, target: str):
        STATE.running = False
        ok, STATE.outcome = _outcome(returncode, target, STATE.last_line)
        STATE.failed = not ok
        self.report({'INFO'} if ok else {'ERROR'}, STATE.outcome)
        _redraw_preferences()
        return {'FINISHED'} if ok else {'CANCELLED'}


def _redraw_preferences() -> None:
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type in ('PREFERENCES', 'VIEW_3D'):
                area.tag_redraw()


def draw_status(layout, prefs) -> None:
    """The PyTorch box of the preferences: status, install button, existing folder."""
    status = torch_status()
    layout.label(text=status.text, icon='CHECKMARK' if status.found else 'ERROR')
    if STATE.running:
        layout.label(text=STATE.last_line[:120], icon='SORTTIME')
        layout.label(text="Press Esc over Blender to cancel.")
    elif STATE.outcome:
        layout.label(text=STATE.outcome, icon='ERROR' if STATE.failed else 'INFO')
    row = layout.row(align=True)
    row.prop(prefs, "torch_build", expand=True)
    op_row = row.row()
    op_row.enabled = not STATE.running
    op_row.operator(P2M_OT_install_torch.bl_idname, icon='IMPORT').build = prefs.torch_build
    if not online_access_allowed():
        layout.label(text="Online access is off (Preferences > System > Network).", icon='INFO')
    layout.label(text=f"Installs into: {install_dir()}")
    layout.prop(prefs, "torch_site_packages")
    if STATE.site_packages_message:
        layout.label(text=STATE.site_packages_message, icon='ERROR')


CLASSES = (P2M_OT_install_torch,)
