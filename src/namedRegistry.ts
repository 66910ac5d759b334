/**
 * A registry of named entries, the mechanism behind each extension point (allocators,
 * execution strategies): names are letters, digits, - and _ starting with a letter, unique;
 * entries are listed in registration order. Errors are ERR_ARG naming `name`.
 */
import { SigvwapError } from './errors.js';

export class NamedRegistry<E extends { name: string }> {
  readonly #entries = new Map<string, E>();

  /** `what` names one entry in errors, with its article: 'an allocator', 'a strategy'. */
  constructor(readonly what: string) {}

  register(entry: E): void {
    const kind = this.what.replace(/^an? /, '');
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(entry.name)) {
      throw new SigvwapError('ERR_ARG', `name: ${kind} names are letters, digits, - and _ starting with a letter, got ${JSON.stringify(entry.name)}`, { argument: 'name', value: entry.name });
    }
    if (this.#entries.has(entry.name)) throw new SigvwapError('ERR_ARG', `name: ${this.what} named ${entry.name} is already registered`, { argument: 'name', value: entry.name });
    this.#entries.set(entry.name, entry);
  }

  unregister(name: string): boolean {
    return this.#entries.delete(name);
  }

  get(name: string): E | undefined {
    return this.#entries.get(name);
  }

  list(): readonly E[] {
    return [...this.#entries.values()];
  }

  names(): string[] {
    return [...this.#entries.keys()];
  }
}
