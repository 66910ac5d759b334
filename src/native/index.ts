export { backendInfo, fmaPeak, setThreads, type BackendReport, type DeviceName, type FmaPeakReport } from './backend.js';
export { loadBinding, platformSuffix, candidatePaths } from './binding.js';
export type { FloatArray } from './checks.js';
export {
  vwapLoss,
  vwapLossAsync,
  vwapLossGrad,
  vwapLossGradAsync,
  vwapLossAndGrad,
  vwapLossAndGradAsync,
  type VwapLossInput,
  type VwapGradInput,
  type VwapLossOutput,
  type VwapLossGradOutput,
  type VwapLossKind,
} from './vwapLoss.js';
export {
  sigLength,
  signature,
  signatureAsync,
  signatureBackward,
  signatureBackwardAsync,
  addTime,
  leadLag,
  type SignatureOptions,
  type SignaturePrecision,
  type OutOption,
  type PathShape,
} from './signature.js';
