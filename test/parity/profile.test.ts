// The per-op profile's pure parts (bench/profile.ts, bench/latency.ts --profile): the work counted per op, the
// options, and the markdown (no timing here; `npm run bench -- --profile` measures).

import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../bench/latency.js';
import { GEMM_TARGET_PCT, MATMUL_OPS, opsPerForward, profileMarkdown, type CeilingLine, type ProfileLine } from '../../bench/profile.js';
import { configForArch } from '../../sdk/model/arch.js';

describe('bench/profile: work per forward', () => {
  it("deit_tiny's linear layers are 1.05 G multiply-adds and its attention matmuls 0.18 G (FACTS.md)", () => {
    const ops = opsPerForward(configForArch('deit_tiny_patch16_224'));
    const blockMacs = (ops.qkv! + ops.proj! + ops.fc1! + ops.fc2!) / 2;
    expect(blockMacs / 1e9).toBeCloseTo(1.05, 2);
    expect((ops.attn_qk! + ops.attn_pv!) / 2 / 1e9).toBeCloseTo(0.179, 3);
    // T = 197, D = 192: qkv is 2·197·576·192 per block, 12 blocks; patch embedding 196 patches × 768 → 192
    expect(ops.qkv).toBe(12 * 2 * 197 * 576 * 192);
    expect(ops.patch_embed).toBe(2 * 196 * 192 * 768);
    expect(ops.head).toBe(2 * 1000 * 192);
    for (const op of MATMUL_OPS) expect(ops[op], op).toBeGreaterThan(0);
  });

  it('a distilled model runs two heads; deit_small (4.6 GMACs in all, FACTS.md) has D = 384, 6 heads', () => {
    const dist = opsPerForward(configForArch('deit_tiny_distilled_patch16_224'));
    expect(dist.head).toBe(2 * 2 * 1000 * 192);
    expect(dist.qkv).toBe(12 * 2 * 198 * 576 * 192); // 198 tokens: class + distillation
    const s = opsPerForward(configForArch('deit_small_patch16_224'));
    const macs = Object.values(s).reduce((a, b) => a + b, 0) / 2;
    expect(macs / 1e9).toBeGreaterThan(4.5);
    expect(macs / 1e9).toBeLessThan(4.7);
  });
});

describe('bench/latency --profile options', () => {
  it('parses --profile, a list of archs, --threads, --attention, --markdown and --clock', () => {
    const o = parseArgs(['--profile', '--arch', 'deit_tiny_patch16_224,deit_small_patch16_224', '--scheme', 'fp32,w8a8', '--threads', '1,2,2',
      '--attention', 'f32,int8', '--markdown', 'x.md', '--clock', 'wall']);
    expect(o).toMatchObject({ profile: true, arch: 'deit_tiny_patch16_224', archs: ['deit_tiny_patch16_224', 'deit_small_patch16_224'], threads: [1, 2],
      attention: ['f32', 'int8'], markdown: 'x.md', clock: 'wall' });
    expect(parseArgs(['--profile']).clock).toBe('cpu');
    expect(parseArgs([]).threads).toBeUndefined();
    expect(parseArgs(['--threads', '2']).threads).toEqual([2]);
  });

  it('refuses what the latency run cannot do, and bad values', () => {
    expect(() => parseArgs(['--arch', 'deit_tiny_patch16_224,deit_small_patch16_224'])).toThrow(/need --profile/);
    expect(() => parseArgs(['--markdown', 'x.md'])).toThrow(/--markdown needs --profile/);
    expect(() => parseArgs(['--threads', '0'])).toThrow(/thread counts 1\.\.64/);
    expect(() => parseArgs(['--profile', '--attention', 'int4'])).toThrow(/f32 and\/or int8/);
    expect(() => parseArgs(['--profile', '--clock', 'tsc'])).toThrow(/cpu or wall/);
  });
});

describe('bench/profile: markdown', () => {
  const base = { profile: true as const, arch: 'deit_tiny_patch16_224', scheme: 'w8a8', wasm: 'simd' as const, threads: 1, clock: 'cpu' };
  const lines: ProfileLine[] = [
    { ...base, op: 'qkv', ms: 10, share: 0.5, calls: 12, kernel: 'gemm_q8', gops: 80, ceiling: 'i16_dot', ceiling_gops: 90, pct_of_ceiling: 88.9 },
    { ...base, op: 'fc1', ms: 8, share: 0.4, calls: 12, kernel: 'gemm_q8', gops: 70, ceiling: 'i16_dot', ceiling_gops: 90, pct_of_ceiling: 77.8 },
    { ...base, op: 'attn_qk', ms: 2, share: 0.1, calls: 36, kernel: 'attention_scores', gops: 30, ceiling: 'f32_madd', ceiling_gops: 45, pct_of_ceiling: 66.7 },
    { ...base, op: 'total', ms: 20, share: 1, calls: 60, forward_ms: 21, wall_ms: 30, plain_ms: 20.5, plain_wall_ms: 29, runs: 5 },
  ];
  const ceilings: CeilingLine[] = [{ profile: true, arch: base.arch, ceiling: 'i16_dot', wasm: 'simd', gops: 90, samples: 5, clock: 'cpu', instruction: 'i32x4.dot_i16x8_s + i32x4.add' }];
  const md = profileMarkdown(lines, ceilings, ['header line']);

  it('one column per contestant, ops in forward order, the sums, and the ceilings', () => {
    expect(md.startsWith('header line\n')).toBe(true);
    expect(md).toContain('| op | w8a8 simd |');
    expect(md.indexOf('| qkv | 10.00 (50.0 %) |')).toBeLessThan(md.indexOf('| fc1 | 8.00 (40.0 %) |'));
    expect(md).toContain('| **Σ ops** | **20.0** |');
    expect(md).toContain('| profiled forward | 21.0 |');
    expect(md).toContain('| unprofiled forward | 20.5 |');
    expect(md).toContain('| unprofiled forward, wall clock | 29.0 |');
    expect(md).toContain('| i16_dot | i32x4.dot_i16x8_s + i32x4.add | 90.0 (5) |');
  });

  it(`marks a GEMM under ${GEMM_TARGET_PCT} % of its ceiling, not one over it, nor attention (its target is another)`, () => {
    expect(md).toContain('| qkv | 80.0 (89 % i16_dot) |');
    expect(md).toContain('| fc1 | 70.0 (78 % i16_dot) ✗ |');
    expect(md).toContain('| attn_qk | 30.0 (67 % f32_madd) |');
  });
});
