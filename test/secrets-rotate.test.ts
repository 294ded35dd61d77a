// Key rotation on a real database: every stored credential ends up sealed with
// the current key and opens to the same plaintext; a second run changes
// nothing; a value sealed with a key that is not configured is reported by row
// and key id (never by value) while the others are rotated; a concurrent update
// is not overwritten; and `roster secrets rotate` does the same from the CLI.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { keyId, SecretBox } from '../src/secrets.js';
import { rotateSecrets } from '../src/secrets-rotate.js';
import type { PrismaClient } from '../src/db.js';
import { ok, useTestApp } from './support/app.js';

const t = await useTestApp();
const prisma = t.services.db.prisma;
const ROOT = new URL('../', import.meta.url).pathname;
const { workspaceId, gql } = await t.workspace('rotate');

/** The row id behind a Relay global id ("Type:uuid", base64). */
const rowId = (globalId: string) => Buffer.from(globalId, 'base64').toString('utf8').split(':')[1]!;

const sourceId = rowId(ok(await gql(`mutation($url: String!) { createSource(input: { name: "Shop", url: $url }) { ... on CreateSourcePayload { source { id } } } }`, { url: t.url })).createSource.source.id);
const destinationId = rowId(ok(
  await gql(`mutation { createDestination(input: { name: "Out", type: "postgres_table", config: { url: ${JSON.stringify(t.url)}, table: "x" } }) { __typename ... on CreateDestinationPayload { destination { id } } ... on Error { message } } }`),
).createDestination.destination.id);

const K0 = t.services.config.secretKey!;
const key = () => randomBytes(32);

async function stored() {
  const source = await prisma.source.findUniqueOrThrow({ where: { id: sourceId } });
  const destination = await prisma.destination.findUniqueOrThrow({ where: { id: destinationId } });
  return { source: source.connectionEnc, destination: destination.secretsEnc!, sourceUpdatedAt: source.updatedAt, destinationUpdatedAt: destination.updatedAt };
}

// The plaintexts as the app sealed them.
const before = await stored();
let sourcePlain = t.services.secrets.open(before.source);
const destinationPlain = t.services.secrets.open(before.destination);

// What each test leaves for the next: the keys the stored values now name.
let currentKeys: Buffer[] = [];
let extraDestination = '';

describe('rotateSecrets', () => {
  const K1 = key();

  it('re-seals every stored secret with the current key, to the same plaintext', async () => {
    expect(SecretBox.keyIdOf(before.source)).toBe(keyId(K0));
    const box = new SecretBox(K1, [K0]);
    const result = await rotateSecrets(prisma, box);
    expect(result).toEqual({ sources: 1, destinations: 1, alreadyCurrent: 0, failures: [] });

    const after = await stored();
    expect(SecretBox.keyIdOf(after.source)).toBe(keyId(K1));
    expect(SecretBox.keyIdOf(after.destination)).toBe(keyId(K1));
    expect(new SecretBox(K1).open(after.source)).toBe(sourcePlain);
    expect(new SecretBox(K1).open(after.destination)).toBe(destinationPlain);
    expect(sourcePlain).toBe(t.url);
    expect(JSON.parse(destinationPlain)).toEqual({ url: t.url });
    // The plaintext did not change, so neither does updatedAt.
    expect(after.sourceUpdatedAt).toEqual(before.sourceUpdatedAt);
    expect(after.destinationUpdatedAt).toEqual(before.destinationUpdatedAt);
  });

  it('is idempotent: a second run changes nothing', async () => {
    const first = await stored();
    const result = await rotateSecrets(prisma, new SecretBox(K1, [K0]), { batchSize: 1 });
    expect(result).toEqual({ sources: 0, destinations: 0, alreadyCurrent: 2, failures: [] });
    expect(await stored()).toEqual(first);
  });

  it('does not overwrite a value updated between its read and its write', async () => {
    const Kc = key();
    const box = new SecretBox(Kc, [K1]);
    // A process still on the old configuration changes the source's URL
    // right after the rotation read it.
    const changed = `${t.url}?application_name=changed`;
    let raced = false;
    const racing = withSourceReadHook(prisma, async () => {
      if (raced) return;
      raced = true;
      await prisma.source.update({ where: { id: sourceId }, data: { connectionEnc: new SecretBox(K1).seal(changed) } });
    });
    const result = await rotateSecrets(racing, box);
    expect(raced).toBe(true);
    expect(result).toEqual({ sources: 1, destinations: 1, alreadyCurrent: 0, failures: [] });
    const after = await stored();
    expect(SecretBox.keyIdOf(after.source)).toBe(box.currentKeyId);
    expect(box.open(after.source)).toBe(changed);
    expect(box.open(after.destination)).toBe(destinationPlain);
    sourcePlain = changed;
    currentKeys = [Kc];
  });

  it('reports values it cannot open by row and key id, never by value, and rotates the others', async () => {
    const [Kc] = currentKeys as [Buffer];
    const K2 = key();
    const K3 = key();
    const openable = await prisma.destination.create({
      data: { workspaceId, name: 'Sealed with K3', type: 'webhook', config: {}, secretsEnc: new SecretBox(K3).seal('{"signingSecret":"k3-secret"}') },
    });
    const plaintext = await prisma.destination.create({
      data: { workspaceId, name: 'Stored by hand', type: 'webhook', config: {}, secretsEnc: 'postgresql://admin:hunter2@db:5432/x' },
    });
    const unsealed = await prisma.destination.create({ data: { workspaceId, name: 'No secrets', type: 'webhook', config: {}, secretsEnc: null } });

    const box = new SecretBox(K2, [K3]);
    const result = await rotateSecrets(prisma, box, { batchSize: 2 });
    expect(result.sources).toBe(0);
    expect(result.destinations).toBe(1);
    expect(result.alreadyCurrent).toBe(0);
    const byId = new Map(result.failures.map((f) => [f.id, f]));
    expect([...byId.keys()].sort()).toEqual([sourceId, destinationId, plaintext.id].sort());
    expect(byId.get(sourceId)).toMatchObject({ table: 'Source', keyId: keyId(Kc) });
    expect(byId.get(sourceId)!.message).toMatch(new RegExp(`^Source ${sourceId}: .*sealed with key ${keyId(Kc)}, which is not configured`));
    expect(byId.get(destinationId)).toMatchObject({ table: 'Destination', keyId: keyId(Kc) });
    expect(byId.get(plaintext.id)).toMatchObject({ table: 'Destination', keyId: undefined });
    expect(byId.get(plaintext.id)!.message).toMatch(/another shape/);
    const everything = JSON.stringify(result);
    for (const secret of ['hunter2', '//admin', t.url, 'k3-secret']) expect(everything).not.toContain(secret);

    // The rows it could not open are untouched; the one it could is rotated.
    const after = await stored();
    expect(SecretBox.keyIdOf(after.source)).toBe(keyId(Kc));
    const rotated = await prisma.destination.findUniqueOrThrow({ where: { id: openable.id } });
    expect(SecretBox.keyIdOf(rotated.secretsEnc!)).toBe(keyId(K2));
    expect(box.open(rotated.secretsEnc!)).toBe('{"signingSecret":"k3-secret"}');
    expect((await prisma.destination.findUniqueOrThrow({ where: { id: unsealed.id } })).secretsEnc).toBeNull();

    await prisma.destination.delete({ where: { id: plaintext.id } });
    currentKeys = [Kc, K2];
    extraDestination = openable.id;
  });
});

/** A client whose `source.findMany` runs `hook` after reading, as a concurrent writer would. */
function withSourceReadHook(client: PrismaClient, hook: () => Promise<void>): PrismaClient {
  const source = new Proxy(client.source, {
    get(target, prop) {
      if (prop === 'findMany') {
        return async (args: Parameters<typeof target.findMany>[0]) => {
          const rows = await target.findMany(args);
          await hook();
          return rows;
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'source') return source;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('roster secrets rotate', () => {
  function run(env: Record<string, string>) {
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['bin/roster.js', 'secrets', 'rotate'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', DATABASE_URL: t.url, ...env },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => (stdout += c));
      child.stderr.on('data', (c) => (stderr += c));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('re-seals what it can open, names what it cannot and exits with 1, then succeeds once the key is configured', async () => {
    const [Kc, K2] = currentKeys as [Buffer, Buffer];
    const K4 = key();
    const hex = (k: Buffer) => k.toString('hex');

    const partial = await run({ ROSTER_SECRET_KEY: hex(K4), ROSTER_SECRET_KEY_PREVIOUS: hex(K2) });
    expect(partial.code).toBe(1);
    expect(partial.stdout).toMatch(new RegExp(`re-sealed with key ${keyId(K4)}: 0 sources, 1 destination; already current: 0; could not open: 2`));
    expect(partial.stderr).toContain(`Source ${sourceId}`);
    expect(partial.stderr).toContain(`Destination ${destinationId}`);
    expect(partial.stderr).toContain(keyId(Kc));
    expect(partial.stderr).toMatch(/2 stored secrets could not be opened/);

    const done = await run({ ROSTER_SECRET_KEY: hex(K4), ROSTER_SECRET_KEY_PREVIOUS: `${hex(K2)}, ${Kc.toString('base64')}` });
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/1 source, 1 destination; already current: 1; could not open: 0/);

    const again = await run({ ROSTER_SECRET_KEY: hex(K4) });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/0 sources, 0 destinations; already current: 3; could not open: 0/);

    const box = new SecretBox(K4);
    const after = await stored();
    expect(box.open(after.source)).toBe(sourcePlain);
    expect(box.open(after.destination)).toBe(destinationPlain);
    const extra = await prisma.destination.findUniqueOrThrow({ where: { id: extraDestination } });
    expect(box.open(extra.secretsEnc!)).toBe('{"signingSecret":"k3-secret"}');
    for (const out of [partial, done, again]) {
      for (const secret of [t.url, 'k3-secret', hex(K4), hex(K2), hex(Kc)]) expect(out.stdout + out.stderr).not.toContain(secret);
    }
  }, 60_000);
});
