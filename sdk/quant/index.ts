// The quantization module: formats, quantizer, simulated path, and (on import) the engine's quantized linear kinds.
export * from './formats.js';
export { quantizeModel, quantizableLayers, layerPlan, defaultEdges, type LayerPlan, parseSchemeName, fakeQuantWeights, simulateModel, fakeQuantActRowsJs, type QuantizeOptions, type SimulateOptions } from './quantize.js';
export { registerQuantSchemes, resolveInt4Memory, int4KindWithA8Tokens, type QuantKernels } from './linear.js';
