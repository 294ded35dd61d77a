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
 *
 * Items are encoded straight into one buffer, sized from the first item
 * and doubled when it runs out: a Buffer per item, then their
 * concatenation, allocated a million objects per million rows and copied
 * every body twice (bench/: delivery, the worker's garbage collection).
 */
export function jsonBytesWithList<T>(head: Record<string, unknown>, listKey: string, items: readonly T[], serialise: (item: T) => string = JSON.stringify): Buffer {
  if (Object.hasOwn(head, listKey)) throw new Error(`expected the head of a JSON body without "${listKey}", which the list fills`);
  const opening = JSON.stringify(head);
  const start = `${opening.length > 2 ? `${opening.slice(0, -1)},` : '{'}${JSON.stringify(listKey)}:[`;
  const first = items.length > 0 ? serialise(items[0]!) : '';
  let buf = Buffer.allocUnsafe(start.length * 3 + Math.ceil((first.length + 1) * items.length * 1.25) + 16);
  let at = 0;
  const put = (text: string) => {
    // At most 3 bytes of UTF-8 per UTF-16 code unit: room is checked before writing.
    const room = at + text.length * 3;
    if (room > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, room));
      buf.copy(bigger, 0, 0, at);
      buf = bigger;
    }
    at += buf.write(text, at);
  };
  put(start);
  if (items.length > 0) put(first);
  for (let i = 1; i < items.length; i++) {
    put(',');
    put(serialise(items[i]!));
  }
  put(']}');
  return buf.subarray(0, at);
}
