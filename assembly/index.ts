// The exported ABI of the vitguard kernels: pointers (byte offsets into linear memory) and sizes.
// The engine (sdk/engine) owns memory: everything above heap_base() is the engine's to plan.

export function heap_base(): usize {
  return __heap_base;
}

/** 1 when this binary was built with relaxed SIMD. */
export function has_relaxed_simd(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

export { copy_f32, fill_f32, add_f32, transpose_f32 } from './memory';
export * from './gemm_f32';
export {
  erf_ref, layernorm, layernorm_ref, gelu, gelu_ref, softmax_rows, softmax_rows_ref,
  residual_add, residual_add_ref, token_l2_norms, token_l2_norms_ref, mean_rows,
} from './norm';
export * from './attention';
export * from './quant';
export * from './gemm_q8';
export * from './gemm_q4';
export * from './load';
export * from './attention_q8';
export * from './ceiling';
