// Key rotation: re-seals every stored secret that names another key than the
// box's current one. Run it (`roster secrets rotate`) after making the new key
// ROSTER_SECRET_KEY and the old one ROSTER_SECRET_KEY_PREVIOUS; once it reports
// no failure, the previous key can be dropped.
import type { PrismaClient } from './db.js';
import { SecretBox, SecretBoxError } from './secrets.js';

export interface RotationFailure {
  /** The row's model and id: never its value. */
  table: 'Source' | 'Destination';
  id: string;
  /** The key the value names, when it has the shape of a sealed value. */
  keyId: string | undefined;
  message: string;
}

export interface RotationResult {
  /** Rows re-sealed with the current key. */
  sources: number;
  destinations: number;
  /** Rows already sealed with the current key (left untouched). */
  alreadyCurrent: number;
  /** Rows that could not be opened; the others were rotated all the same. */
  failures: RotationFailure[];
}

export interface RotationOptions {
  /** Rows read and updated per round trip (default 200). */
  batchSize?: number;
}

/** The stored columns that hold sealed values. */
interface SealedColumn {
  table: RotationFailure['table'];
  /** Up to `take` rows with an id after `after` (all when undefined), in id order; null values are skipped. */
  read(after: string | undefined, take: number): Promise<{ id: string; value: string; updatedAt: Date }[]>;
  /**
   * Writes `next` only where the row still holds `previous` (compare-and-set), so
   * that a concurrent update is never overwritten. Keeps `updatedAt`: the
   * plaintext did not change.
   */
  swap(rows: { id: string; previous: string; next: string; updatedAt: Date }[]): Promise<boolean[]>;
  /** The row's current value; undefined when the row (or its value) is gone. */
  reread(id: string): Promise<{ value: string; updatedAt: Date } | undefined>;
}

function columns(prisma: PrismaClient): SealedColumn[] {
  return [
    {
      table: 'Source',
      async read(after, take) {
        const rows = await prisma.source.findMany({
          where: after ? { id: { gt: after } } : {},
          orderBy: { id: 'asc' },
          take,
          select: { id: true, connectionEnc: true, updatedAt: true },
        });
        return rows.map((r) => ({ id: r.id, value: r.connectionEnc, updatedAt: r.updatedAt }));
      },
      async swap(rows) {
        const results = await prisma.$transaction(
          rows.map((r) => prisma.source.updateMany({ where: { id: r.id, connectionEnc: r.previous }, data: { connectionEnc: r.next, updatedAt: r.updatedAt } })),
        );
        return results.map((r) => r.count === 1);
      },
      async reread(id) {
        const row = await prisma.source.findUnique({ where: { id }, select: { connectionEnc: true, updatedAt: true } });
        return row ? { value: row.connectionEnc, updatedAt: row.updatedAt } : undefined;
      },
    },
    {
      table: 'Destination',
      async read(after, take) {
        const rows = await prisma.destination.findMany({
          where: { secretsEnc: { not: null }, ...(after ? { id: { gt: after } } : {}) },
          orderBy: { id: 'asc' },
          take,
          select: { id: true, secretsEnc: true, updatedAt: true },
        });
        return rows.flatMap((r) => (r.secretsEnc === null ? [] : [{ id: r.id, value: r.secretsEnc, updatedAt: r.updatedAt }]));
      },
      async swap(rows) {
        const results = await prisma.$transaction(
          rows.map((r) => prisma.destination.updateMany({ where: { id: r.id, secretsEnc: r.previous }, data: { secretsEnc: r.next, updatedAt: r.updatedAt } })),
        );
        return results.map((r) => r.count === 1);
      },
      async reread(id) {
        const row = await prisma.destination.findUnique({ where: { id }, select: { secretsEnc: true, updatedAt: true } });
        return row?.secretsEnc ? { value: row.secretsEnc, updatedAt: row.updatedAt } : undefined;
      },
    },
  ];
}

/**
 * The key id of a value that has the shape of a sealed value. Anything else
 * (a plaintext stored by hand, say) yields undefined: its second field could be
 * part of a secret and must not be printed.
 */
function sealedKeyId(value: string): string | undefined {
  const parts = value.split(':');
  const id = SecretBox.keyIdOf(value);
  return parts.length === 5 && parts[0] === 'v1' && id !== undefined && /^[0-9a-f]{8}$/.test(id) ? id : undefined;
}

/** How many times a row that keeps changing under us is retried before it is reported. */
const MAX_ATTEMPTS = 5;

export async function rotateSecrets(prisma: PrismaClient, box: SecretBox, opts: RotationOptions = {}): Promise<RotationResult> {
  const batchSize = opts.batchSize ?? 200;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`expected a positive integer batch size, but got ${batchSize}`);
  const result: RotationResult = { sources: 0, destinations: 0, alreadyCurrent: 0, failures: [] };

  for (const column of columns(prisma)) {
    const rotated = (n: number) => {
      if (column.table === 'Source') result.sources += n;
      else result.destinations += n;
    };
    const fail = (id: string, value: string, message: string) => {
      const keyId = sealedKeyId(value);
      result.failures.push({ table: column.table, id, keyId, message: `${column.table} ${id}: ${message}` });
    };
    /** The re-sealed value, or undefined (already current, or reported as a failure). */
    const reseal = (id: string, value: string): string | undefined => {
      if (sealedKeyId(value) === box.currentKeyId) {
        result.alreadyCurrent += 1;
        return undefined;
      }
      try {
        return box.seal(box.open(value));
      } catch (err) {
        // SecretBoxError messages name key ids, never the value; anything else
        // (a decoding error, say) is replaced by a fixed message for the same reason.
        const why = err instanceof SecretBoxError ? err.message : 'the stored value could not be opened';
        fail(id, value, why);
        return undefined;
      }
    };

    let after: string | undefined;
    for (;;) {
      const rows = await column.read(after, batchSize);
      if (!rows.length) break;
      after = rows[rows.length - 1]!.id;

      const pending = rows.flatMap((r) => {
        const next = reseal(r.id, r.value);
        return next === undefined ? [] : [{ id: r.id, previous: r.value, next, updatedAt: r.updatedAt }];
      });
      if (!pending.length) continue;
      const swapped = await column.swap(pending);
      rotated(swapped.filter(Boolean).length);

      // A row that changed between the read and the write (a source's URL
      // updated, say) is read again and handled with its new value.
      for (const [i, row] of pending.entries()) {
        if (swapped[i]) continue;
        let attempts = 1;
        for (;;) {
          const now = await column.reread(row.id);
          if (!now) break; // deleted meanwhile: nothing left to rotate
          const next = reseal(row.id, now.value);
          if (next === undefined) break;
          const [done] = await column.swap([{ id: row.id, previous: now.value, next, updatedAt: now.updatedAt }]);
          if (done) {
            rotated(1);
            break;
          }
          attempts += 1;
          if (attempts >= MAX_ATTEMPTS) {
            fail(row.id, now.value, `the value changed ${MAX_ATTEMPTS} times while it was being re-sealed; run again`);
            break;
          }
        }
      }
    }
  }
  return result;
}
