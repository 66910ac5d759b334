/**
 * The allocator registry: the one place where a name or a checkpoint path becomes an Allocator.
 *
 *   resolveAllocator('twap')              a registered name: its factory with the context
 *   resolveAllocator('runs/static.ckpt')  a checkpoint file: the neural allocator (best weights)
 *   resolveAllocator('runs/static-afd')   a per-asset folder (afd.json): one model per asset
 *   resolveAllocator('pretrained:dynamic') a shipped model (models/dynamic.ckpt, card models/dynamic.md),
 *                                         reported as 'pretrained:dynamic' (not pooled with your own)
 *   resolveAllocator('l60=runs/dyn.ckpt') `<label>=<spec>`: the allocator of <spec> reported under
 *                                         another label (two configurations of one kind are
 *                                         otherwise pooled as seeds of one model by evaluate)
 *   resolveAllocator(allocator)           an Allocator object, as is
 * Names win over paths (a file called `twap` in the working directory is not read); an unknown
 * name that does not look like a path (no / \ or .) is ERR_ARG listing the registered names. A new
 * allocator registers itself from its own module with `registerAllocator`; built-ins are
 * imported by src/allocators/index.ts, others by whoever uses them (the CLI's --plugin option
 * imports a module before the command runs).
 */
import { existsSync } from 'node:fs';
import { SigvwapError } from '../errors.js';
import { NamedRegistry } from '../namedRegistry.js';
import type { Allocator } from './allocator.js';
import { loadAllocator, type ModelExpectation } from './neural/loadAllocator.js';
import { PRETRAINED_PREFIX, pretrainedModels, pretrainedPath } from './neural/pretrained.js';

/** What a factory may use: the caller's orders and options. */
export interface AllocatorContext {
  /** bars of the orders the allocator will see */
  horizon?: number;
  /** bar interval of the data, ms */
  intervalMs?: number;
  /** days of history for historical-curve allocators (CLI --hist-days) */
  histDays?: number;
}

export interface AllocatorEntry {
  /** the name on the command line and in `resolveAllocator`: letters, digits, - and _ */
  name: string;
  /** one line for `--help` and errors */
  description: string;
  create(context: AllocatorContext): Allocator;
}

const entries = new NamedRegistry<AllocatorEntry>('an allocator');

/** Register an allocator under a name; ERR_ARG when the name is taken or malformed. */
export function registerAllocator(entry: AllocatorEntry): void {
  entries.register(entry);
}

/** Remove a registration (tests and plugins that reload). */
export function unregisterAllocator(name: string): boolean {
  return entries.unregister(name);
}

/** Registered allocators, in registration order. */
export function registeredAllocators(): readonly AllocatorEntry[] {
  return entries.list();
}

/** A registered name, a checkpoint file or per-asset folder, or an Allocator. */
export function resolveAllocator(spec: string | Allocator, context: AllocatorContext = {}): Allocator {
  if (typeof spec !== 'string') return spec;
  const relabel = LABELLED.exec(spec);
  if (relabel) return withLabel(resolveAllocator(relabel[2]!, context), relabel[1]!);
  const entry = entries.get(spec);
  if (entry) return entry.create(context);
  if (spec.startsWith(PRETRAINED_PREFIX)) return withLabel(loadAllocator(pretrainedPath(spec.slice(PRETRAINED_PREFIX.length)), expectation(context)), spec);
  // a path: an existing one, or one that looks like a path (the checkpoint reader then names
  // the missing file with ERR_CHECKPOINT)
  if (existsSync(spec) || /[\\/.]/.test(spec)) {
    return loadAllocator(spec, expectation(context));
  }
  throw new SigvwapError('ERR_ARG', `model: ${JSON.stringify(spec)} is neither a registered allocator (${entries.names().join(', ')}) nor a checkpoint file, per-asset folder or pretrained:<name> (${pretrainedModels().join(', ') || 'none shipped'})`, {
    argument: 'model', value: spec, registered: entries.names(),
  });
}

/**
 * Whether `spec` is for `resolveAllocator` rather than another registry (backtest's strategies
 * share the name space): a registered name, `pretrained:<name>`, `<label>=<spec>`, or something
 * path-like. It says nothing about whether the spec resolves.
 */
export function isAllocatorSpec(spec: string): boolean {
  return entries.get(spec) !== undefined || spec.startsWith(PRETRAINED_PREFIX) || LABELLED.test(spec) || /[\\/.]/.test(spec);
}

function expectation(context: AllocatorContext): ModelExpectation {
  const expect: ModelExpectation = {};
  if (context.horizon !== undefined) expect.horizon = context.horizon;
  if (context.intervalMs !== undefined) expect.intervalMs = context.intervalMs;
  return expect;
}

/** `<label>=<spec>`: a label (letter first; letters, digits, + - _ .) then the allocator's spec. */
const LABELLED = /^([A-Za-z][\w+.-]*)=(.+)$/;

/**
 * The allocator under another label; every other member is the allocator's own (methods bound
 * to it, so classes with private fields keep working).
 */
export function withLabel(allocator: Allocator, label: string): Allocator {
  return new Proxy(allocator, {
    get(target, key) {
      if (key === 'label') return label;
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
