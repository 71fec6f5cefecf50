"""The batch loop: read a chunk of images, reconstruct them together, write each one's files.

    for each chunk of --batch-size images:
        read pixels + choose camera      (a bad image fails alone, here)
        model.reconstruct_many(chunk)    (if the chunk fails, its images are retried one by
                                          one, so only the bad one fails)
        write the requested files        (atomically; a failure removes this image's new files)

A bad image never stops the batch: it is recorded with its reason and the loop goes on.
Images whose outputs all exist are skipped (unless overwrite), which is how an interrupted
batch resumes. With --combined, the combined .blend is written once at the end from every
image's mesh, so it is only up to date when every image was converted in the same run.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..atomic_files import write_bytes
from ..errors import P2MError
from ..image_io import exif_orientation, orient_intrinsics
from ..stage_names import STAGE_NAMES
from . import mesh_files
from .image_reader import read_image
from .inputs import ImageJob
from .intrinsics_source import CameraChoice, IntrinsicsSource
from .outputs import MESH_FORMATS, OutputPlan
from .progress import Progress
from .summary import ImageRecord


@dataclass(frozen=True)
class BatchSettings:
    outputs: OutputPlan
    stage: str = STAGE_NAMES[-1]
    crop: str | None = None
    background: str = "keep"            # keep | remove | auto (blender_p2m.api)
    batch_size: int = 8
    overwrite: bool = False
    debug: bool = False


@dataclass
class LoadedImage:
    job: ImageJob
    rgba: np.ndarray                    # (H, W, 4) float32
    camera: CameraChoice
    load_seconds: float


@dataclass
class BatchResult:
    records: list[ImageRecord] = field(default_factory=list)
    combined_error: str | None = None

    @property
    def failed(self) -> bool:
        return self.combined_error is not None or any(r.status == "failed" for r in self.records)


def describe_failure(error: BaseException, debug: bool = False) -> str:
    """The reason recorded for a failed image: the P2MError's own words, else a bug report."""
    if isinstance(error, P2MError):
        return str(error)
    if isinstance(error, OSError):              # disk full, folder removed, permissions...
        where = f" ({error.filename})" if error.filename else ""
        return f"file system error: {error.strerror or error}{where}"
    if debug:
        traceback.print_exception(type(error), error, error.__traceback__)
    return f"internal error: {type(error).__name__}: {error}"


class BatchRunner:
    """Converts a list of jobs with one loaded model, appending an ImageRecord per image to
    `result` as it goes (so an interrupted run still has a record of what was done)."""

    def __init__(self, model, settings: BatchSettings, cameras: IntrinsicsSource, progress: Progress,
                 result: BatchResult, previous: dict[str, dict] | None = None):
        self.model = model
        self.settings = settings
        self.outputs = settings.outputs
        self.cameras = cameras
        self.progress = progress
        self.result = result
        self.previous = previous or {}
        self.combined_scenes = []      # SceneContent of every converted image (--combined)

    # ------------------------------------------------------------------ plan
    def pending(self, jobs: list[ImageJob]) -> list[ImageJob]:
        """Jobs to convert; the others are recorded as skipped now."""
        if self.settings.overwrite:
            return list(jobs)
        unfinished = [job for job in jobs if not self.outputs.is_finished(job.name)]
        if self.outputs.combined and (unfinished or not self.outputs.combined_path.is_file()):
            return list(jobs)          # the combined file needs every mesh from this run
        unfinished_names = {job.name for job in unfinished}
        for job in jobs:
            if job.name not in unfinished_names:
                self._skip(job)
        return unfinished

    def _skip(self, job: ImageJob) -> None:
        before = self.previous.get(job.name, {})
        self.result.records.append(ImageRecord(
            str(job.source), job.name, "skipped", "all outputs exist (use --overwrite to redo)",
            vertices=before.get("vertices"), faces=before.get("faces"), camera=before.get("camera"),
            outputs=[p.name for p in self.outputs.files_for(job.name)]))
        self.progress.report(job.name, "skipped, outputs exist", worked=False)

    # ------------------------------------------------------------------ run
    def run(self, jobs: list[ImageJob]) -> None:
        todo = self.pending(jobs)
        size = max(1, self.settings.batch_size)
        for start in range(0, len(todo), size):
            self._run_chunk(todo[start:start + size])
        if self.outputs.combined and self.combined_scenes:
            self._write_combined()

    def _run_chunk(self, chunk: list[ImageJob]) -> None:
        loaded = []
        for job in chunk:
            began = time.perf_counter()
            try:
                rgba = read_image(job.source)
                camera = self.cameras.for_image(job.source)
                if camera.intrinsics is not None:    # a stored grid's intrinsics turn with EXIF
                    camera = replace(camera, intrinsics=orient_intrinsics(
                        camera.intrinsics, exif_orientation(job.source), rgba.shape[1], rgba.shape[0]))
                loaded.append(LoadedImage(job, rgba, camera, time.perf_counter() - began))
            except Exception as error:
                self._fail(job, error, time.perf_counter() - began)
        if not loaded:
            return
        began = time.perf_counter()
        outcomes = self._reconstruct(loaded)
        share = (time.perf_counter() - began) / len(loaded)
        for item, outcome in zip(loaded, outcomes):
            seconds = item.load_seconds + share
            if isinstance(outcome, BaseException):
                self._fail(item.job, outcome, seconds)
            else:
                self._finish(item, outcome, seconds)

    def _reconstruct(self, loaded: list[LoadedImage]) -> list:
        """Reconstructions in order; an exception in place of each image that failed."""
        try:
            return self.model.reconstruct_many([i.rgba for i in loaded],
                                               [i.camera.intrinsics for i in loaded],
                                               batch_size=len(loaded), crop=self.settings.crop,
                                               background=self.settings.background)
        except Exception as error:
            if len(loaded) == 1:
                return [error]
        outcomes = []
        for item in loaded:                  # find the bad image(s): one at a time
            try:
                outcomes.append(self.model.reconstruct(item.rgba, item.camera.intrinsics,
                                                       crop=self.settings.crop,
                                                       background=self.settings.background))
            except Exception as error:
                outcomes.append(error)
        return outcomes

    def _fail(self, job: ImageJob, error: BaseException, seconds: float) -> None:
        reason = describe_failure(error, self.settings.debug)
        self.result.records.append(ImageRecord(str(job.source), job.name, "failed", reason,
                                               seconds=round(seconds, 3)))
        self.progress.report(job.name, f"FAILED: {reason}")

    def _finish(self, item: LoadedImage, reconstruction, seconds: float) -> None:
        vertices, faces = reconstruction.stage(self.settings.stage)
        began = time.perf_counter()
        content = self._scene_content(item, vertices, faces, reconstruction.intrinsics)
        try:
            files = self._write_files(item, content, self._mask_of(item, reconstruction))
        except Exception as error:
            self._fail(item.job, error, seconds + time.perf_counter() - began)
            return
        seconds += time.perf_counter() - began
        if self.outputs.combined:
            self.combined_scenes.append(content)
        self.result.records.append(ImageRecord(
            str(item.job.source), item.job.name, "done", seconds=round(seconds, 3),
            vertices=len(vertices), faces=len(faces), camera=item.camera.source,
            outputs=[p.name for p in files]))
        self.progress.report(item.job.name, f"done in {seconds:.2f} s ({len(vertices)} vertices)")

    def _scene_content(self, item: LoadedImage, vertices, faces, intrinsics):
        from ..blender.scene import SceneContent  # no bpy import: just the description

        props = {"p2m_source_image": str(item.job.source), "p2m_weights": str(self.model.weights_path),
                 "p2m_stage": self.settings.stage, "p2m_crop": self.settings.crop or "none"}
        return SceneContent(item.job.name, vertices, faces, intrinsics, item.job.source,
                            item.camera.pose, props)

    # ------------------------------------------------------------------ files
    def _wanted(self, path: Path) -> bool:
        return self.settings.overwrite or not path.is_file()

    def _mask_of(self, item: LoadedImage, reconstruction) -> np.ndarray | None:
        """The silhouette to write and preview when masks are asked for: the removed
        background's, the image's alpha, or the whole image when nothing was removed."""
        if not self.outputs.masks:
            return None
        mask = getattr(reconstruction, "mask", None)
        return mask if mask is not None else np.ones(item.rgba.shape[:2], np.float32)

    def _write_files(self, item: LoadedImage, content, mask: np.ndarray | None = None) -> list[Path]:
        """Write the image's missing files (all with overwrite) and return all its files; if
        one fails, those written here are removed again and the error propagates."""
        from .preview import mask_png

        name = item.job.name
        written: list[Path] = []
        try:
            mask_path = self.outputs.path(name, "mask")
            if mask is not None and self._wanted(mask_path):
                write_bytes(mask_path, mask_png(mask))
                written.append(mask_path)
            for fmt in self.outputs.formats:
                path = self.outputs.path(name, fmt)
                if fmt in MESH_FORMATS and self._wanted(path):
                    data = mesh_files.WRITERS[fmt](content.vertices, content.faces, name,
                                                   content.intrinsics)
                    write_bytes(path, data)
                    written.append(path)
            blend_path = self.outputs.path(name, "blend")
            preview_path = self.outputs.path(name, "preview")
            want_blend = "blend" in self.outputs.formats and self._wanted(blend_path)
            want_preview = self.outputs.preview and self._wanted(preview_path)
            if want_blend or want_preview:
                written += self._write_scene_files(item, content, blend_path if want_blend else None,
                                                   preview_path if want_preview else None, mask)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        return self.outputs.files_for(name)

    def _write_scene_files(self, item: LoadedImage, content, blend_path, preview_path,
                           mask: np.ndarray | None = None) -> list[Path]:
        from ..blender.blend_file import write_blend
        from ..blender.scene import build_scene, remove_datablocks
        from .preview import write_preview

        built = build_scene(content)
        written = []
        try:
            if blend_path is not None:
                write_blend(blend_path, [built.scene])
                written.append(blend_path)
            if preview_path is not None:
                write_preview(preview_path, item.rgba, built.scene, mask)
                written.append(preview_path)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        finally:
            remove_datablocks(built.datablocks)
        return written

    def _write_combined(self) -> None:
        from ..blender.blend_file import write_blend
        from ..blender.scene import build_scene, remove_datablocks

        built = []
        path = self.outputs.combined_path
        try:
            for content in self.combined_scenes:
                built.append(build_scene(content))
            write_blend(path, [b.scene for b in built])
            print(f"wrote {path} ({len(built)} scenes)", flush=True)
        except Exception as error:
            self.result.combined_error = f"{path.name}: {describe_failure(error, self.settings.debug)}"
            print(f"FAILED: {self.result.combined_error}", flush=True)
        finally:
            for b in built:
                remove_datablocks(b.datablocks)
