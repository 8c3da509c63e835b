#!/usr/bin/env python3
"""state-seeds.py DIR: seed slots for the state fuzz target, written from the
layout runtime/state.c documents (not from its code): an empty record, a
plausible one (two patches, three functions, a pending apply, a high-water
mark), and the forged records a hostile process owner would try."""
import struct, sys, os

HIGH_AT, HIGH_SIZE, NHIGH = 256, 80, 16
PATCHES_AT = HIGH_AT + NHIGH * HIGH_SIZE
PATCH_SIZE, NPATCH = 192, 64
FUNCS_AT = PATCHES_AT + NPATCH * PATCH_SIZE
FUNC_SIZE = 96

def slot(npatches, nfuncs, op=0, op_patch=0, nhigh=0, patches=(), funcs=(), highs=()):
    b = bytearray(FUNCS_AT + max(len(funcs), 1) * FUNC_SIZE)
    struct.pack_into("<IIIIII QQ", b, 0, npatches, nfuncs, op, op_patch, 4242, nhigh, 123456, 1700000000)
    for i, (bid, seq) in enumerate(highs):
        q = HIGH_AT + i * HIGH_SIZE
        b[q:q + len(bid)] = bid
        struct.pack_into("<IIQ", b, q + 64, len(bid), 0, seq)
    for i, (pid_, seq, nf, addr, size, name) in enumerate(patches):
        q = PATCHES_AT + i * PATCH_SIZE
        b[q:q + 16] = pid_
        struct.pack_into("<QQ", b, q + 16, seq, 1700000000)
        b[q + 32:q + 52] = b"\x11" * 20
        struct.pack_into("<IIQQ", b, q + 96, 20, nf, addr, size)
        b[q + 120:q + 120 + len(name)] = name
    for i, (addr, old, new, nsz, patch, name) in enumerate(funcs):
        q = FUNCS_AT + i * FUNC_SIZE
        struct.pack_into("<QQQQ", b, q, addr, old, new, nsz)
        b[q + 32:q + 40] = b"\xf3\x0f\x1e\xfa\x55\x48\x89\xe5"
        struct.pack_into("<I", b, q + 40, patch)
        b[q + 48:q + 48 + len(name)] = name
    return bytes(b)

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
seeds = {
    "seed-empty": slot(0, 0),
    "seed-two-patches": slot(2, 3, op=1, op_patch=1, nhigh=1,
        patches=[(b"A" * 16, 1, 2, 0x7f0000000000, 8192, b"server"),
                 (b"B" * 16, 2, 1, 0x7f0000010000, 4096, b"server")],
        funcs=[(0x555500001000, 64, 0x7f0000000000, 40, 0, b"parse"),
               (0x555500002000, 32, 0x7f0000000040, 20, 0, b"check"),
               (0x555500001000, 64, 0x7f0000010000, 48, 1, b"parse")],
        highs=[(b"\x11" * 20, 2)]),
    "seed-forged-index": slot(1, 2, patches=[(b"C" * 16, 1, 2, 0x7f0000000000, 4096, b"x")],
        funcs=[(0x1000, 16, 0x7f0000000000, 8, 0, b"f"), (0x2000, 16, 0x7f0000000010, 8, 0x7fffffff, b"g")]),
    "seed-forged-counts": slot(0xffffffff, 0xffffffff, op=2, op_patch=99),
    "seed-outside-image": slot(1, 1, patches=[(b"D" * 16, 1, 1, 0x7f0000000000, 4096, b"x" * 64)],
        funcs=[(0x1000, 16, 0x10, 8, 0, b"n" * 44)]),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
