"""`docker system df` from the engine's disk-usage answer: what images, containers, volumes and the build
cache take, and what pruning could free (RECLAIMABLE: what nothing in use needs; not the bytes a layer
keeps for files a later layer deleted)."""
from __future__ import annotations

from .text import human_size

COLUMNS = ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]


def _reclaimable(reclaimable: int, total: int) -> str:
    """`2.0 MB (40%)` as the CLI shows it (no share for an empty total)."""
    return f"{human_size(reclaimable)} ({reclaimable * 100 // total}%)" if total > 0 else human_size(reclaimable)


def disk_usage_rows(df: dict) -> list[list[str]]:
    """The four rows of `docker system df`, computed as the docker CLI does from `GET /system/df`."""
    images = df.get("Images") or []
    image_total = df.get("LayersSize") or 0
    used = sum(max(item.get("Size", 0) - item.get("SharedSize", 0), 0) for item in images
               if item.get("Containers", 0) > 0 and item.get("SharedSize", -1) != -1)
    containers = df.get("Containers") or []
    container_total = sum(item.get("SizeRw") or 0 for item in containers)
    stopped = sum(item.get("SizeRw") or 0 for item in containers if item.get("State") != "running")
    volumes = df.get("Volumes") or []
    sizes = [((item.get("UsageData") or {}).get("Size", -1), (item.get("UsageData") or {}).get("RefCount", 0))
             for item in volumes]
    volume_total = sum(size for size, _ in sizes if size > 0)
    unused = sum(size for size, refs in sizes if size > 0 and refs == 0)
    cache = df.get("BuildCache") or []
    cache_total = sum(item.get("Size", 0) for item in cache)
    cache_free = sum(item.get("Size", 0) for item in cache if not item.get("InUse") and not item.get("Shared"))
    return [
        ["Images", str(len(images)), str(sum(1 for item in images if item.get("Containers", 0) > 0)),
         human_size(image_total), _reclaimable(image_total - used, image_total)],
        ["Containers", str(len(containers)), str(sum(1 for item in containers if item.get("State") == "running")),
         human_size(container_total), _reclaimable(stopped, container_total)],
        ["Local Volumes", str(len(volumes)), str(sum(1 for _, refs in sizes if refs > 0)),
         human_size(volume_total), _reclaimable(unused, volume_total)],
        ["Build Cache", str(len(cache)), str(sum(1 for item in cache if item.get("InUse"))),
         human_size(cache_total), human_size(cache_free)],
    ]
