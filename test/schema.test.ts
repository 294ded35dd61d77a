import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { printedSchema } from '../src/graphql/schema.js';

describe('schema/schema.graphql', () => {
  it('is the printed schema (run `npm run schema:print` after changing types)', async () => {
    const committed = await readFile(new URL('../schema/schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(printedSchema());
  });
});
