/**
 * Promises that resolve when something happens under a key (an app is
 * registered, a module parks at load()).
 * @module
 */

/** Waiters by key; `wake(key)` resolves every promise `wait(key)` gave. */
export class Waiters {
  readonly #byKey = new Map<string, (() => void)[]>();

  wait(key: string): Promise<void> {
    return new Promise((resolve) => {
      const list = this.#byKey.get(key);
      if (list) list.push(resolve);
      else this.#byKey.set(key, [resolve]);
    });
  }

  wake(key: string): void {
    const list = this.#byKey.get(key);
    if (list === undefined) return;
    this.#byKey.delete(key);
    for (const w of list) w();
  }
}
