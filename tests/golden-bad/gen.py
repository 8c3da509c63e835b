#!/usr/bin/env python3
"""gen.py: write the known-bad inputs of tests/golden-bad/ (zstd's
tests/golden-decompression-errors/ is the model).

    tests/golden-bad/gen.py             write every bad file from base/
    tests/golden-bad/gen.py --base BIN  first rebuild base/ with gcc and BIN/hpbuild
    tests/golden-bad/gen.py --record BIN
                                        run each case as run.sh does and write its
                                        .err; the message must contain the words
                                        the case table gives, or nothing is written

Each case is one file in hpx/ (read by hpinspect), obj/ (the NEW.o of hpdiff,
with base/old.o as OLD.o) or image/ (the --target of hpbuild), derived from
the valid files in base/ by changing one thing: truncated at every structural
boundary, lengths past the end, offsets that overflow, zero entry sizes, huge
counts, zstd bombs, signature blocks that lie about their length, reserved
fields set, duplicate sections. NAME.err holds the one line the tool must
print on stderr and its exit status ("exit 1"). run.sh compares.

Needs python3 and the zstd command. The files are committed; rerun this when
base/ or a case changes, and review the .err diff before committing it.
"""
import hashlib
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = os.path.join(HERE, 'base')


def u16(b, o):
    return struct.unpack_from('<H', b, o)[0]


def u32(b, o):
    return struct.unpack_from('<I', b, o)[0]


def u64(b, o):
    return struct.unpack_from('<Q', b, o)[0]


def put(b, fmt, o, v):
    b = bytearray(b)
    struct.pack_into('<' + fmt, b, o, v)
    return bytes(b)


def read(name):
    with open(os.path.join(BASE, name), 'rb') as f:
        return f.read()


# ----- zstd ------------------------------------------------------------------

def zstd(data, *args):
    """A zstd frame of data, written by the zstd command (content size and
    checksum present, as hpbuild writes them)."""
    with tempfile.NamedTemporaryFile() as t:
        t.write(data)
        t.flush()
        return subprocess.run(['zstd', '-q', '-c', '-19'] + list(args) + [t.name],
                              check=True, capture_output=True).stdout


def unzstd(frame):
    return subprocess.run(['zstd', '-q', '-d', '-c'], input=frame, check=True,
                          capture_output=True).stdout


def fcs_field(frame):
    """(offset, size) of a zstd frame's Frame_Content_Size field (RFC 8878
    3.1.1.1): after the magic, the descriptor, the window descriptor (absent in
    single-segment frames) and the dictionary id."""
    fhd = frame[4]
    single = (fhd >> 5) & 1
    did = [0, 1, 2, 4][fhd & 3]
    fcs = [1 if single else 0, 2, 4, 8][fhd >> 6]
    return 5 + (0 if single else 1) + did, fcs


# ----- .hpx ------------------------------------------------------------------

MAGIC = b'\x89HPX\r\n\x1a\n'
STRINGS, PATCH, OBJECTS, FUNCS, MASKS, SYMBOLS, SEGMENTS, IMAGE, FIXUPS, ADDRS = range(1, 11)
SEC_NAMES = {1: 'strings', 2: 'patch', 3: 'objects', 4: 'funcs', 5: 'masks', 6: 'symbols',
             7: 'segments', 8: 'image', 9: 'fixups', 10: 'addrs'}
ENTSIZE = {1: 1, 2: 88, 3: 16, 4: 88, 5: 8, 6: 32, 7: 24, 8: 1, 9: 24, 10: 8}


def hpx_parse(f):
    """The header, the payload's sections {type: bytes} and the bytes after the body."""
    body = u64(f, 16)
    payload = unzstd(f[64 + 16:64 + body])
    secs = {}
    for i in range(u32(payload, 0)):
        t, ent, off, size = struct.unpack_from('<IIQQ', payload, 8 + 24 * i)
        secs[t] = payload[off:off + size]
    return f[:64], secs, f[64 + body:]


def payload_of(secs, order=None, table=None):
    """Lay sections out as hpx_write does. order lists the types (repeats
    allowed); table(i, type, entsize, offset, size) may change a header."""
    order = order or sorted(secs)
    out = bytearray(struct.pack('<II', len(order), 0))
    at = 8 + 24 * len(order)
    blobs = []
    for i, t in enumerate(order):
        b = secs[t]
        h = [t, ENTSIZE.get(t, 1), at, len(b)]
        if table:
            h = table(i, *h) or h
        out += struct.pack('<IIQQ', *h)
        blobs.append(b + b'\0' * (-len(b) % 8))
        at += len(blobs[-1])
    for b in blobs:
        out += b
    return bytes(out)


def container(payload, frame=None, psize=None, comp=1, body_reserved=0, header=None,
              patch_id=None, sigs=b'', check=True):
    """A whole container around payload, every sum recomputed unless told."""
    frame = zstd(payload) if frame is None else frame
    body = struct.pack('<QII', len(payload) if psize is None else psize, comp,
                       body_reserved) + frame
    h = bytearray(MAGIC + struct.pack('<HHIQ', 1, 64, 0, len(body)) + b'\0' * 40)
    h[24:40] = patch_id if patch_id is not None else hashlib.sha256(payload).digest()[:16]
    struct.pack_into('<QQ', h, 40, 1, 1700000000)
    if header:
        header(h)
    if check:
        h[56:64] = hashlib.sha256(bytes(h[:56]) + body).digest()[:8]
    return bytes(h) + body + sigs


def recheck(f):
    """f with its header's check field recomputed."""
    f = bytearray(f)
    body = u64(f, 16)
    if 16 <= body <= len(f) - 64:
        f[56:64] = hashlib.sha256(bytes(f[:56]) + bytes(f[64:64 + body])).digest()[:8]
    return bytes(f)


def sig_block(alg=1, n=64, block=None, reserved=0, sig=None):
    return (b'HSG1' + struct.pack('<IHHI', 48 + n if block is None else block, alg, n, reserved)
            + b'\x5a' * 32 + (b'\x33' * n if sig is None else sig))


def rec(secs, t, i, fmt, off, v):
    """secs with field off of record i of section t set to v."""
    s = dict(secs)
    s[t] = put(s[t], fmt, ENTSIZE[t] * i + off, v)
    return s


def hpx_cases():
    base = read('fix.hpx')
    hdr, secs, _ = hpx_parse(base)
    body = u64(base, 16)
    pl = payload_of(secs)
    assert container(pl) == base, 'base/fix.hpx is not laid out as gen.py lays it out'
    c = {}

    def case(name, data, words):
        c[name] = (data, words)

    # The header and the body: truncations, lengths, reserved fields.
    case('empty', b'', '0 bytes is shorter than the 64-byte header')
    case('truncated-in-header', base[:40], '40 bytes is shorter than the 64-byte header')
    case('truncated-after-header', base[:64], 'does not fit in the file')
    case('truncated-in-body-header', base[:64 + 10], 'does not fit in the file')
    case('truncated-in-frame', base[:len(base) - 7], 'does not fit in the file')
    cut = put(base[:64 + 16 + 20], 'Q', 16, 16 + 20)
    case('truncated-frame-consistent', recheck(cut), 'compressed payload is truncated')
    cut = put(base[:64 + 16 + 3], 'Q', 16, 16 + 3)
    case('truncated-frame-header', recheck(cut), 'frame header is not one hotpatch writes')
    case('bad-magic', b'\x89HPY' + base[4:], 'bad magic')
    case('version-2', recheck(put(base, 'H', 8, 2)), 'container version 2')
    case('header-size-32', recheck(put(base, 'H', 10, 32)), 'header size 32 is not 64')
    case('reserved-header-flags', recheck(put(base, 'I', 12, 1)), 'reserved header flags')
    case('body-size-overflow', recheck(put(base, 'Q', 16, 2**64 - 1)),
         'body size 18446744073709551615 does not fit')
    case('body-size-past-end', recheck(put(base, 'Q', 16, body + 1)), 'does not fit in the file')
    case('body-size-15', recheck(put(base, 'Q', 16, 15)), 'body size 15 does not fit')
    case('sequence-zero', recheck(put(base, 'Q', 40, 0)), 'sequence number is 0')
    flipped = bytearray(base)
    flipped[64 + 40] ^= 1
    case('check-mismatch', bytes(flipped), 'header check does not match')
    case('payload-size-zero', container(pl, psize=0), 'payload size 0 is outside')
    case('payload-size-huge', container(pl, psize=2**64 - 1),
         'payload size 18446744073709551615 is outside')
    case('payload-size-over-cap', container(pl, psize=(64 << 20) + 1),
         'payload size 67108865 is outside')
    case('compression-2', container(pl, comp=2), 'unknown compression 2')
    case('reserved-body-field', container(pl, body_reserved=1), 'reserved body field')
    frame = bytearray(zstd(pl))
    frame[4] |= 0x10
    case('frame-unused-bit', container(pl, frame=bytes(frame)), 'not one hotpatch writes')
    case('frame-no-checksum', container(pl, frame=zstd(pl, '--no-check')),
         'not one hotpatch writes')
    case('frame-dictionary-id', container(pl, frame=zstd(pl)[:4] + bytes([zstd(pl)[4] | 1])
                                          + zstd(pl)[5:]), 'not one hotpatch writes')
    nosize = subprocess.run(['zstd', '-q', '-c', '-19'], input=pl, check=True,
                            capture_output=True).stdout
    case('frame-no-content-size', container(pl, frame=nosize), 'not a zstd frame with a content size')
    case('frame-not-zstd', container(pl, frame=b'\0\0\0\0\x04' + b'\0' * 20),
         'not a zstd frame with a content size')
    # zstd bombs: a tiny frame that declares a terabyte; the same with the body
    # agreeing; and a frame that really expands past the 64 MiB cap, declaring
    # 64 MiB (the reader allocates 64 MiB, decompresses, and stops at the end
    # of its buffer).
    tiny = b'\x28\xb5\x2f\xfd' + bytes([0xe4]) + struct.pack('<Q', 2**40) + b'\x01\0\0' + b'\0' * 4
    case('zstd-bomb-declared', container(pl, frame=tiny, psize=1000),
         'declares 1099511627776 bytes, the body says 1000')
    case('zstd-bomb-declared-body-agrees', container(pl, frame=tiny, psize=2**40),
         'payload size 1099511627776 is outside')
    big = bytearray(zstd(b'\0' * (65 << 20)))
    o, n = fcs_field(big)
    assert n == 4
    struct.pack_into('<I', big, o, 64 << 20)
    case('zstd-bomb-expands-past-cap', container(pl, frame=bytes(big), psize=64 << 20),
         'does not decompress')
    case('bytes-after-frame', container(pl, frame=zstd(pl) + b'extra'),
         '5 bytes follow the compressed payload')
    case('patch-id-mismatch', container(pl, patch_id=b'\1' * 16), 'patch id does not match')

    # The payload's section table.
    case('payload-too-short', container(b'\1\0\0\0'), 'payload too short for its section table')
    case('section-count-zero', container(put(pl, 'I', 0, 0)), 'section count 0 is outside 1..16')
    case('section-count-huge', container(put(pl, 'I', 0, 2**32 - 1)),
         'section count 4294967295 is outside 1..16')
    case('reserved-payload-field', container(put(pl, 'I', 4, 1)), 'reserved payload field')
    case('table-truncated', container(pl[:8 + 24 * 3]), 'section table (9 entries) runs past')
    for t in range(1, 10):
        off, size = u64(pl, 8 + 24 * (t - 1) + 8), u64(pl, 8 + 24 * (t - 1) + 16)
        if size == 0:
            continue
        case('truncated-in-%s' % SEC_NAMES[t], container(pl[:off + size // 2]),
             'section type %d: bytes' % t)
    case('section-offset-overflow', container(put(pl, 'Q', 8 + 8, 2**64 - 8)),
         'section type 1: bytes 18446744073709551608')
    case('section-size-overflow', container(put(pl, 'Q', 8 + 16, 2**64 - 1)),
         'section type 1: bytes')
    case('section-offset-unaligned', container(put(pl, 'Q', 8 + 24 + 8, u64(pl, 8 + 24 + 8) + 4)),
         'section type 2: bytes')
    case('section-entsize-zero', container(put(pl, 'I', 8 + 24 * 2 + 4, 0)),
         'section type 3: record size 0, expected 16')
    case('section-entsize-wrong', container(put(pl, 'I', 8 + 24 * 3 + 4, 80)),
         'section type 4: record size 80, expected 88')
    odd = dict(secs)
    odd[FUNCS] = secs[FUNCS] + b'\0' * 5
    case('section-size-not-records', container(payload_of(odd)),
         'section type 4: size %d is not a whole number of 88-byte records' % len(odd[FUNCS]))
    case('section-duplicate', container(payload_of(secs, order=[1, 1, 2, 3, 4, 5, 6, 7, 8, 9])),
         'section type 1 appears twice')
    case('section-unknown-type', container(put(pl, 'I', 8 + 24 * 8, 11)), 'unknown section type 11')
    # ADDRS (optional): one address per function and symbol, only with a build-id.
    nrec = len(secs[FUNCS]) // 88 + len(secs[SYMBOLS]) // 32
    s = dict(secs)
    s[ADDRS] = struct.pack('<%dQ' % nrec, *range(0x1000, 0x1000 + nrec))
    case('addrs-unbound', container(payload_of(s)),
         'addresses recorded, but the patch is bound to no build-id')
    s = rec(s, PATCH, 0, 'I', 8, 20)
    s[ADDRS] = s[ADDRS][:-8]
    case('addrs-count-wrong', container(payload_of(s)),
         '%d addresses for 2 functions and 2 symbols' % (nrec - 1))
    case('section-missing', container(payload_of(secs, order=[1, 2, 3, 4, 5, 6, 7, 8])),
         'required section type 9 is missing')
    case('sections-overlap',
         container(put(pl, 'Q', 8 + 24 * 2 + 8, u64(pl, 8 + 24 + 8))), 'overlap')

    # Records.
    s = dict(secs)
    s[STRINGS] = secs[STRINGS][:-1] + b'x'
    case('strings-not-terminated', container(payload_of(s)), 'string table does not start and end')
    s = dict(secs)
    s[PATCH] = secs[PATCH] * 2
    case('patch-twice', container(payload_of(s)), '2 PATCH records, expected 1')
    case('string-offset-past-end', container(payload_of(rec(secs, PATCH, 0, 'I', 0, 2**32 - 1))),
         'tool version: string offset 4294967295 outside the string table')
    case('build-id-size-65', container(payload_of(rec(secs, PATCH, 0, 'I', 8, 65))),
         'build-id size 65 is over 64')
    case('build-id-padding', container(payload_of(rec(secs, PATCH, 0, 'B', 16 + 63, 1))),
         'build-id padding is not zero')
    case('reserved-patch-flags', container(payload_of(rec(secs, PATCH, 0, 'I', 12, 1))),
         'reserved PATCH flags')
    for name, v in (('zero', 0), ('unaligned', 4097), ('huge', 2**40)):
        case('image-size-' + name, container(payload_of(rec(secs, PATCH, 0, 'Q', 80, v))),
             'image size %d is not a page multiple' % v)
    s = dict(secs)
    s[IMAGE] = b'\xcc' * (u64(secs[PATCH], 80) + 8)
    case('image-bytes-exceed-size', container(payload_of(s)), 'exceed the image size')
    case('object-reserved', container(payload_of(rec(secs, OBJECTS, 0, 'Q', 8, 1))),
         'object 0: reserved field is not zero')
    case('segment-reserved', container(payload_of(rec(secs, SEGMENTS, 0, 'I', 20, 1))),
         'segment 0: reserved field is not zero')
    case('segment-offset-overflow',
         container(payload_of(rec(rec(secs, SEGMENTS, 0, 'Q', 0, 2**64 - 4096), SEGMENTS, 0, 'Q', 8,
                                  8192))), 'segment 0 (0xfffffffffffff000+0x2000)')
    case('segment-empty', container(payload_of(rec(secs, SEGMENTS, 0, 'Q', 8, 0))),
         'segment 0 (0+0) is unaligned, empty')
    case('segment-writable-executable', container(payload_of(rec(secs, SEGMENTS, 0, 'I', 16, 7))),
         'segment 0 is writable and executable')
    case('segment-prot-unknown', container(payload_of(rec(secs, SEGMENTS, 0, 'I', 16, 0x15))),
         'segment 0: protection 0x15')
    case('func-no-name', container(payload_of(rec(secs, FUNCS, 0, 'I', 0, 0))),
         'function 0 has no name')
    case('func-reserved', container(payload_of(rec(secs, FUNCS, 0, 'I', 84, 1))),
         'reserved bits are not zero')
    case('func-flags-unknown', container(payload_of(rec(secs, FUNCS, 0, 'I', 80, 2))),
         'reserved bits are not zero')
    case('func-object-out-of-range', container(payload_of(rec(secs, FUNCS, 0, 'I', 12, 2**32 - 1))),
         'object 4294967295 does not exist')
    # The function that is replaced (the other is its cold part, checked only).
    rf = next(i for i in range(len(secs[FUNCS]) // 88) if u32(secs[FUNCS], 88 * i + 80) == 0)
    cf = next(i for i in range(len(secs[FUNCS]) // 88) if u32(secs[FUNCS], 88 * i + 80) == 1)
    case('func-old-size-4', container(payload_of(rec(secs, FUNCS, rf, 'Q', 16, 4))),
         'old size 4 cannot take a 5-byte jump')
    case('func-old-size-huge', container(payload_of(rec(secs, FUNCS, rf, 'Q', 16, 2**40))),
         'old size 1099511627776 cannot take')
    case('func-new-code-overflow', container(payload_of(rec(secs, FUNCS, rf, 'Q', 64, 2**64 - 16))),
         'new code 0xfffffffffffffff0')
    case('func-new-size-zero', container(payload_of(rec(secs, FUNCS, rf, 'Q', 72, 0))),
         'is not in an executable segment')
    case('func-check-only-with-code', container(payload_of(rec(secs, FUNCS, cf, 'Q', 72, 16))),
         'checked only, yet it has new code')
    case('func-masks-out-of-range', container(payload_of(rec(secs, FUNCS, 0, 'I', 56, 2**32 - 1))),
         'masks 4294967295+')
    nmasks = len(secs[MASKS]) // 8
    case('func-mask-count-huge', container(payload_of(rec(secs, FUNCS, 0, 'I', 60, 2**32 - 1))),
         'outside the %d masks' % nmasks)
    case('func-masks-skip', container(payload_of(
        rec(rec(secs, FUNCS, 0, 'I', 56, 1), FUNCS, 0, 'I', 60, nmasks - 1))),
         'masks start at 1, not 0')
    case('mask-empty', container(payload_of(rec(secs, MASKS, 0, 'I', 4, 0))),
         'mask 0 (')
    case('mask-past-end', container(payload_of(rec(secs, MASKS, 0, 'I', 0, 2**32 - 2))),
         'mask 0 (4294967294+')
    case('symbol-no-name', container(payload_of(rec(secs, SYMBOLS, 0, 'I', 0, 0))),
         'symbol 0 has no name')
    case('symbol-reserved', container(payload_of(rec(secs, SYMBOLS, 0, 'H', 14, 1))),
         'reserved fields are not zero')
    case('symbol-kind-unknown', container(payload_of(rec(secs, SYMBOLS, 0, 'B', 12, 9))),
         'kind 9 or scope')
    case('symbol-stub-outside', container(payload_of(rec(secs, SYMBOLS, 0, 'I', 24, 2**32 - 2))),
         'stub 0xfffffffe is not in an executable segment')
    case('fixup-type-unknown', container(payload_of(rec(secs, FIXUPS, 0, 'I', 8, 77))),
         'fixup 0: unknown type 77')
    # Thread-pointer offsets (TPOFF32, TPOFF64) are of thread-local symbols (kind 4) only.
    case('fixup-tpoff-of-function', container(payload_of(rec(secs, FIXUPS, 0, 'I', 8, 7))),
         'fixup 0: TPOFF32 of report, which is not a thread-local symbol')
    case('fixup-pc32-of-tls', container(payload_of(rec(secs, SYMBOLS, 0, 'B', 12, 4))),
         'fixup 0: PC32 of report, which is a thread-local symbol')
    case('fixup-offset-overflow', container(payload_of(rec(secs, FIXUPS, 0, 'Q', 0, 2**64 - 4))),
         'fixup 0 at 0xfffffffffffffffc lies outside the image')
    case('fixup-symbol-out-of-range', container(payload_of(rec(secs, FIXUPS, 0, 'I', 12, 9999))),
         'fixup 0: symbol 9999 does not exist')
    case('fixup-branch-into-image', container(payload_of(
        rec(rec(secs, FIXUPS, 0, 'I', 8, 5), FIXUPS, 0, 'I', 12, 0x80000000))),
         'a branch into the image needs no fixup')
    fx = secs[FIXUPS]
    s = dict(secs)
    s[FIXUPS] = fx[:24] + put(fx[:24], 'Q', 0, u64(fx, 0) + 2)
    case('fixups-overlap', container(payload_of(s)), 'overlap')

    # Signature blocks.
    at = len(base)
    case('sig-truncated-in-header', base + sig_block()[:30],
         'signature block at offset %d is truncated (30 bytes left)' % at)
    case('sig-truncated-in-signature', base + sig_block()[:48 + 20],
         'is truncated: 64 signature bytes, 20 left')
    case('sig-length-lies', base + sig_block(block=500),
         'size 500 does not match a 64-byte signature')
    case('sig-length-huge', base + sig_block(block=2**32 - 1),
         'size 4294967295 does not match a 64-byte signature')
    case('sig-size-zero', base + sig_block(n=0), 'size 48 does not match a 0-byte signature')
    case('sig-size-over-max', base + sig_block(n=513), 'size 561 does not match a 513-byte')
    case('sig-algorithm-unknown', base + sig_block(alg=3), 'unknown algorithm 3')
    case('sig-reserved', base + sig_block(reserved=1), 'reserved field is not zero')
    case('sig-trailing-bytes', base + sig_block() + b'garbage!' * 8,
         'trailing bytes at offset %d are not a signature block' % (at + 112))
    case('sig-second-lies', base + sig_block() + sig_block(alg=2, n=71, block=48 + 72),
         'signature block at offset %d: size 120 does not match a 71-byte' % (at + 112))
    return c


# ----- ELF objects and images ------------------------------------------------

class Elf:
    """A little ELF64 editor: headers by index, fields by name."""
    SH = ('name', 'type', 'flags', 'addr', 'offset', 'size', 'link', 'info', 'align', 'entsize')
    SHFMT = '<IIQQQQIIQQ'

    def __init__(self, data):
        self.b = bytearray(data)
        self.shoff = u64(self.b, 0x28)
        self.shnum = u16(self.b, 0x3c)
        self.shstrndx = u16(self.b, 0x3e)

    def sh(self, i):
        return dict(zip(self.SH, struct.unpack_from(self.SHFMT, self.b, self.shoff + 64 * i)))

    def set_sh(self, i, **kw):
        h = self.sh(i)
        h.update(kw)
        struct.pack_into(self.SHFMT, self.b, self.shoff + 64 * i, *[h[k] for k in self.SH])

    def name(self, i):
        s = self.sh(self.shstrndx)
        o = s['offset'] + self.sh(i)['name']
        return bytes(self.b[o:self.b.index(0, o)]).decode()

    def find(self, pred):
        for i in range(1, self.shnum):
            if pred(i, self.sh(i), self.name(i)):
                return i
        raise KeyError('no such section')

    def named(self, name):
        return self.find(lambda i, h, n: n == name)

    def typed(self, t):
        return self.find(lambda i, h, n: h['type'] == t)

    def bytes(self):
        return bytes(self.b)


SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS, SHT_REL, SHT_GROUP = 1, 2, 3, 4, 8, 9, 17


def obj_cases():
    new = read('new.o')
    c = {}

    def case(name, data, words):
        c[name] = (data, words)

    def edit(f, data=new):
        e = Elf(data)
        f(e)
        return e.bytes()

    e = Elf(new)
    symtab = e.typed(SHT_SYMTAB)
    sym = e.sh(symtab)
    text = e.find(lambda i, h, n: n.startswith('.text.') and h['size'] > 0)
    rela = e.find(lambda i, h, n: h['type'] == SHT_RELA and n.startswith('.rela.text.'))
    rh = e.sh(rela)
    func = next(k for k in range(1, sym['size'] // 24)
                if new[sym['offset'] + 24 * k + 4] & 0xf == 2)  # STT_FUNC
    fo = sym['offset'] + 24 * func

    # Truncations at each structural boundary: inside e_ident, inside the ELF
    # header, after it, inside the section header table, and one byte short.
    case('empty', b'', 'not an ELF file')
    case('truncated-in-ident', new[:10], 'not an ELF file')
    case('truncated-in-header', new[:40], 'ELF')
    case('truncated-after-header', new[:64], 'section')
    case('truncated-in-section-headers', new[:e.shoff + 64 * 3 + 10], 'section')
    case('truncated-one-byte', new[:-1], 'section')
    case('class-32', put(new, 'B', 4, 1), 'not a 64-bit little-endian ELF file')
    case('big-endian', put(new, 'B', 5, 2), 'not a 64-bit little-endian ELF file')
    case('machine-aarch64', put(new, 'H', 0x12, 183), 'machine 183 is not x86-64')
    case('type-executable', put(new, 'H', 0x10, 2), 'not a relocatable object (e_type 2)')
    case('section-count-huge', put(new, 'H', 0x3c, 0xffff), 'section')
    case('section-names-index-bad', put(new, 'H', 0x3e, 0xfff0), 'section')

    # Sections: lengths past the end, offsets that overflow, names outside.
    case('section-size-past-end', edit(lambda e: e.set_sh(text, size=1 << 40)),
         'lie past the end of the file')
    case('section-offset-overflow', edit(lambda e: e.set_sh(text, offset=2**64 - 1)),
         'bytes [0xffffffffffffffff, +0x')
    case('section-name-outside', edit(lambda e: e.set_sh(text, name=0xfffffff)),
         'name outside the string table')
    case('compressed-allocated', edit(lambda e: e.set_sh(text, flags=e.sh(text)['flags'] | 0x800)),
         'allocated section is compressed')

    # The symbol table.
    case('symtab-entsize-zero', edit(lambda e: e.set_sh(symtab, entsize=0)),
         "sh_entsize is 0, not 24")
    # libelf refuses a typed table with a partial entry before the reader looks.
    case('symtab-size-not-entries', edit(lambda e: e.set_sh(symtab, size=sym['size'] - 5)),
         "'.symtab': data unreadable")
    case('symtab-link-not-strtab', edit(lambda e: e.set_sh(symtab, link=text)),
         'is not a string table')
    case('symtab-twice', edit(lambda e: e.set_sh(rela, type=SHT_SYMTAB)), 'two symbol tables')
    case('symtab-missing', edit(lambda e: e.set_sh(symtab, type=SHT_PROGBITS)),
         'no symbol table; was the object stripped?')
    case('symbol-name-outside', put(new, 'I', fo, 0xfffffff), 'name offset 268435455 outside')
    case('symbol-section-out-of-range', put(new, 'H', fo + 6, 0xfeff),
         'section index 65279 out of range')
    case('symbol-size-past-section', put(new, 'Q', fo + 16, 1 << 40), 'lies outside section')
    case('symbol-value-overflow', put(new, 'Q', fo + 8, 2**64 - 1), 'lies outside section')
    case('symbol-xindex-without-table', put(new, 'H', fo + 6, 0xffff),
         'SHN_XINDEX without SHT_SYMTAB_SHNDX')

    # Relocations.
    ro = rh['offset']
    case('rela-entsize-zero', edit(lambda e: e.set_sh(rela, entsize=0)), 'sh_entsize is 0, not 24')
    case('rela-size-not-entries', edit(lambda e: e.set_sh(rela, size=rh['size'] - 1)),
         'data unreadable')
    case('rela-info-bad', edit(lambda e: e.set_sh(rela, info=0xffff)),
         'sh_info 65535 names no section')
    case('rela-link-bad', edit(lambda e: e.set_sh(rela, link=text)), 'is not the symbol table')
    case('rela-twice', edit(lambda e: e.set_sh(e.find(
        lambda i, h, n: h['type'] == SHT_RELA and i != rela), info=rh['info'])),
         'a second relocation section')
    case('rela-on-nobits', edit(lambda e: e.set_sh(rh['info'], type=SHT_NOBITS)), 'which has no bytes')
    # An SHT_REL section whose size libelf accepts (a multiple of 16 bytes).
    even = e.find(lambda i, h, n: h['type'] == SHT_RELA and h['size'] % 48 == 0)
    case('rel-section', edit(lambda e: e.set_sh(even, type=SHT_REL, entsize=16)),
         'SHT_REL relocations are not used on x86-64')
    case('rela-symbol-out-of-range', put(new, 'Q', ro + 8, (0xffffff << 32) | u32(new, ro + 8)),
         'symbol index 16777215 out of range')
    case('rela-type-unknown', put(new, 'I', ro + 8, 200), 'unknown relocation type 200')
    case('rela-offset-overflow', put(new, 'Q', ro, 2**64 - 2), 'at 0xfffffffffffffffe lies outside')
    if rh['size'] >= 48:
        case('relocations-overlap', put(new, 'Q', ro + 24, u64(new, ro) + 1), 'fill the same bytes')
    grp = [i for i in range(1, e.shnum) if e.sh(i)['type'] == SHT_GROUP]
    if grp:
        case('group-member-out-of-range', put(new, 'I', e.sh(grp[0])['offset'] + 4, 0xffff),
             'member 65535 out of range')

    # Compressed debug sections: a zlib bomb header, another algorithm.
    gz = read('gz.o')
    g = Elf(gz)
    ci = g.find(lambda i, h, n: h['flags'] & 0x800)
    co = g.sh(ci)['offset']
    case('compressed-declares-terabyte', put(gz, 'Q', co + 8, 1 << 40), 'declares 1099511627776 bytes')
    case('compressed-not-zlib', put(gz, 'I', co, 2), 'compression type 2 is not zlib')

    # DWARF, which hpdiff reads for the changed function.
    rng = e.named('.debug_rnglists')
    case('dwarf-rnglists-version-4', put(new, 'H', e.sh(rng)['offset'] + 4, 4),
         "'.debug_rnglists': a list header is malformed")
    loc = e.named('.debug_loclists')
    case('dwarf-loclists-length-past-end', put(new, 'I', e.sh(loc)['offset'], 0xfffffff0),
         "'.debug_loclists': a list header is malformed")
    info = e.named('.debug_info')
    case('dwarf-info-version-9', put(new, 'H', e.sh(info)['offset'] + 4, 9), 'DWARF')
    case('dwarf-info-length-past-end', put(new, 'I', e.sh(info)['offset'], 0xfffffff0), 'DWARF')
    stri = e.named('.debug_str')
    zname = edit(lambda e: None)
    # Rename .debug_str to .zdebug_st (same length, in place).
    so = Elf(new).sh(Elf(new).shstrndx)['offset'] + Elf(new).sh(stri)['name']
    zname = new[:so] + b'.zdebug_st' + new[so + 10:]
    case('dwarf-zdebug', zname, '.zdebug compression is not supported')
    return c


def image_cases():
    srv = read('server')
    c = {}

    def case(name, data, words):
        c[name] = (data, words)

    e = Elf(srv)
    phoff, phnum = u64(srv, 0x20), u16(srv, 0x38)
    load = next(i for i in range(phnum) if u32(srv, phoff + 56 * i) == 1)  # PT_LOAD
    symtab = e.typed(SHT_SYMTAB)
    case('empty', b'', 'not an ELF file')
    case('truncated-in-header', srv[:40], 'not an ELF file')
    case('relocatable-object', read('old.o'), 'not an x86-64 executable or shared library')
    case('class-32', put(srv, 'B', 4, 1), 'not an x86-64 executable or shared library')
    case('load-past-end', put(srv, 'Q', phoff + 56 * load + 32, 1 << 40),
         'segment %d lies outside the file' % load)
    case('load-offset-overflow', put(srv, 'Q', phoff + 56 * load + 8, 2**64 - 1),
         'segment %d lies outside the file' % load)
    e.set_sh(symtab, entsize=1, size=3 << 30)
    case('symtab-size-huge', e.bytes(), 'symbol table of 3221225472 bytes')
    e = Elf(srv)
    e.set_sh(symtab, entsize=0)
    case('symtab-entsize-zero', e.bytes(), 'with entries of 0 bytes')
    notes = [i for i in range(phnum) if u32(srv, phoff + 56 * i) == 4]  # PT_NOTE
    nb = bytearray(srv)
    for i in notes:
        struct.pack_into('<I', nb, phoff + 56 * i, 0x6474e550 + 0x1000)  # no longer a note
    case('no-build-id', bytes(nb), 'has no GNU build-id')
    return c


# ----- running the tools, as run.sh does ------------------------------------

def run(kind, name, bindir):
    d = os.path.join(HERE, kind)
    with tempfile.TemporaryDirectory() as t:
        if kind == 'hpx':
            argv = [os.path.join(bindir, 'hpinspect'), name]
        elif kind == 'obj':
            argv = [os.path.join(bindir, 'hpdiff'), '../base/old.o', name]
        else:
            argv = [os.path.join(bindir, 'hpbuild'), '--target', name, '../base/old.o',
                    '../base/new.o', '-o', os.path.join(t, 'out.hpx')]
        p = subprocess.run(argv, cwd=d, capture_output=True, text=True)
        if kind == 'image' and os.path.exists(os.path.join(t, 'out.hpx')):
            raise SystemExit('%s/%s: hpbuild failed but wrote its output' % (kind, name))
    return p.stderr, p.returncode


def rebuild_base(bindir):
    """base/: the hot-cold sample (DWARF 5 with range and location lists) old
    and new, the patch between them, a binary linked from the old one, and the
    new one with compressed debug info."""
    os.makedirs(BASE, exist_ok=True)
    src = os.path.join(HERE, '..', '..', 'samples', 'hot-cold')
    with tempfile.TemporaryDirectory() as t:
        flags = ['-O2', '-g', '-ffunction-sections', '-fdata-sections', '-ffile-prefix-map=%s=/src' % t]
        for v in ('old', 'new'):
            subprocess.run(['cp', os.path.join(src, v + '.c'), os.path.join(t, 'table.c')], check=True)
            subprocess.run(['gcc'] + flags + ['-c', 'table.c', '-o', v + '.o'], cwd=t, check=True)
            if v == 'new':
                subprocess.run(['gcc'] + flags + ['-gz', '-c', 'table.c', '-o', 'gz.o'], cwd=t,
                               check=True)
            else:
                subprocess.run(['cp', 'old.o', 'table-old.o'], cwd=t, check=True)
        with open(os.path.join(t, 'main.c'), 'w') as f:
            f.write('struct table { int *v; unsigned long n; };\n'
                    'int table_resize(struct table *t, unsigned long n);\n'
                    'long table_sum(const struct table *t);\n'
                    'int main(void) { struct table t = { 0, 0 }; table_resize(&t, 4);'
                    ' return (int)table_sum(&t); }\n')
        subprocess.run(['gcc', '-O2', '-c', 'main.c', '-o', 'main.o'], cwd=t, check=True)
        subprocess.run(['gcc', '-Wl,--build-id', '-o', 'server', 'old.o', 'main.o'], cwd=t,
                       check=True)
        env = dict(os.environ, SOURCE_DATE_EPOCH='1700000000')
        subprocess.run([os.path.join(bindir, 'hpbuild'), 'old.o', 'new.o', '-o', 'fix.hpx'],
                       cwd=t, check=True, env=env)
        for f in ('old.o', 'new.o', 'gz.o', 'server', 'fix.hpx'):
            subprocess.run(['cp', os.path.join(t, f), os.path.join(BASE, f)], check=True)


def main():
    args = sys.argv[1:]
    bindir = None
    if args[:1] == ['--base']:
        rebuild_base(os.path.abspath(args[1]))
        args = args[2:]
    record = args[:1] == ['--record']
    if record:
        bindir = os.path.abspath(args[1])
    cases = {'hpx': (hpx_cases(), '.hpx'), 'obj': (obj_cases(), '.o'), 'image': (image_cases(), '')}
    bad = 0
    for kind, (cs, ext) in cases.items():
        d = os.path.join(HERE, kind)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.rsplit('.', 1)[0] not in cs and (f.endswith('.err') or f.endswith(ext) or not ext):
                os.unlink(os.path.join(d, f))
        for name, (data, words) in sorted(cs.items()):
            with open(os.path.join(d, name + ext), 'wb') as f:
                f.write(data)
            if not record:
                continue
            err, rc = run(kind, name + ext, bindir)
            lines = err.splitlines()
            if rc == 0 or len(lines) != 1 or words not in lines[0]:
                print('%s/%s: exit %d, stderr %r; expected one line with %r'
                      % (kind, name, rc, err, words))
                bad += 1
                continue
            with open(os.path.join(d, name + '.err'), 'w') as f:
                f.write('%s\nexit %d\n' % (lines[0], rc))
        print('%s: %d cases' % (kind, len(cs)))
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
