// Outlier-aware 4-bit schemes `w4a8-oa` and `w4a4-oa` in the study: what they keep at higher precision and why.
// The quantizer and the engine kind live in sdk/quant/outlier.ts (so createClassifier runs the files `vitguard
// quantize --scheme w4a4-oa --calib SPEC` writes); the probe in sdk/quant/calibrate.ts.
//
// Three measures, all computed from the fp32 model and ID calibration images only (never OOD or test data):
// 1. Heavy-tailed layers run with 8-bit activations (w4a4-oa): a layer whose input has (max over channels) /
//    (median over channels) of max |x| above `ratio` (default 4) keeps int8 per-token activations; the rest stay int4.
//    In the shipped models these are the fc2 inputs (post-GELU: sparse, many large channels) and a few attn.proj.
//    Same int4 weights and kernel (a8 and a4 share the packed layout), so no extra latency.
// 2. 8-bit class tokens (w4a4-oa, `a8Tokens`, default: the class and distillation tokens): in every other 4-bit
//    block layer the leading tokens' rows are quantized at 8 bits, the patch tokens at 4 (the per-token quantizer
//    makes rows independent). Those tokens become the feature every OOD score reads. DeiT3 (LayerScale) needs it:
//    its channel ratios flag only 2 layers, and measured on the shipped models (fashion-mnist:train calibration,
//    --limit 300) rule 1 alone recovered 10 % of w4a4's lost AUPR-out on DeiT3, the class token alone 68 %, both
//    64 % (ViT 86 / 36 / 65 %, DeiT 87 / 79 / 86 %). 8-bit rows for high-norm "sink" tokens (max |x| over 3× the
//    image's median) recovered 3 % on DeiT3: the loss is not in the sinks. Cost: one quantizer call of a8Tokens
//    rows per image and layer.
// 3. Optional static outlier channels (k > 0): a layer's input x (rows, K) is split by a fixed set O of k channels,
//      out = base(x with the channels O zeroed) + x[:, O] · W[:, O]ᵀ
//    with W's O columns zeroed before quantization and run in f32 (LLM.int8()-style decomposition, static set).
//    `inspect`/the probe show the large fc2 channels are many, not a few, so k defaults to 0 for w4a4-oa and 4 for w4a8-oa.
// Edges (patch embedding, heads) are quantized as in the plain base scheme (int8).
//
// File layout and metadata (the plan, validated against the config when read): sdk/quant/outlier.ts and
// OutlierPlan in sdk/format/model.ts.

import {
  DEFAULT_A8_RATIO, DEFAULT_OUTLIER_CHANNELS, type OaSchemeName,
} from '../quant/outlier.js';

export {
  OA_SCHEMES, DEFAULT_OUTLIER_CHANNELS, DEFAULT_A8_RATIO, DEFAULT_OA_CALIB_IMAGES, topChannels, channelMaxRatio,
  quantizeOutlierAware, isOutlierAwareScheme, type OaSchemeName, type OaOptions, type ChannelStats,
} from '../quant/outlier.js';
export { probeInputStats, type InputStats } from '../quant/calibrate.js';

/** What each outlier-aware scheme keeps at higher precision, for reports. */
export const OA_RULES: Record<OaSchemeName, string> = {
  'w4a4-oa': `int4 weights and kernels as w4a4; 8-bit activations for (a) every block layer whose input's per-channel ` +
    `max |x| has max/median above ${DEFAULT_A8_RATIO} and (b) in the other block layers, the rows of the class (and ` +
    `distillation) token, the patch tokens at 4 bits; both chosen from 64 ID calibration images (the fit set) only`,
  'w4a8-oa': `w4a8 plus the ${DEFAULT_OUTLIER_CHANNELS['w4a8-oa']} input channels of each block layer with the largest ` +
    `calibrated max |x| kept in f32 (static decomposition)`,
};
