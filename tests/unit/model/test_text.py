"""Sizes as the classroom's flags take them (`--disk 10G`), the way `docker run --memory` reads them."""
from __future__ import annotations

import pytest

from dockerlab.model.text import size_in_bytes


@pytest.mark.parametrize("text, size", [("10G", 10 * 1024 ** 3), ("512m", 512 * 1024 ** 2), ("100", 100),
                                        ("1T", 1024 ** 4), (" 2k ", 2048)])
def test_sizes_read_as_docker_reads_memory_sizes(text, size):
    assert size_in_bytes(text) == size


@pytest.mark.parametrize("text", ["", "G", "1.5G", "-1G", "10X", "ten"])
def test_what_is_not_a_size_is_refused(text):
    with pytest.raises(ValueError):
        size_in_bytes(text)
