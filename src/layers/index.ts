/**
 * The custom tfjs-layers layers of the GFT and GFT-Sig models (issue 12, docs/method.md §5).
 * Importing this module registers every class for deserialization (`tf.models.modelFromJSON`,
 * `tf.loadLayersModel`). Each layer's module states its math, layout, parameters and cost;
 * docs/architecture.md has the checklist for adding one.
 */
export { GLU, type GLUArgs, gluParameterCount } from './glu.js';
export { GRN, type GRNArgs, grnParameterCount } from './grn.js';
export { VariableSelection, type VariableSelectionArgs, variableSelectionParameterCount } from './variableSelection.js';
export {
  TKAN, type TKANArgs, TKAN_CELLS, cubicBSplineBasis, type TkanCell, TKAN_BASE_ACTIVATIONS, type TkanBaseActivation, tkanParameterCount,
} from './tkan.js';
export {
  CausalMultiHeadAttention, type CausalMultiHeadAttentionArgs, CAUSAL_MASK_VALUE, causalMultiHeadAttentionParameterCount,
} from './causalMultiHeadAttention.js';
export { SignatureFeatures, type SignatureFeaturesArgs, signatureFeaturesParameterCount, signatureFeaturesWidth } from './signatureFeatures.js';
