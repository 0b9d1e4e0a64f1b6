// Every failure the SDK reports on purpose is a VitguardError with a stable `code`.
// Messages say what was wrong and, where it helps, what to do.

export type ErrorCode =
  | 'E_FILE_TRUNCATED' // a file ends before its header or data says it should
  | 'E_FILE_HEADER' // a header that is not valid (bad JSON, overlapping or overrunning offsets, bad dtype)
  | 'E_TENSOR_MISSING' // a tensor the architecture needs is absent
  | 'E_TENSOR_UNKNOWN' // a tensor the architecture does not know
  | 'E_TENSOR_SHAPE' // a tensor's shape or dtype does not match the config
  | 'E_NONFINITE' // NaN or Inf in weights, pixels or scores
  | 'E_UNKNOWN_ARCH' // an architecture name we cannot map
  | 'E_METADATA' // missing or invalid model metadata
  | 'E_CONFIG_MISSING' // a config value the checkpoint cannot tell (not in its shapes, metadata, arch name or config files): pass the named flag
  | 'E_IMAGE' // an image that cannot be decoded or is too small / empty
  | 'E_IMAGE_TOO_LARGE' // an image whose header declares more pixels, or needs more decoding memory, than the limits allow
  | 'E_MODEL_TOO_LARGE' // a model file over maxModelBytes, or one whose config needs more memory than maxMemoryBytes allows
  | 'E_INPUT' // wrong input shape or type
  | 'E_FETCH' // a model download failed: HTTP error status, network error or CORS refusal
  | 'E_TRUNCATED' // a model download ended before the Content-Length the server announced
  | 'E_INTEGRITY' // downloaded model bytes do not match the integrity hash given (or it cannot be checked here)
  | 'E_ABORTED' // a model download or a createClassifier in progress was cancelled through its AbortSignal
  | 'E_WASM' // wasm build unavailable, or a trap inside wasm
  | 'E_DATA' // dataset missing, corrupt, or empty
  | 'E_SCHEME' // unknown quantization scheme or bad quantization option
  | 'E_PLAN' // an outlier-aware model's plan (8-bit layers and token rows) does not fit the model: other layer names, token count or shape
  | 'E_OOD' // OOD detector misuse (unfitted, wrong scheme, no images)
  | 'E_DISPOSED' // a call after dispose()
  | 'E_WORKER' // a worker died or could not be started
  | 'E_USAGE'; // bad command-line usage

export class VitguardError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VitguardError';
    this.code = code;
  }
}

export function fail(code: ErrorCode, message: string): never {
  throw new VitguardError(code, message);
}

export function isVitguardError(e: unknown): e is VitguardError {
  return e instanceof VitguardError || (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'VitguardError');
}
