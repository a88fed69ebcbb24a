"""Which busybox the base image may be made from: static, and for the engine's machine."""
import struct

from dockerlab.engine.base_image import is_static_elf

X86_64, AARCH64 = 62, 183
PT_LOAD, PT_INTERP = 1, 3


def elf(path, machine: int, *segments: int):
    """A 64-bit little-endian ELF header with one program header per segment type."""
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    header = struct.pack("<16sHHIQQQIHHHHHH", ident, 2, machine, 1, 0, 64, 0, 0, 64, 56, len(segments), 0, 0, 0)
    path.write_bytes(header + b"".join(struct.pack("<II48x", kind, 5) for kind in segments))
    return path


def test_a_static_binary_is_taken_for_an_engine_of_its_machine(tmp_path):
    busybox = elf(tmp_path / "busybox", X86_64, PT_LOAD)
    assert is_static_elf(busybox) and is_static_elf(busybox, "x86_64") and is_static_elf(busybox, "amd64")
    assert not is_static_elf(busybox, "aarch64") and not is_static_elf(busybox, "arm64")
    assert is_static_elf(elf(tmp_path / "arm", AARCH64, PT_LOAD), "aarch64")


def test_a_dynamic_binary_is_not_static(tmp_path):
    assert not is_static_elf(elf(tmp_path / "dynamic", X86_64, PT_LOAD, PT_INTERP), "x86_64")
