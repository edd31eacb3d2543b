/**
 * Process-wide teardown stack. Whatever creates something outside this process (a cluster, a container)
 * registers how to remove it; on Ctrl-C or SIGTERM the handlers run last-in first-out, like fixtures
 * in a test runner. Normal code paths unregister after cleaning up themselves.
 */
type Teardown = { title: string; fn: () => Promise<void> };
const stack: Teardown[] = [];

export function registerTeardown(title: string, fn: () => Promise<void>): () => void {
  const entry = { title, fn };
  stack.push(entry);
  return () => {
    const i = stack.indexOf(entry);
    if (i >= 0) stack.splice(i, 1);
  };
}

export function pendingTeardowns(): string[] {
  return stack.map((t) => t.title);
}

/** Runs every registered teardown, newest first; errors are collected, not thrown, so all of them run. */
export async function runTeardowns(onError: (title: string, e: unknown) => void = () => {}): Promise<number> {
  let n = 0;
  while (stack.length) {
    const t = stack.pop()!;
    try {
      await t.fn();
      n++;
    } catch (e) {
      onError(t.title, e);
    }
  }
  return n;
}
