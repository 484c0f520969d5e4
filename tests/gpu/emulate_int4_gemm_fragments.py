#!/usr/bin/env python3
# Checks, without a GPU, the index plumbing of inference/cuda/src/kernels/int4_gemm.cu for one block
# (8 warps, 128 x 128 tile, two k steps of 64) with the kernel's own formulas: the cp.async stores of A
# (XOR-swizzled) and of the int4 codes (48-byte rows), the ldmatrix addresses of A, the B fragments built
# from nibble bytes t and t + 4 of each 16-value step of output row g (u -> bf16 128 + u, minus 136), the
# mma.m16n8k16 register layouts as the PTX ISA documents them, the per-step group scale applied to the
# partial sums, and the epilogue's (row, column) mapping; against numpy's x . dequant(W)^T. Also checks
# that the eight B rows a warp reads at once fall in distinct banks. Run: python3
# tests/gpu/emulate_int4_gemm_fragments.py (needs numpy). Keep it in step with the kernel.
import numpy as np

rng = np.random.default_rng(1)

# nibblesToBf16x2: the word 0x43004300 | (b & 0x0f) | ((b & 0xf0) << 12) holds, as two bf16 (low half
# first), 128 + low nibble and 128 + high nibble; bf16 keeps both exactly, and so their difference with 136.
for b in range(256):
    word = 0x43004300 | (b & 0x0F) | ((b & 0xF0) << 12)
    lo = np.array([(word & 0xFFFF) << 16], dtype=np.uint32).view(np.float32)[0]
    hi = np.array([(word >> 16) << 16], dtype=np.uint32).view(np.float32)[0]
    assert (lo, hi) == (128 + (b & 15), 128 + (b >> 4)), b
BM, BN, BK, ROWB = 128, 128, 64, 48
K, N = 2 * BK, BN  # two k steps; one group of 128 (so both steps use group 0) and a second case with G=64
for G in (128, 64):
    rowsHere = 100  # a tile cut short: rows >= rowsHere are zero-filled and not written
    A = rng.standard_normal((BM, K)).astype(np.float32)
    A[rowsHere:] = 0
    U = rng.integers(0, 16, size=(N, K))  # codes
    groups = (K + G - 1) // G
    S = rng.uniform(0.5, 1.5, size=(groups, N))  # scales [groups][n]
    W = (U - 8) * S[np.arange(K) // G].T  # dequantised [n][k]
    q = np.zeros((N, K // 2), dtype=np.int64)  # packed rows: byte c/2, low nibble = even c
    q[:, :] = U[:, 0::2] | (U[:, 1::2] << 4)

    acc = np.zeros((8, 4, 4, 32, 4))  # [warp][mt][nt][lane][4]
    for kt in range(K // BK):
        # cp.async stores
        sA = np.full(BM * BK, np.nan)
        for tid in range(256):
            for i in range(4):
                idx = tid + i * 256
                r, ch = idx // (BK // 8), idx % (BK // 8)
                src = A[r, kt * BK + ch * 8: kt * BK + ch * 8 + 8]
                dst = r * BK + ((ch ^ (r & 7)) << 3)
                sA[dst:dst + 8] = src
        sB = np.full(BN * ROWB, -1, dtype=np.int64)
        for tid in range(256):
            r, ch = tid // 2, tid % 2
            sB[r * ROWB + ch * 16: r * ROWB + ch * 16 + 16] = q[r, kt * (BK // 2) + ch * 16: kt * (BK // 2) + ch * 16 + 16]
        assert not np.isnan(sA).any()
        grp = (kt * BK) // G
        for warp in range(8):
            warpM, warpN = warp // 4, warp % 4
            part = np.zeros((4, 4, 32, 4))
            for ks in range(BK // 16):
                af = np.zeros((4, 32, 4, 2))
                for mt in range(4):
                    # ldmatrix.x4: lane l gives the address of row (l % 8) of matrix l // 8
                    addr = []
                    for l in range(32):
                        r = warpM * 64 + (l & 7) + ((l >> 3) & 1) * 8 + mt * 16
                        addr.append(r * BK + (((ks * 2 + (l >> 4)) ^ (r & 7)) << 3))
                    for j in range(4):
                        mat = np.array([sA[addr[8 * j + rr]: addr[8 * j + rr] + 8] for rr in range(8)])
                        for l in range(32):
                            g, t = l // 4, l % 4
                            af[mt, l, j] = mat[g, 2 * t: 2 * t + 2]
                banks = set()
                for nt in range(4):
                    b0 = np.zeros((32, 2)); b1 = np.zeros((32, 2))
                    for l in range(32):
                        g, t = l // 4, l % 4
                        base = (warpN * 32 + nt * 8 + g) * ROWB + ks * 8
                        if nt == 0 and t == 0:
                            banks.add((base // 4) % 32)
                        for reg, byte in ((b0, sB[base + t]), (b1, sB[base + 4 + t])):
                            assert byte >= 0
                            lo, hi = byte & 15, byte >> 4
                            reg[l] = [(128 + lo) - 136, (128 + hi) - 136]
                    for mt in range(4):
                        Am = np.zeros((16, 16)); Bm = np.zeros((16, 8))
                        for l in range(32):
                            g, t = l // 4, l % 4
                            a = af[mt, l]
                            Am[g, 2*t:2*t+2] = a[0]; Am[g+8, 2*t:2*t+2] = a[1]
                            Am[g, 2*t+8:2*t+10] = a[2]; Am[g+8, 2*t+8:2*t+10] = a[3]
                            Bm[2*t:2*t+2, g] = b0[l]; Bm[2*t+8:2*t+10, g] = b1[l]
                        C = Am @ Bm
                        for l in range(32):
                            g, t = l // 4, l % 4
                            part[mt, nt, l] += [C[g, 2*t], C[g, 2*t+1], C[g+8, 2*t], C[g+8, 2*t+1]]
                # eight rows g = 0..7 (t = 0) read at distinct bank pairs: no conflict
                assert len(banks) == 8, banks
            for nt in range(4):
                for l in range(32):
                    t = l % 4
                    sc = [S[grp, warpN * 32 + nt * 8 + 2 * t + j] for j in range(2)]
                    for mt in range(4):
                        for i in range(4):
                            acc[warp, mt, nt, l, i] += part[mt, nt, l, i] * sc[i & 1]

    got = np.full((BM, N), np.nan)
    for warp in range(8):
        warpM, warpN = warp // 4, warp % 4
        for mt in range(4):
            for h in range(2):
                for nt in range(4):
                    for l in range(32):
                        g, t = l // 4, l % 4
                        r = warpM * 64 + mt * 16 + g + h * 8
                        col = warpN * 32 + nt * 8 + 2 * t
                        if r < rowsHere:
                            got[r, col:col + 2] = acc[warp, mt, nt, l, h * 2: h * 2 + 2]
    ref = A @ W.T
    assert np.allclose(got[:rowsHere], ref[:rowsHere]), f"G={G}: GEMM mismatch"
    assert np.isnan(got[rowsHere:]).all()
print("int4 GEMM fragment plumbing: OK")

# The grouped launch's tile numbering: blockIdx.y in [0, ceil(maxRows / 128) + experts) walks the experts'
# row offsets; every row of every expert must be covered by exactly one (tile, row) and no tile may
# straddle two experts.
for trial in range(200):
    E = int(rng.integers(1, 20))
    counts = rng.integers(0, 400, size=E) * (rng.random(E) < 0.8)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    maxRows = int(offsets[-1] + rng.integers(0, 300))
    covered = np.zeros(int(offsets[-1]), dtype=int)
    for y in range((maxRows + BM - 1) // BM + E):
        first, e = 0, 0
        while e < E:
            begin, end = offsets[e], offsets[e + 1]
            tiles = (end - begin + BM - 1) // BM
            if y < first + tiles:
                m0, rowEnd = begin + (y - first) * BM, end
                break
            first += tiles
            e += 1
        if e == E or m0 >= rowEnd:
            continue
        covered[m0:min(m0 + BM, rowEnd)] += 1
    assert (covered == 1).all(), (trial, counts)
print("grouped tile numbering: OK")
