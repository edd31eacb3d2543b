import { registerTeardown } from "../../clusters/teardown.js";

/**
 * What a run must undo, in the order it was acquired (Playwright's fixtures, LIFO): the cluster first, then
 * the run's namespace, then the fault's rollback. Each item is also registered with the process's teardown
 * stack, so Ctrl-C undoes the same things in the same order. `unwind` undoes them newest first, each one
 * best effort: a failing rollback or namespace deletion is reported and the cluster is still deleted.
 */
export class RunTeardown {
  private readonly items: { title: string; shows: string; fn: () => Promise<string | void>; unregister: () => void }[] = [];

  constructor(private readonly owner: string) {}

  push(title: string, shows: string, fn: () => Promise<string | void>): void {
    const unregister = registerTeardown(`${this.owner}: ${title}`, async () => {
      await fn();
    });
    this.items.push({ title, shows, fn, unregister });
  }

  get size(): number {
    return this.items.length;
  }

  /** Undoes everything, newest first; `step` runs (and records) one item and may throw: the next one runs anyway. */
  async unwind(
    step: (title: string, shows: string, fn: () => Promise<string | void>) => Promise<void>,
    onError: (title: string, e: unknown) => void,
  ): Promise<void> {
    while (this.items.length) {
      const it = this.items.pop()!;
      it.unregister();
      await step(it.title, it.shows, it.fn).catch((e: unknown) => onError(it.title, e));
    }
  }
}
