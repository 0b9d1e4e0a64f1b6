import { describe, expect, it } from 'vitest';
import { fitOod } from '../../sdk/study/fit.js';
import { encodeMeta, readModel, type ModelFile } from '../../sdk/format/model.js';
import { writeSafetensors } from '../../sdk/format/safetensors.js';
import { Classifier } from '../../sdk/classifier.js';
import { loadDetector, OOD_META_KEY } from '../../sdk/ood/index.js';
import { quantizeModel } from '../../sdk/quant/index.js';
import { loadSamples } from '../../sdk/data/index.js';
import { tinyModel } from './helpers.js';

const roundTrip = (f: ModelFile) => readModel(writeSafetensors(f.tensors, f.metadata));

describe('fit-ood', () => {
  it('stores a threshold at 95 % held-out ID TPR in the file; classify returns the verdict against it', async () => {
    const r = await fitOod(tinyModel(2), { id: 'fashion-mnist:train:60', method: 'mahalanobis', holdout: 20, scheme: 'w8a8' });
    expect([r.nFit, r.nHoldout]).toEqual([40, 20]);
    expect(r.achievedTpr).toBe(19 / 20); // ⌊0.05·20⌋ = 1 rejected
    const file = roundTrip(r.file);
    expect(file.meta.scheme.name).toBe('w8a8');
    const stored = JSON.parse(file.meta.extra[OOD_META_KEY]);
    expect(stored).toMatchObject({ method: 'mahalanobis', scheme: 'w8a8', threshold: r.detector.threshold, tpr: 0.95, nHeldout: 20 });
    expect(loadDetector(file.meta)!.threshold).toBe(r.detector.threshold);

    const clf = await Classifier.create(file);
    expect(clf.info().ood).toEqual({ method: 'mahalanobis', fitted: true });
    const samples = await loadSamples('mnist:test:6');
    const verdicts = samples.map((s) => clf.classify({ data: s.pixels, width: s.width, height: s.height, channels: 1 }).ood);
    for (const v of verdicts) {
      expect(v.method).toBe('mahalanobis');
      expect(v.threshold).toBe(r.detector.threshold);
      expect(v.isOOD).toBe(v.score < r.detector.threshold);
    }
    clf.dispose();
  }, 60_000);

  it('logit methods need no fit images; holdout defaults to 20 %', async () => {
    const r = await fitOod(tinyModel(2), { id: 'fashion-mnist:train:30', method: 'energy' });
    expect([r.nFit, r.nHoldout]).toEqual([0, 6]);
    expect(r.file.meta.scheme.name).toBe('fp32');
  });

  it('a detector fitted on one scheme refuses to run on another', async () => {
    const r = await fitOod(tinyModel(2), { id: 'fashion-mnist:train:30', method: 'knn', holdout: 10, scorerOptions: { k: 3 } });
    const requantized = quantizeModel(r.file, { scheme: 'w4a8' });
    expect(requantized.meta.extra.ood).toBeUndefined(); // the quantizer drops a detector fitted on another scheme
    // a file that carries one anyway (assembled by hand or by another tool) is refused
    const meta = { ...requantized.meta, extra: { ...requantized.meta.extra, ood: r.file.meta.extra.ood } };
    await expect(Classifier.create(roundTrip({ ...requantized, meta, metadata: encodeMeta(meta) }))).rejects.toMatchObject({ code: 'E_OOD', message: expect.stringMatching(/fitted on scheme "fp32" but the model runs "w4a8"/) });
  });

  it('bad input: unknown method, holdout too large, --scheme on a quantized model', async () => {
    await expect(fitOod(tinyModel(), { id: 'fashion-mnist:train:10', method: 'odin' })).rejects.toThrow(/unknown OOD method "odin"/);
    await expect(fitOod(tinyModel(), { id: 'fashion-mnist:train:10', method: 'vim', holdout: 10 })).rejects.toThrow(/leaves no images/);
    const q = quantizeModel(tinyModel(), { scheme: 'w8a8' });
    await expect(fitOod(q, { id: 'fashion-mnist:train:10', method: 'msp', scheme: 'w4a4' })).rejects.toMatchObject({ code: 'E_SCHEME' });
  });
});
