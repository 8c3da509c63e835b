#!/usr/bin/env python3
"""ecdsa_sig.py: look at and rewrite the ECDSA P-256 signatures of .hpx
signature blocks, from formats/hpx-format.md ("Signature blocks") and the DER
of ECDSA-Sig-Value alone, independently of signer/.

    ecdsa_sig.py check FILE...       every P-256 block: minimal DER and s <= n/2;
                                     prints "N low-S signatures", exit 1 otherwise
    ecdsa_sig.py high-s IN OUT       the last block re-encoded as (r, n - s): the
                                     other signature of the same key and message
    ecdsa_sig.py pad-r IN OUT        the last block with a needless 0x00 before r
    ecdsa_sig.py trailing IN OUT     the last block with one byte after the DER
"""
import struct
import sys

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256 order


def blocks(b):
    """(start, algorithm, sig) of each block."""
    at = 64 + struct.unpack_from('<Q', b, 16)[0]
    out = []
    while at < len(b):
        assert b[at:at + 4] == b'HSG1', 'no block at %d' % at
        size, alg, n = struct.unpack_from('<IHH', b, at + 4)
        out.append((at, alg, bytes(b[at + 48:at + 48 + n])))
        at += size
    return out


def der_int(v, pad=False):
    body = v.to_bytes((v.bit_length() + 7) // 8 or 1, 'big')
    if body[0] & 0x80:
        body = b'\0' + body
    if pad:
        body = b'\0' + body
    return b'\x02' + bytes([len(body)]) + body


def der_sig(r, s, pad_r=False):
    body = der_int(r, pad_r) + der_int(s)
    return b'\x30' + bytes([len(body)]) + body


def parse(sig):
    """(r, s), and whether sig is exactly their minimal DER."""
    assert sig[0] == 0x30 and sig[1] == len(sig) - 2, 'not one DER SEQUENCE'
    at, vals = 2, []
    for _ in range(2):
        assert sig[at] == 2
        n = sig[at + 1]
        vals.append(int.from_bytes(sig[at + 2:at + 2 + n], 'big'))
        at += 2 + n
    return vals[0], vals[1], der_sig(*vals) == sig


def replace_last(b, sig):
    """b with its last block's signature replaced by sig (sizes rewritten)."""
    start, alg, _ = blocks(b)[-1]
    head = bytearray(b[start:start + 48])
    struct.pack_into('<IHH', head, 4, 48 + len(sig), alg, len(sig))
    return bytes(b[:start]) + bytes(head) + sig


def main():
    cmd = sys.argv[1]
    if cmd == 'check':
        count = 0
        for path in sys.argv[2:]:
            for start, alg, sig in blocks(open(path, 'rb').read()):
                if alg != 2:
                    continue
                r, s, minimal = parse(sig)
                if not minimal or not 0 < r < N or not 0 < s <= N // 2:
                    print('%s: block at %d: r=%x s=%x minimal=%s: not low-S minimal DER'
                          % (path, start, r, s, minimal))
                    sys.exit(1)
                count += 1
        print('%d low-S signatures' % count)
        return
    b = open(sys.argv[2], 'rb').read()
    start, alg, sig = blocks(b)[-1]
    assert alg == 2, 'the last block is not ECDSA P-256'
    r, s, _ = parse(sig)
    if cmd == 'high-s':
        new = der_sig(r, N - s)
    elif cmd == 'pad-r':
        new = der_sig(r, s, pad_r=True)
    elif cmd == 'trailing':
        new = sig + b'\0'
    else:
        sys.exit('unknown command ' + cmd)
    open(sys.argv[3], 'wb').write(replace_last(b, new))


main()
