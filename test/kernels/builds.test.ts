// The simd and relaxed binaries agree. Relaxed SIMD needs `--experimental-wasm-relaxed-simd` on Node 20, so the
// comparison runs in a child node with that flag (and --no-liftoff: V8 11.3's baseline compiler mis-computes some
// relaxed instructions before tier-up). The f32 kernels differ only by fused vs unfused multiply-add rounding.

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { relaxedSimdSupported } from '../../sdk/engine/wasm.js';

describe('simd vs relaxed builds', () => {
  it('every kernel agrees to f32 rounding (≤ 2e-6 relative to the output scale)', () => {
    const script = fileURLToPath(new URL('./compare-builds.mjs', import.meta.url));
    // Node 21+ runs relaxed SIMD by default (and may not know the experimental flag): pass it only where needed.
    const flags = relaxedSimdSupported() ? ['--no-liftoff'] : ['--experimental-wasm-relaxed-simd', '--no-liftoff'];
    const out = execFileSync(process.execPath, [...flags, script], { encoding: 'utf8' });
    const results = JSON.parse(out) as Record<string, number>;
    expect(Object.keys(results).length).toBeGreaterThan(20);
    for (const [name, diff] of Object.entries(results)) expect(diff, name).toBeLessThanOrEqual(2e-6);
    // the int8 attention has no fused f32 step: bit for bit
    const q8 = Object.keys(results).filter((n) => n.startsWith('attention_q8'));
    expect(q8.length).toBeGreaterThan(0);
    for (const name of q8) expect(results[name], name).toBe(0);
    // fused multiply-add really is in use in the relaxed GEMM: some difference shows at K = 768
    expect(results['gemm_f32 197x192x768']).toBeGreaterThan(0);
  });
});
