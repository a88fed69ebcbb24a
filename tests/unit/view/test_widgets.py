"""The live progress views end in the state a learner should see: a finished build or transfer is full."""
from dockerlab.model.progress import BuildProgress, TransferProgress
from dockerlab.view.widgets import BuildView, TransferView


def test_a_finished_build_fills_its_bar_even_when_the_last_steps_were_never_announced():
    progress = BuildProgress()
    view = BuildView("docker build -t partech .")
    for line in ["Step 1/3 : FROM dockerlab/busybox", "Step 2/3 : COPY hello /", "Step 3/3 : CMD [\"/hello\"]"]:
        progress.fold_line(line)
        if line.startswith("Step 1/"):
            view.update(progress, {})  # the builder's stream ends before the view hears of steps 2 and 3
    assert view.bar.description == "Step 1 of 3"
    view.finish(progress, failed=False)
    assert (view.bar.value, view.bar.max, view.bar.description) == (3, 3, "Step 3 of 3")
    assert view.step.value == "Done: 3 steps, 0 from the build cache."


def test_a_failed_build_keeps_the_step_it_stopped_at():
    progress = BuildProgress()
    view = BuildView("docker build -t partech .")
    for line in ["Step 1/2 : FROM dockerlab/busybox", "Step 2/2 : RUN false"]:
        progress.fold_line(line)
        view.update(progress, {})
    view.finish(progress, failed=True)
    assert (view.bar.value, view.bar.description, view.bar.bar_style) == (2, "Step 2 of 2", "danger")


def test_a_finished_push_shows_no_layer_still_waiting():
    progress = TransferProgress()
    progress.apply({"status": "Waiting", "id": "a1b2c3d4e5f6"})
    progress.apply({"status": "Pushed", "id": "0f9e8d7c6b5a"})
    progress.apply({"status": "latest: digest: sha256:" + "ab" * 32 + " size: 527"})
    view = TransferView("push", "127.0.0.1:5000/ruud/partech")
    view.update(progress)
    view.finish(progress, failed=False)
    labels = {bar.description: (label.value, bar.bar_style) for bar, label in view._bars.values()}
    assert labels == {"a1b2c3d4e5f6": ("Done", "success"), "0f9e8d7c6b5a": ("Pushed", "success")}


def test_a_failed_push_marks_the_unfinished_layers_failed():
    progress = TransferProgress()
    progress.apply({"status": "Waiting", "id": "a1b2c3d4e5f6"})
    view = TransferView("push", "127.0.0.1:5000/ruud/partech")
    view.update(progress)
    view.finish(progress, failed=True)
    (bar, label), = view._bars.values()
    assert (label.value, bar.bar_style) == ("Waiting", "danger")
