#!/usr/bin/env python3
# Checks, without a GPU, the fragment plumbing of inference/cuda/src/kernels/attention_prefill.cu: one
# warp's ldmatrix addresses (swizzled shared layout), ldmatrix/mma register layouts as the PTX ISA
# documents them, S = Q K^T and O = P V against numpy, and that the Q reads are bank-conflict free.
# Run: python3 tests/gpu/emulate_prefill_fragments.py (needs numpy). Keep it in step with the kernel.
# Emulates one warp of the prefill kernel's fragment plumbing with PTX-documented ldmatrix / mma
# semantics, using the kernel's address formulas, and checks S = Q K^T and O = P V.
import numpy as np
rng = np.random.default_rng(0)
for D in (64, 128):
    BM, BN = 128, 64
    def swz(r, c): return r * D + ((c ^ (r & 7)) << 3)
    Q = rng.standard_normal((BM, D)); K = rng.standard_normal((BN, D)); V = rng.standard_normal((BN, D))
    def store(tile, rows):
        sm = np.full(rows * D, np.nan)
        kChunks = D // 8; rpp = 128 // kChunks
        for tid in range(128):
            r0, c = tid // kChunks, tid % kChunks
            dst = swz(r0, c)
            for i in range(rows // rpp):
                r = r0 + i * rpp
                sm[dst + i * rpp * D: dst + i * rpp * D + 8] = tile[r, c * 8:c * 8 + 8]
        return sm
    sQ, sK, sV = store(Q, BM), store(K, BN), store(V, BN)
    assert not np.isnan(sQ).any() and not np.isnan(sK).any()
    def ldm(sm, addrs, trans=False):
        # addrs[lane] = element offset of row (lane%8) of matrix lane//8
        regs = np.zeros((32, 4, 2))
        for j in range(4):
            mat = np.array([sm[addrs[8 * j + r]: addrs[8 * j + r] + 8] for r in range(8)])
            for lane in range(32):
                g, t = lane // 4, lane % 4
                if not trans: regs[lane, j] = mat[g, 2 * t: 2 * t + 2]
                else: regs[lane, j] = [mat[2 * t, g], mat[2 * t + 1, g]]
        return regs
    def mma(c, a, b0, b1):
        # c[lane][4], a[lane][4][2], b0/b1[lane][2]
        A = np.zeros((16, 16)); B = np.zeros((16, 8))
        for lane in range(32):
            g, t = lane // 4, lane % 4
            A[g, 2*t:2*t+2] = a[lane][0]; A[g+8, 2*t:2*t+2] = a[lane][1]
            A[g, 2*t+8:2*t+10] = a[lane][2]; A[g+8, 2*t+8:2*t+10] = a[lane][3]
            B[2*t:2*t+2, g] = b0[lane]; B[2*t+8:2*t+10, g] = b1[lane]
        C = A @ B
        for lane in range(32):
            g, t = lane // 4, lane % 4
            c[lane] += [C[g, 2*t], C[g, 2*t+1], C[g+8, 2*t], C[g+8, 2*t+1]]
    for warp in range(4):
        lanes = range(32)
        qRow = [[(warp*32 + mt*16 + (l & 7) + ((l >> 3) & 1) * 8) * D for l in lanes] for mt in range(2)]
        qXor = [(l >> 4) ^ (l & 7) for l in lanes]
        kRow = [((l & 7) + (l >> 4) * 8) * D for l in lanes]
        kXor = [((l >> 3) & 1) ^ (l & 7) for l in lanes]
        vRow = [((l & 7) + ((l >> 3) & 1) * 8) * D for l in lanes]
        vXor = [(l >> 4) ^ (l & 7) for l in lanes]
        S = np.zeros((2, BN // 8, 32, 4))
        for ks in range(D // 16):
            qa = [ldm(sQ, [qRow[mt][l] + (((ks * 2) ^ qXor[l]) << 3) for l in lanes]) for mt in range(2)]
            for np_ in range(BN // 16):
                kb = ldm(sK, [kRow[l] + np_ * 16 * D + (((ks * 2) ^ kXor[l]) << 3) for l in lanes])
                for mt in range(2):
                    mma(S[mt, 2*np_], qa[mt], kb[:, 0], kb[:, 1]); mma(S[mt, 2*np_+1], qa[mt], kb[:, 2], kb[:, 3])
        ref = Q[warp*32:warp*32+32] @ K.T
        got = np.zeros((32, BN))
        for mt in range(2):
            for nt in range(BN // 8):
                for l in lanes:
                    g, t = l // 4, l % 4
                    got[mt*16+g, nt*8+2*t:nt*8+2*t+2] = S[mt, nt, l, 0:2]; got[mt*16+g+8, nt*8+2*t:nt*8+2*t+2] = S[mt, nt, l, 2:4]
        assert np.allclose(got, ref), (D, warp, "S")
        O = np.zeros((2, D // 8, 32, 4))
        for kk in range(BN // 16):
            pa = [np.stack([np.stack([S[mt, 2*kk, l, 0:2], S[mt, 2*kk, l, 2:4], S[mt, 2*kk+1, l, 0:2], S[mt, 2*kk+1, l, 2:4]]) for l in lanes]) for mt in range(2)]
            for dp in range(D // 16):
                vb = ldm(sV, [vRow[l] + kk * 16 * D + (((dp * 2) ^ vXor[l]) << 3) for l in lanes], trans=True)
                for mt in range(2):
                    mma(O[mt, 2*dp], pa[mt], vb[:, 0], vb[:, 1]); mma(O[mt, 2*dp+1], pa[mt], vb[:, 2], vb[:, 3])
        refO = ref @ V
        gotO = np.zeros((32, D))
        for mt in range(2):
            for dt in range(D // 8):
                for l in lanes:
                    g, t = l // 4, l % 4
                    gotO[mt*16+g, dt*8+2*t:dt*8+2*t+2] = O[mt, dt, l, 0:2]; gotO[mt*16+g+8, dt*8+2*t:dt*8+2*t+2] = O[mt, dt, l, 2:4]
        assert np.allclose(gotO, refO), (D, warp, "O")
    # bank conflicts: each 8-lane phase of an ldmatrix reads 8 rows of 16 bytes; check distinct bank groups
    def conflict_free(addrs):
        for j in range(4):
            groups = {((addrs[8*j+r] * 2) // 16) % 8 for r in range(8)}
            if len(groups) != 8: return False
        return True
    l = range(32)
    assert all(conflict_free([((w*32 + mt*16 + (x & 7) + ((x >> 3) & 1) * 8) * D) + (((ks*2) ^ ((x >> 4) ^ (x & 7))) << 3) for x in l]) for w in range(4) for mt in range(2) for ks in range(D//16))
    print("D", D, "fragments OK, Q ldmatrix conflict-free")
