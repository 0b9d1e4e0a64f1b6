// The model read from R2 (binding MODELS, object key MODEL_KEY; `wrangler deploy --env r2`): for models too large to
// bundle. It is read once per isolate, on the first request, and the classifier is reused by later requests.
//   npx wrangler r2 object put vitguard-models/deit_small-w4a8.safetensors --file model/deit_small-w4a8.safetensors --remote
import { classifierWorker, ModelMissing } from './handler.js';

export default classifierWorker(async (env) => {
  const object = await env.MODELS.get(env.MODEL_KEY);
  if (object === null) throw new ModelMissing(`no object "${env.MODEL_KEY}" in the R2 bucket bound as MODELS: upload the model first (README.md)`);
  return new Uint8Array(await object.arrayBuffer());
});
