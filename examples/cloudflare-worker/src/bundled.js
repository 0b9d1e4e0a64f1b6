// The model bundled into the Worker: wrangler imports model/model.safetensors as an ArrayBuffer (the "Data" rule in
// wrangler.toml). For small models: the upload (code + wasm + model) must stay under 3 MB gzip (free) / 10 MB (paid).
import model from '../model/model.safetensors';
import { classifierWorker } from './handler.js';

export default classifierWorker(() => new Uint8Array(model));
