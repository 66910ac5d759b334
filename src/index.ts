/**
 * sigvwap: learned VWAP execution with a Rust/CUDA native core.
 * Public API of the package root.
 */
export * from './errors.js';
export * from './native/index.js';
export * from './data/index.js';
export * from './model/index.js';
export { signatureOp, type SignatureOpOptions } from './model/signatureOp.js';
