// Destination configuration: validation against a connector's declared
// schema, defaults, secrets split out and never echoed.
import { describe, expect, it } from 'vitest';
import { getConnector, listConnectors, mergeConfig, registerConnector, validateDestinationConfig } from '../../src/connectors/registry.js';
import type { Connector } from '../../src/connectors/contract.js';
import { formatProblem } from '../../src/graphql/errors.js';

const webhook = getConnector('webhook')!;
const pgTable = getConnector('postgres_table')!;
const csv = getConnector('csv_file')!;

function messages(problems: { path: string[]; message: string; suggestion?: string }[]): string[] {
  return problems.map(formatProblem);
}

describe('registry', () => {
  it('registers the built-in connectors', () => {
    expect(listConnectors().map((c) => c.type)).toEqual(expect.arrayContaining(['csv_file', 'postgres_table', 'webhook']));
    expect(webhook.spec.category).toBe('WEBHOOK');
    expect(pgTable.spec.category).toBe('WAREHOUSE');
    expect(csv.spec.category).toBe('FILE');
    expect(getConnector('nope')).toBeUndefined();
  });

  it('refuses a second connector under a taken type, and a spec whose defaults break its own types', () => {
    expect(() => registerConnector({ ...webhook })).toThrow(/already registered/);
    registerConnector(webhook); // the same object again is harmless
    const broken: Connector = {
      ...webhook,
      type: 'broken_for_test',
      spec: { ...webhook.spec, configSchema: [{ name: 'n', type: 'integer', required: false, secret: false, description: '', default: 'x' }] },
    };
    expect(() => registerConnector(broken)).toThrow(/default of "n"/);
  });
});

describe('validateDestinationConfig', () => {
  it('applies defaults and splits secrets out', () => {
    const r = validateDestinationConfig(webhook, { url: 'https://example.com/hook', signingSecret: 'whsec_1234567890' }, ['config']);
    expect(r.problems).toEqual([]);
    expect(r.config).toEqual({ url: 'https://example.com/hook', batchSize: 500, concurrency: 2 });
    expect(r.secrets).toEqual({ signingSecret: 'whsec_1234567890' });
    expect(mergeConfig(r.config, r.secrets)).toEqual({ url: 'https://example.com/hook', batchSize: 500, concurrency: 2, signingSecret: 'whsec_1234567890' });

    const c = validateDestinationConfig(csv, { directory: '/tmp/roster-out' }, ['config']);
    expect(c).toEqual({ config: { directory: '/tmp/roster-out', delimiter: ',' }, secrets: {}, problems: [] });

    const p = validateDestinationConfig(pgTable, { url: 'postgresql://u:pw-SECRET@db.example:5432/wh', table: 'audiences', schema: '' }, ['config']);
    expect(p.problems).toEqual([]);
    expect(p.config).toEqual({ table: 'audiences', schema: 'public' });
    expect(p.secrets).toEqual({ url: 'postgresql://u:pw-SECRET@db.example:5432/wh' });
  });

  it('reports missing required settings, naming what was expected', () => {
    const r = validateDestinationConfig(webhook, {}, ['config']);
    expect(r.problems.map((p) => p.path)).toEqual([
      ['config', 'url'],
      ['config', 'signingSecret'],
    ]);
    expect(r.problems[0]!.message).toMatch(/required setting "url" is missing; expected an http:\/\/ or https:\/\/ URL/);
    // null and undefined raw configurations are an empty object.
    expect(validateDestinationConfig(webhook, null, ['config']).problems).toHaveLength(2);
  });

  it('reports wrong types as expected/got', () => {
    const r = validateDestinationConfig(webhook, { url: 42, signingSecret: 'whsec_x', batchSize: '100' }, ['config']);
    expect(messages(r.problems)).toEqual([
      'config.url: expected an http:// or https:// URL (a string), but got an integer',
      'config.batchSize: expected an integer, but got a string',
    ]);
    const d = validateDestinationConfig(webhook, { url: 'https://x.example', signingSecret: 'whsec_x', batchSize: 2.5 }, ['config']);
    expect(messages(d.problems)).toEqual(['config.batchSize: expected an integer, but got a decimal number']);
    const o = validateDestinationConfig(webhook, ['a'], ['config']);
    expect(messages(o.problems)).toEqual(['config: expected an object of settings for Webhook, but got a list']);
  });

  it('reports a bad enum value with the allowed values', () => {
    const r = validateDestinationConfig(csv, { directory: '/tmp/x', delimiter: '|' }, ['config']);
    expect(messages(r.problems)).toEqual(['config.delimiter: expected one of ",", ";", "\\t", but got "|"']);
  });

  it('refuses unknown settings with a suggestion', () => {
    const r = validateDestinationConfig(webhook, { url: 'https://x.example', signingSecret: 'whsec_x', batchsize: 10, colour: 'red' }, ['config']);
    expect(r.problems).toEqual([
      { path: ['config', 'batchsize'], message: expect.stringContaining('unknown setting "batchsize" for Webhook'), suggestion: 'batchSize' },
      { path: ['config', 'colour'], message: expect.stringContaining('expected only "url", "signingSecret", "batchSize"') },
    ]);
    expect(formatProblem(r.problems[0]!)).toContain('did you mean "batchSize"?');
  });

  it('checks URLs: a scheme, http or https, a host', () => {
    const bad = (url: string) => messages(validateDestinationConfig(webhook, { url, signingSecret: 's' }, ['config']).problems);
    expect(bad('example.com/hook')).toEqual(['config.url: expected an http:// or https:// URL, but got a string without a scheme (add https://)']);
    expect(bad('ftp://example.com/hook')).toEqual(['config.url: expected an http:// or https:// URL, but got the scheme "ftp://"']);
    expect(bad('https://')).toHaveLength(1);
    expect(bad('')).toEqual(['config.url: expected an http:// or https:// URL, but got an empty string']);
  });

  it('runs the connector checks after the schema: range, absolute path, PostgreSQL URL', () => {
    expect(messages(validateDestinationConfig(webhook, { url: 'https://x.example', signingSecret: 's', batchSize: 20_000 }, ['config']).problems)).toEqual([
      'config.batchSize: expected an integer from 1 to 10000, but got 20000',
    ]);
    expect(messages(validateDestinationConfig(csv, { directory: 'out/files' }, ['config']).problems)).toEqual([
      'config.directory: expected an absolute path (starting with /), but got the relative path "out/files"',
    ]);
    const p = validateDestinationConfig(pgTable, { url: 'mysql://root:hunter2-SECRET@db/x', table: 't' }, ['config']);
    expect(p.problems).toHaveLength(1);
    expect(p.problems[0]!.path).toEqual(['config', 'url']);
    expect(p.problems[0]!.message).toContain('expected a PostgreSQL URL');
  });

  it('never echoes a secret value, wherever it was put', () => {
    const secret = 'whsec_TOPSECRET_value_123';
    const r = validateDestinationConfig(
      webhook,
      // The secret pasted into the URL field, a secret of the wrong type, and the secret as an unknown key.
      { url: secret, signingSecret: secret, [secret]: 1 },
      ['config'],
    );
    expect(r.problems.length).toBeGreaterThan(0);
    expect(JSON.stringify(r.problems)).not.toContain('TOPSECRET');

    const n = validateDestinationConfig(webhook, { url: 'https://x.example', signingSecret: 12345 }, ['config']);
    expect(messages(n.problems)).toEqual(['config.signingSecret: expected a string, but got an integer']);

    const pwd = 'pw-VERY-SECRET-42';
    const p = validateDestinationConfig(pgTable, { url: `postgresql://u:${pwd}@db.example:5432/wh?sslcert=/etc/x`, table: 't' }, ['config']);
    expect(p.problems).toHaveLength(1);
    expect(JSON.stringify(p.problems)).not.toContain(pwd);
  });

  it('refuses hostile table names that PostgreSQL would truncate', () => {
    const p = validateDestinationConfig(pgTable, { url: 'postgresql://u:p@db/wh', table: 'x'.repeat(64) }, ['config']);
    expect(messages(p.problems)).toEqual(['config.table: expected a table name of at most 63 bytes (PostgreSQL would cut it short), but got 64']);
  });
});
