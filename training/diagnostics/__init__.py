"""One-off measurements around training, each a command (python -m training.diagnostics.NAME).

    fit_ceiling      the template fitted to each ground truth with no network: what the
                     template and the loss allow
    metric_ceiling   what a perfect 2466-vertex prediction scores
    compare          two weights on the same views, with the paired difference
    model_card       weights/MODEL_CARD.md written from the run's artefacts
    export_examples  dataset views as example images with sidecar intrinsics

They use the core of training (data, losses, metrics, evaluation); the core never uses them.
"""
