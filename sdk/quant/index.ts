// The quantization module: formats, quantizer, simulated path, outlier-aware schemes, and (on import) the engine's
// quantized linear kinds, w4a8-oa / w4a4-oa included.
export * from './formats.js';
export { quantizeModel, quantizableLayers, layerPlan, defaultEdges, type LayerPlan, parseSchemeName, fakeQuantWeights, simulateModel, fakeQuantActRowsJs, type QuantizeOptions, type SimulateOptions } from './quantize.js';
export { registerQuantSchemes, resolveInt4Memory, int4KindWithA8Tokens, type QuantKernels } from './linear.js';
export {
  OA_SCHEMES, DEFAULT_OUTLIER_CHANNELS, DEFAULT_A8_RATIO, DEFAULT_OA_CALIB_IMAGES, quantizeOutlierAware, isOutlierAwareScheme,
  registerOutlierAwareSchemes, topChannels, channelMaxRatio, type OaSchemeName, type OaOptions, type ChannelStats,
} from './outlier.js';
