"""The classroom at scale on this host: N students, each running lesson 01 top to bottom through the hub.

For N = 1, 2, ... up to MAX (default 3): a classroom of N students is brought up (`dockerlab classroom up
--trust-students`, the student image built before timing), every student's server is started through the
hub's REST API at once, and in each server lesson 01 (with its answers) runs cell by cell on a kernel
reached through the hub's proxy (the Jupyter server's REST and websocket API, with the kit's hub token).
Prints per student: time to first lesson (server start asked -> lesson 01 done), memory of the server idle
(ready, before the lesson) and active (after the lesson, its kernel and images still there), and what their
disk holds then (their work and their engine's images: the blocks the host pays for); then the largest N
whose every student finished under 2x the single-student time. Students' disks are deleted after each N.
Run: `.venv/bin/python bench/classroom.py [MAX]` (root, the host engine answering, no classroom running).
"""
from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from dockerlab.app import classroom
from dockerlab.engine import classroom as room
from dockerlab.engine.connection import connect_engine
from dockerlab.engine.registry import free_port
from dockerlab.model.text import human_size

REPO = Path(__file__).resolve().parents[1]
LESSON = "01-first-image.ipynb"


def api(state: dict, method: str, path: str, body: dict | None = None):
    return classroom.hub_api(state, method, path, body)


def server_call(state: dict, student: str, method: str, path: str, body: dict | None = None):
    """A student's Jupyter server, through the hub's proxy, with the kit's token (scope access:servers)."""
    return classroom.hub_request(state, method, f"user/{student}/api{path}", body)


async def run_lesson(state: dict, student: str) -> list[str]:
    """Every code cell of lesson 01 with its answers (the instructor version: the exercise is built and checked
    too, as by a student who finishes it), in order, on a new kernel in the student's server; an error fails.
    Returns what the cells printed and showed (as text)."""
    notebook = nbformat.read(REPO / "notebooks" / LESSON, as_version=4)
    kernel = server_call(state, student, "POST", "/kernels", {"name": "python3"})
    token = (classroom.classroom_dir() / "api-token").read_text().strip()
    ws_url = state["url"].replace("http", "ws", 1) + f"user/{student}/api/kernels/{kernel['id']}/channels"
    socket_ = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}))
    session, printed = uuid.uuid4().hex, []
    try:
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            msg_id = uuid.uuid4().hex
            await socket_.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session, "username": student,
                           "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell",
                "content": {"code": cell.source, "silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            while True:
                message = json.loads(await socket_.read_message())
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if message["msg_type"] == "stream":
                    printed.append(message["content"]["text"])
                if message["msg_type"] in ("execute_result", "display_data"):
                    printed.append(message["content"]["data"].get("text/plain", ""))
                if message["msg_type"] == "error":
                    raise RuntimeError(f"{student}: lesson 01 failed: {message['content']['ename']}")
                if message["msg_type"] == "execute_reply":
                    break
    finally:
        socket_.close()
        server_call(state, student, "DELETE", f"/kernels/{kernel['id']}")
    return printed


async def one_student(state: dict, student: str, engine) -> dict:
    asked = time.perf_counter()
    api(state, "POST", f"/users/{student}/server")
    while not ((api(state, "GET", f"/users/{student}")["servers"] or {}).get("") or {}).get("ready"):
        await asyncio.sleep(0.5)
    ready = time.perf_counter()
    container = room.student_containers(engine)[student]["Id"]
    idle, _ = room.container_usage(engine, container)
    await run_lesson(state, student)
    done = time.perf_counter()
    active, _ = room.container_usage(engine, container)
    disk = (classroom.disks_dir() / f"{student}.img").stat().st_blocks * 512
    return {"student": student, "ready": ready - asked, "lesson": done - ready, "first_lesson": done - asked,
            "idle": idle, "active": active, "disk": disk}


async def class_of(state: dict, engine) -> list[dict]:
    return await asyncio.gather(*(one_student(state, student, engine) for student in state["students"]))


def main(max_n: int) -> None:
    engine = connect_engine()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["DOCKERLAB_STATE_DIR"] = folder
        roster = Path(folder) / "roster.csv"
        single, largest = None, 0
        for n in range(1, max_n + 1):
            roster.write_text("username\n" + "".join(f"bench{i}\n" for i in range(1, n + 1)))
            state = classroom.up(roster, "127.0.0.1", free_port(), trust_students=True, start_all=False,
                                 limits=classroom.Limits(), say=lambda line: None)
            try:
                results = asyncio.run(class_of(state, engine))
            finally:
                classroom.down(engine, delete_work=True)
            worst = max(row["first_lesson"] for row in results)
            single = single or worst
            for row in results:
                print(f"N={n} {row['student']}: time to first lesson {row['first_lesson']:.1f} s (server ready "
                      f"{row['ready']:.1f} s + lesson 01 {row['lesson']:.1f} s); memory idle "
                      f"{human_size(row['idle'])}, active {human_size(row['active'])}; disk used "
                      f"{human_size(row['disk'])}", flush=True)
            ratio = worst / single
            print(f"N={n}: slowest {worst:.1f} s = {ratio:.2f}x the single student; median idle memory "
                  f"{human_size(statistics.median(r['idle'] for r in results))}, median active "
                  f"{human_size(statistics.median(r['active'] for r in results))}", flush=True)
            if ratio > 2:
                break
            largest = n
        print(f"largest N with every student under 2x the single-student time: {largest} (tried up to {max_n})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
