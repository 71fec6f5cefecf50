"""Training configuration: one dataclass, saved in every checkpoint and log of a run."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained.

    The optimiser defaults follow the paper (Adam, lr 3e-5 dropped to 1e-5 after 80% of
    the run, weight decay 1e-5); recipes for small CPU runs raise the learning rate.
    """

    model: str = "compact"
    epochs: int = 50
    batch_size: int = 8
    lr: float = 3e-5
    lr_drop_at: tuple[float, ...] = (0.8,)  # fractions of total steps; each drop multiplies
    lr_drop_factor: float = 1 / 3           # the rate by this (3e-5 -> 1e-5)
    weight_decay: float = 1e-5
    grad_clip: float = 5.0
    points: int = 4000               # ground-truth points per sample
    seed: int = 0
    workers: int = 1                 # data-loading processes per training process
    log_every: int = 10              # steps between log.jsonl records
    checkpoint_every: int = 500      # steps
    keep_checkpoints: int = 3
    val_every: int = 500             # steps
    val_views: int = 64              # validation views used for the periodic F-score
    augment_background: float = 0.5
    augment_colour_jitter: float = 0.2
    amp: bool = True                 # mixed precision on CUDA (bfloat16); ignored on CPU
    max_hours: float = 0.0           # stop (with a checkpoint) after this long; 0 = no limit
    # Encoder (lite0): start from the ImageNet weights (new runs only, not on resume), keep it
    # frozen, or train it at a fraction of the learning rate.
    pretrained_encoder: bool = True
    freeze_encoder: bool = False
    encoder_lr_scale: float = 1.0
    silhouette_weight: float = 0.0   # BCE of the silhouette head against the view's mask
    surface_points: int = 0          # > 0: chamfer on that many points on each stage's surface too
    # Backgrounds: a photo library (train photos only) and the photo/flat/white mix;
    # "" = the augment_background flat colours on white, as before.
    photos: str = ""
    background_mix: str = ""
    data_weights: tuple[float, ...] = ()   # proportions of the --data sets; () = by size

    def to_dict(self) -> dict:
        return asdict(self)

    def __post_init__(self):
        # One drop may be given as a number (older checkpoints, JSON lists): always a tuple.
        drops = self.lr_drop_at
        object.__setattr__(self, "lr_drop_at", tuple(sorted(
            float(x) for x in (drops if isinstance(drops, (list, tuple)) else (drops,)))))
        object.__setattr__(self, "data_weights", tuple(float(x) for x in self.data_weights))
        if any(w < 0 for w in self.data_weights) or (self.data_weights and sum(self.data_weights) <= 0):
            raise ValueError(f"data_weights must be >= 0 with a positive sum, got {list(self.data_weights)}")
        if self.encoder_lr_scale < 0 or self.silhouette_weight < 0 or self.surface_points < 0:
            raise ValueError("encoder_lr_scale, silhouette_weight and surface_points must be >= 0")

    def lr_at(self, step: int, total_steps: int) -> float:
        """The step-wise schedule: lr, multiplied by lr_drop_factor at every drop passed."""
        passed = sum(step >= fraction * total_steps for fraction in self.lr_drop_at)
        return self.lr * self.lr_drop_factor ** passed

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


# Recipes: named starting points; command-line flags override single fields.
RECIPES = {
    "paper": TrainConfig(model="paper", epochs=50, batch_size=1),
    # The bundled weights: compact model on the procedural library, 2-core CPU, < 2.5 h.
    # On the 300-per-category build (12,480 training views): 7 epochs of 1,560 steps,
    # 3e-4, then 1e-4 from step 5,242, then 3.3e-5 from step 9,828 (about 1.9 h here).
    "compact": TrainConfig(model="compact", epochs=7, batch_size=8, lr=3e-4, lr_drop_at=(0.48, 0.9),
                           workers=1, checkpoint_every=200, val_every=400),
    "tiny": TrainConfig(model="tiny", epochs=1, batch_size=2, lr=1e-3, points=500, workers=0,
                        checkpoint_every=5, val_every=5, val_views=4, augment_background=0.0,
                        augment_colour_jitter=0.0),
    # Pretrained Lite0, fine-tuned at a tenth of the rate; the silhouette head learns beside
    # (its BCE ~0.7 -> ~0.05 weighs about a tenth of the chamfer terms at 1e-3).
    "lite0": TrainConfig(model="lite0", epochs=7, batch_size=8, lr=3e-4, lr_drop_at=(0.48, 0.9),
                         workers=1, checkpoint_every=200, val_every=400, encoder_lr_scale=0.1,
                         silhouette_weight=1e-3),
    "lite0_tiny": TrainConfig(model="lite0_tiny", epochs=1, batch_size=2, lr=1e-3, points=500, workers=0,
                              checkpoint_every=5, val_every=5, val_views=4, augment_background=0.0,
                              augment_colour_jitter=0.0, encoder_lr_scale=0.1, silhouette_weight=1e-3),
}
