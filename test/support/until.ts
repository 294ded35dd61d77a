// Polling for a condition another process or connection brings about.

/** Calls `fn` every 100 ms until it returns something truthy, which it returns; fails after `ms` naming `what`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
