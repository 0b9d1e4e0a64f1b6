// Types of the `vitguard/wasm/simd` and `vitguard/wasm/relaxed` subpaths: the kernel binaries as a bundler that
// imports .wasm files as compiled modules gives them (wrangler / workerd's CompiledWasm rule, esbuild's
// `--loader:.wasm=...` set up that way). Pass them to createClassifier({ wasmSource: { simd, relaxed } }).
// Other tools (Vite, webpack) import .wasm files in their own ways: resolve the path instead
// (`import.meta.resolve('vitguard/wasm/simd')`, `require.resolve`) and pass the URL or the bytes.
declare const kernels: WebAssembly.Module;
export default kernels;
