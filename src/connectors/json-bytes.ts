// A large JSON request body as bytes, built item by item. JSON.stringify of
// a whole batch makes one string of hundreds of KB, which V8 allocates
// straight into its old generation, where it waits for a full collection:
// at a thousand batches a run, that garbage set the worker's peak memory
// (bench/: delivery). Per-item strings die young, the bytes live outside the
// JS heap, and the body is encoded once for both the signature and the
// socket instead of once for each.

/**
 * The UTF-8 bytes of `JSON.stringify({ ...head, [listKey]: items })`,
 * byte for byte, for a plain-object head that has no `listKey` of its own.
 * `serialise` writes one item (JSON.stringify by default; a caller that
 * holds an item's JSON text already may splice it instead).
 */
export function jsonBytesWithList<T>(head: Record<string, unknown>, listKey: string, items: readonly T[], serialise: (item: T) => string = JSON.stringify): Buffer {
  if (Object.hasOwn(head, listKey)) throw new Error(`expected the head of a JSON body without "${listKey}", which the list fills`);
  const opening = JSON.stringify(head);
  const parts: Buffer[] = [Buffer.from(`${opening.length > 2 ? `${opening.slice(0, -1)},` : '{'}${JSON.stringify(listKey)}:[`)];
  for (let i = 0; i < items.length; i++) parts.push(Buffer.from(i === 0 ? serialise(items[i]!) : `,${serialise(items[i]!)}`));
  parts.push(Buffer.from(']}'));
  return Buffer.concat(parts);
}
