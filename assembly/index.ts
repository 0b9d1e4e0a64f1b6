// The exported ABI of the vitguard kernels: pointers (byte offsets into linear memory) and sizes.
// The engine (sdk/engine) owns memory: everything above heapBase() is the engine's to plan.

export function heapBase(): usize {
  return __heap_base;
}

/** 1 when this binary was built with relaxed SIMD. */
export function hasRelaxedSimd(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}
