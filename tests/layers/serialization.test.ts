/**
 * Serialization round trips give identical outputs: a layer rebuilt from its `getConfig()` with
 * the original's weights (`getWeights` / `setWeights`), and a functional model through
 * `toJSON()` → `tf.models.modelFromJSON` and through `save` → `loadLayersModel` (weights found
 * again by name: the names must be stable across processes). Non-trainable state
 * (SignatureFeatures' moving statistics) travels with the weights.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { tf } from '../../src/ops/tf.js';
import { apply, BACKENDS, builtLayer, LAYER_CASES, maxAbsDiff, onBackend, outputValues, type Layer } from '../helpers/layers.js';

type LayerClass = { fromConfig: (cls: unknown, config: tf.serialization.ConfigDict) => Layer };

function functionalModel(layer: Layer, shapes: number[][]): tfl.LayersModel {
  const inputs = shapes.map((s) => tfl.input({ shape: s.slice(1) }));
  const out = layer.apply(inputs.length === 1 ? inputs[0]! : inputs) as tfl.SymbolicTensor | tfl.SymbolicTensor[];
  return tfl.model({ inputs, outputs: out });
}

function predict(model: tfl.LayersModel, inputs: tf.Tensor[]): Float64Array {
  const y = model.predict(inputs.length === 1 ? inputs[0]! : inputs) as tf.Tensor | tf.Tensor[];
  return outputValues(Array.isArray(y) ? y : [y]);
}

describe.each(BACKENDS)('serialization on the %s backend', (backend) => {
  onBackend(backend);

  it.each(LAYER_CASES.map((c) => [c.name, c] as const))('%s: getConfig → fromConfig with the weights gives identical outputs', (_name, c) => {
    const { layer, inputs } = builtLayer(c, 31);
    const cls = layer.constructor as unknown as LayerClass;
    const config = layer.getConfig();
    const clone = cls.fromConfig(cls, JSON.parse(JSON.stringify(config)));
    apply(clone, inputs, c.kwargs);
    clone.setWeights(layer.getWeights());
    expect(clone.getConfig()).toEqual(config);
    const want = outputValues(apply(layer, inputs));
    expect(maxAbsDiff(outputValues(apply(clone, inputs)), want)).toBe(0);
  });

  it.each(LAYER_CASES.map((c) => [c.name, c] as const))('%s: a model through modelFromJSON and through save/loadLayersModel predicts identically', async (_name, c) => {
    const { layer, inputs } = builtLayer(c, 41);
    const model = functionalModel(c.make(), c.inputs);
    model.setWeights(layer.getWeights());
    const want = predict(model, inputs);
    expect(maxAbsDiff(want, outputValues(apply(layer, inputs)))).toBe(0);

    const fromJson = await tfl.models.modelFromJSON(model.toJSON(null, false) as tf.io.ModelJSON['modelTopology'] as never);
    fromJson.setWeights(model.getWeights());
    expect(maxAbsDiff(predict(fromJson, inputs), want)).toBe(0);

    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
    expect(maxAbsDiff(predict(loaded, inputs), want)).toBe(0);
  });
});
