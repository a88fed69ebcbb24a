"""`dockerlab lab` (what `make lab` ends with) serves the lessons in JupyterLab."""
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from dockerlab.engine.registry import free_port

REPO = Path(__file__).resolve().parents[3]


def test_dockerlab_lab_serves_the_lesson_notebooks():
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("dockerlab")), "lab", str(REPO / "notebooks"), "--no-browser",
         f"--port={port}", "--token=test-token"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/contents?token=test-token"
        listing = None
        for _ in range(120):  # JupyterLab takes a few seconds to start
            try:
                listing = json.load(urllib.request.urlopen(url))
                break
            except OSError:
                assert server.poll() is None, "JupyterLab exited"
                time.sleep(0.5)
        names = {item["name"] for item in listing["content"]}
        assert {"00-setup.ipynb", "01-first-image.ipynb"} <= names
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token=test-token").read().decode()
        assert "JupyterLab" in page
    finally:
        server.terminate()
        server.wait()
