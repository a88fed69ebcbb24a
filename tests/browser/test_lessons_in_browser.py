"""Every lesson, run as a learner runs it: JupyterLab in a real browser, Run All Cells, wait for idle.

JupyterLab serves a temporary copy of `notebooks/` (the saved lessons are never modified) on
127.0.0.1 with a token; Playwright drives Debian's chromium (no browser download). For each lesson that
exists: no error output, and the things a learner must see rendered: the build progress widget
(lesson 01), the layer diagram as SVG (lessons 02, 05, 07, 08), and quiz widgets that answer when an
answer is picked and Check is pressed. A lesson that is not written yet is reported as skipped, never
as passed. Lesson 02's diagram is saved as the README's screenshot under `docs/` when DOCKERLAB_REFRESH_SCREENSHOT is set.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from dockerlab.engine.connection import connect_engine
from dockerlab.engine.registry import free_port

from tests.lesson_parts import without_missing_parts

playwright_api = pytest.importorskip("playwright.sync_api")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
DOCS = REPO / "docs"
REFRESH_SCREENSHOT = "DOCKERLAB_REFRESH_SCREENSHOT"  # set it to rewrite the README's screenshot of lesson 02
# Debian's chromium; elsewhere whichever chromium is on PATH; on Ubuntu, where apt's is a snap stub, the one
# `make setup` downloaded with Playwright (None: Playwright's own).
SYSTEM_CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def playwright_chromium() -> Path | None:
    with playwright_api.sync_playwright() as playwright:
        path = Path(playwright.chromium.executable_path)
    return path if path.exists() else None


CHROMIUM = Path(SYSTEM_CHROMIUM) if SYSTEM_CHROMIUM else playwright_chromium()
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LESSONS = sorted(path.stem for path in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
DIAGRAM_LESSONS = ["02", "05", "07", "08"]
# Safety nets so nothing can hang CI forever; never performance limits (ms): a lesson's cells may take
# up to LESSON_WAIT_MS, a page or menu step up to UI_WAIT_MS.
LESSON_WAIT_MS = 10 * 60 * 1000
UI_WAIT_MS = 3 * 60 * 1000
RUN_START_MS = 60 * 1000  # from Run All Cells to the first cell queued
QUIZ_WAIT_MS = 2 * 60 * 1000  # a check runs against the engine: generous, and still no perf limit
# Lab settings: every cell in the DOM (no virtual scrolling), no news or update pop-ups.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make setup installs it)")


def lesson_named(number: str) -> str | None:
    return next((stem for stem in LESSONS if stem.startswith(f"{number}-")), None)


def lesson_param(number: str, why: str):
    """The lesson with this number, or a skipped parameter saying it is not written yet."""
    stem = lesson_named(number)
    if stem is None:
        return pytest.param(number, marks=pytest.mark.skip(reason=f"lesson {number} does not exist yet: {why} not checked"))
    return stem


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    """JupyterLab on 127.0.0.1 serving a temporary copy of the lessons; yields (base url, token, root)."""
    root = tmp_path_factory.mktemp("lessons")
    shutil.copytree(NOTEBOOKS, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    engine = connect_engine()
    for path in sorted(root.glob("[0-9][0-9]-*.ipynb")):  # the parts this engine lacks (Swarm on Podman) left out
        notebook = nbformat.read(path, as_version=4)
        if without_missing_parts(notebook, engine, path.stem):
            nbformat.write(notebook, path)
    settings = tmp_path_factory.mktemp("lab-settings")
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port, token = free_port(), os.urandom(16).hex()
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path_factory.mktemp("lab-workspaces"))}
    log = (tmp_path_factory.mktemp("lab-log") / "jupyter.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
         f"--port={port}", f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
         "--ServerApp.port_retries=0"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(server, f"{base}/api/status?token={token}", log.name)
        yield base, token, root
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def wait_for_server(server: subprocess.Popen, status_url: str, log_name: str) -> None:
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {server.returncode}; see {log_name}")
        try:
            with urllib.request.urlopen(status_url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
PROMPTS = f"[...document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputPrompt')]"
STDERR = f'{PANEL} .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'


class RanLesson:
    """A lesson after Run All Cells in the browser: its page, and the notebook as saved afterwards."""

    def __init__(self, stem: str, page, saved: nbformat.NotebookNode, seconds: float) -> None:
        self.stem, self.page, self.saved, self.seconds = stem, page, saved, seconds

    def outputs(self, selector: str = ""):
        return self.page.locator(f"{PANEL} .jp-OutputArea-output {selector}".rstrip())


@pytest.fixture(scope="module")
def lesson(request, jupyter, browser) -> RanLesson:
    """Open the lesson, run all cells, wait until every cell has run and the kernel is idle, save."""
    base, token, root = jupyter
    stem = request.param
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(UI_WAIT_MS)
    started = time.monotonic()
    step = "open the lesson"
    try:
        # A workspace of its own, reset: only this lesson's tab, whatever earlier pages left open.
        page.goto(f"{base}/lab/workspaces/{stem}/tree/{stem}.ipynb?token={token}&reset")
        page.wait_for_selector(f"{PANEL} .jp-Notebook .jp-Cell")
        step = "wait for the kernel"
        wait_for_kernel_idle(page)
        # Every code cell's prompt must be on the page, or a check on the prompts would pass on none.
        code_cells = sum(cell.cell_type == "code" for cell in nbformat.read(root / f"{stem}.ipynb", as_version=4).cells)
        prompts = f"(() => {{ const all = {PROMPTS}; return all.length === {code_cells} ? all : null; }})()"
        page.wait_for_function(f"() => {prompts} !== null")
        step = "clear the saved outputs"  # so a saved output cannot pass for a fresh one
        click_menu(page, "Edit", "Clear Outputs of All Cells")
        page.wait_for_function(f"() => {prompts}?.every(p => !/\\d/.test(p.textContent))")
        step = "run all cells"
        run_all_cells(page, prompts)
        # Every cell has run, or one failed (Run All then stops: the cells after it stay [ ])...
        page.wait_for_function(f"() => {prompts}?.every(p => /\\[\\d+\\]/.test(p.textContent))"
                               f" || document.querySelector('{STDERR}') !== null", timeout=LESSON_WAIT_MS)
        # ...and none is still queued or running.
        page.wait_for_function(f"() => {prompts}?.some(p => p.textContent.includes('*')) === false",
                               timeout=LESSON_WAIT_MS)
        wait_for_kernel_idle(page)
        seconds = time.monotonic() - started
        step = "save the notebook"
        saved = save_and_read(page, root / f"{stem}.ipynb")
        step = "check it"
        yield RanLesson(stem, page, saved, seconds)
    except playwright_api.Error as error:
        shot = root.parent / f"{stem}-stuck.png"
        page.screenshot(path=str(shot))
        raise AssertionError(f"{stem}: could not {step} in the browser ({error.message.splitlines()[0]}); "
                             f"screenshot: {shot}") from None
    finally:
        page.close()
        shut_down_kernels(base, token, f"{stem}.ipynb")


def shut_down_kernels(base: str, token: str, path: str) -> None:
    """End the lesson's kernel (closing the page leaves it running), through the server's REST API."""
    headers = {"Authorization": f"token {token}"}
    with urllib.request.urlopen(urllib.request.Request(f"{base}/api/sessions", headers=headers)) as answer:
        sessions = json.load(answer)
    for session in sessions:
        if session.get("path") == path:
            request = urllib.request.Request(f"{base}/api/sessions/{session['id']}", method="DELETE", headers=headers)
            urllib.request.urlopen(request).close()


def wait_for_kernel_idle(page) -> None:
    page.wait_for_selector(f"{PANEL} .jp-Notebook-ExecutionIndicator[data-status='idle']")


def run_all_cells(page, prompts: str, attempts: int = 3) -> None:
    """Run > Run All Cells until a cell is queued or has run: under load a first click can be lost while the
    kernel connects (seen here: the kernel idle, every prompt still empty ten minutes later)."""
    for attempt in range(1, attempts + 1):
        click_menu(page, "Run", "Run All Cells")
        try:
            page.wait_for_function(f"() => {prompts}?.some(p => /[*\\d]/.test(p.textContent))", timeout=RUN_START_MS)
            return
        except playwright_api.TimeoutError:
            if attempt == attempts:
                raise


def click_menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(menu)}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def save_and_read(page, path: Path) -> nbformat.NotebookNode:
    """Save from the browser (File > Save Notebook) and read what the learner's run produced."""
    asked = time.time_ns()
    click_menu(page, "File", "Save Notebook")
    deadline = time.monotonic() + UI_WAIT_MS / 1000
    while path.stat().st_mtime_ns < asked:
        if time.monotonic() > deadline:
            raise playwright_api.Error("the notebook file was not written")
        time.sleep(0.2)
    while True:  # the server writes the file in one go, but read it only once it parses
        try:
            return nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001 - a half-written file: read again
            time.sleep(0.2)


@pytest.mark.parametrize("lesson", LESSONS, indirect=True)
def test_every_cell_runs_without_an_error(lesson):
    code_cells = [cell for cell in lesson.saved.cells if cell.cell_type == "code"]
    not_run = [cell.source.splitlines()[0] for cell in code_cells if cell.execution_count is None and cell.source.strip()]
    errors = [f"{output.ename}: {output.evalue}" for cell in code_cells for output in cell.outputs
              if output.output_type == "error"]
    errors += [output.text.strip().splitlines()[-1] for cell in code_cells for output in cell.outputs
               if output.get("name") == "stderr" and ("Traceback" in output.text or "✗" in output.text)]
    assert errors == [] and not_run == [], f"{lesson.stem}: errors {errors}, cells not run {not_run}"
    tracebacks = [text for text in lesson.page.locator(STDERR).all_inner_texts() if "Traceback" in text]
    assert tracebacks == []
    print(f"{lesson.stem}: all cells ran in {lesson.seconds:.1f} s")


@pytest.mark.parametrize("lesson", [lesson_param("01", "the build progress widget")], indirect=True)
def test_build_progress_widget_renders(lesson):
    widget = lesson.outputs(".dockerlab-build").first
    widget.wait_for(state="visible")
    assert widget.locator(".widget-progress, .progress").count() >= 1  # the step bar
    assert "steps" in widget.inner_text()  # "Done: N steps, M from the build cache."


@pytest.mark.parametrize("lesson", [lesson_param(number, "its layer diagram") for number in DIAGRAM_LESSONS],
                         indirect=True)
def test_layer_diagram_is_drawn_as_svg(lesson):
    # Inline <svg> (HTML or a widget), or JupyterLab's renderer for image/svg+xml (an <img> of SVG data).
    diagram = lesson.outputs(":is(svg, img[src^='data:image/svg+xml'])").first
    diagram.wait_for(state="visible")
    box = diagram.bounding_box()
    assert box and box["width"] > 50 and box["height"] > 50
    if lesson.stem.startswith("02-") and os.environ.get(REFRESH_SCREENSHOT):
        DOCS.mkdir(exist_ok=True)
        diagram.scroll_into_view_if_needed()
        diagram.screenshot(path=str(DOCS / "lesson-02-layers.png"))


def quiz_widgets(lesson: RanLesson):
    """Widget boxes holding a Check button (the innermost such box: the quiz, not a box around it)."""
    check = lesson.page.locator("button", has_text=re.compile(r"^\s*Check\s*$"))
    boxes = lesson.outputs(".widget-vbox").filter(has=check)
    return boxes.filter(has_not=lesson.page.locator(".widget-vbox").filter(has=check))


@pytest.mark.parametrize("lesson", LESSONS, indirect=True)
def test_quiz_widgets_answer(lesson):
    """A quiz widget: a widget box with a Check button; a changed answer gets a changed verdict."""
    quizzes = quiz_widgets(lesson)
    if quizzes.count() == 0:
        pytest.skip(f"{lesson.stem} has no quiz widget (yet)")
    quiz = quizzes.first
    quiz.scroll_into_view_if_needed()
    before = quiz.inner_text()
    change_answer(quiz)
    quiz.locator("button", has_text=re.compile(r"^\s*Check\s*$")).click()
    lesson.page.wait_for_function("([el, before]) => el.innerText !== before && el.innerText.trim() !== ''",
                                  arg=[quiz.element_handle(), before], timeout=QUIZ_WAIT_MS)
    assert quiz.inner_text().strip() != before.strip()


def change_answer(quiz) -> None:
    """Pick another option, tick another box, or type another answer, whichever the quiz offers."""
    radios = quiz.locator("input[type=radio]")
    if radios.count():
        unchecked = [index for index in range(radios.count()) if not radios.nth(index).is_checked()]
        radios.nth(unchecked[0]).check()
        return
    boxes = quiz.locator("input[type=checkbox]")
    if boxes.count():
        boxes.first.click()
        return
    quiz.locator("input[type=text], textarea").first.fill("surely not the answer")
