// Connector types by name, and the validation of a destination's raw
// configuration against a connector's declared schema. Secrets are split out
// here (to be sealed by the caller) and never appear in a message: problems
// describe what arrived by its type or shape, not by its value.
import type { ValidationProblem } from '../graphql/errors.js';
import { suggest } from '../lib/suggest.js';
import type { ConfigField, Connector } from './contract.js';
import { webhookConnector } from './webhook/index.js';
import { postgresTableConnector } from './postgres-table/index.js';
import { csvFileConnector } from './csv-file/index.js';
import { metaConnector } from './meta/index.js';
import { googleAdsConnector } from './google-ads/index.js';
import { linkedinConnector } from './linkedin/index.js';
import { microsoftAdsConnector } from './microsoft-ads/index.js';
import { tiktokConnector } from './tiktok/index.js';
import { redditConnector } from './reddit/index.js';
import { snapchatConnector } from './snapchat/index.js';
import { pinterestConnector } from './pinterest/index.js';
import { xConnector } from './x/index.js';
import { amazonAdsConnector } from './amazon-ads/index.js';
import { brazeConnector } from './braze/index.js';
import { hubspotConnector } from './hubspot/index.js';
import { mailchimpConnector } from './mailchimp/index.js';
import { customerioConnector } from './customerio/index.js';

const connectors = new Map<string, Connector>();

function checkSpec(c: Connector): void {
  const seen = new Set<string>();
  for (const f of c.spec.configSchema) {
    if (seen.has(f.name)) throw new Error(`connector "${c.type}": config field "${f.name}" is declared twice`);
    seen.add(f.name);
    if (f.type === 'enum' && (!f.enum || f.enum.length === 0)) throw new Error(`connector "${c.type}": enum field "${f.name}" lists no values`);
    if (f.default !== undefined && fieldProblem(f, f.default) !== undefined) {
      throw new Error(`connector "${c.type}": the default of "${f.name}" does not satisfy its own type ${f.type}`);
    }
  }
  if (!Number.isInteger(c.spec.batchSize) || c.spec.batchSize < 1) throw new Error(`connector "${c.type}": batchSize must be a positive integer`);
}

/** Adds a connector type; registering another object under a taken type is an error. */
export function registerConnector(c: Connector): void {
  const existing = connectors.get(c.type);
  if (existing === c) return;
  if (existing) throw new Error(`a connector of type "${c.type}" is already registered`);
  checkSpec(c);
  connectors.set(c.type, c);
}

export function getConnector(type: string): Connector | undefined {
  return connectors.get(type);
}

/** Every registered connector, sorted by type. */
export function listConnectors(): Connector[] {
  return [...connectors.values()].sort((a, b) => a.type.localeCompare(b.type));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return value === '' ? 'an empty string' : 'a string';
    case 'number':
      return Number.isInteger(value) ? 'an integer' : Number.isFinite(value) ? 'a decimal number' : 'a non-finite number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'an object';
    default:
      return `a ${typeof value}`;
  }
}

function quoteEnum(v: string): string {
  return JSON.stringify(v);
}

/**
 * What is wrong with `value` for `field`, or undefined. Never quotes the
 * value itself unless the field is an enum (whose values are public) and the
 * arrived value is a short string; URLs are described by their scheme only,
 * as they may carry credentials.
 */
function fieldProblem(field: ConfigField, value: unknown): string | undefined {
  switch (field.type) {
    case 'string':
      if (typeof value !== 'string') return `expected a string, but got ${describe(value)}`;
      if (value.trim() === '' && field.required) return 'expected a non-empty string, but got an empty one';
      return undefined;
    case 'path':
      if (typeof value !== 'string') return `expected a file system path (a string), but got ${describe(value)}`;
      if (value.trim() === '') return 'expected a file system path, but got an empty string';
      if (value.includes('\0')) return 'expected a file system path, but got one containing a NUL character';
      return undefined;
    case 'url': {
      if (typeof value !== 'string') return `expected an http:// or https:// URL (a string), but got ${describe(value)}`;
      if (value.trim() === '') return 'expected an http:// or https:// URL, but got an empty string';
      const scheme = /^([a-z][a-z0-9+.-]{0,20}):/i.exec(value.trim())?.[1]?.toLowerCase();
      let u: URL;
      try {
        u = new URL(value.trim());
      } catch {
        return scheme
          ? `expected an http:// or https:// URL, but got a "${scheme}:" string that does not parse as a URL`
          : 'expected an http:// or https:// URL, but got a string without a scheme (add https://)';
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return `expected an http:// or https:// URL, but got the scheme "${u.protocol}//"`;
      if (u.hostname === '') return 'expected an http:// or https:// URL, but got one without a host';
      return undefined;
    }
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return `expected an integer, but got ${describe(value)}`;
      return undefined;
    case 'boolean':
      if (typeof value !== 'boolean') return `expected true or false, but got ${describe(value)}`;
      return undefined;
    case 'enum': {
      const allowed = field.enum ?? [];
      const list = allowed.map(quoteEnum).join(', ');
      if (typeof value !== 'string') return `expected one of ${list}, but got ${describe(value)}`;
      if (!allowed.includes(value)) {
        const shown = !field.secret && value.length <= 40 ? quoteEnum(value) : describe(value);
        return `expected one of ${list}, but got ${shown}`;
      }
      return undefined;
    }
  }
}

export interface ValidatedConfig {
  /** Non-secret settings, defaults applied: stored as is and shown by the API. */
  config: Record<string, unknown>;
  /** Secret settings (strings): to be sealed, never shown. */
  secrets: Record<string, string>;
  problems: ValidationProblem[];
}

function scrub(text: string, secretValues: readonly string[]): string {
  let out = text;
  for (const s of secretValues) if (s.length >= 3) out = out.split(s).join('********');
  return out;
}

/**
 * Validates a raw configuration object against `connector.spec.configSchema`:
 * required fields, types, enums, URL schemes; unknown fields are refused with
 * a suggestion; defaults are applied. Secret fields are returned apart. When
 * the schema is satisfied, `connector.validateConfig` checks the rest.
 * Problem paths start with `path`.
 */
export function validateDestinationConfig(connector: Connector, raw: unknown, path: string[]): ValidatedConfig {
  const schema = connector.spec.configSchema;
  const config: Record<string, unknown> = {};
  const secrets: Record<string, string> = {};
  const problems: ValidationProblem[] = [];
  const names = schema.map((f) => f.name);

  let input: Record<string, unknown>;
  if (raw === undefined || raw === null) {
    input = {};
  } else if (typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push({ path, message: `expected an object of settings for ${connector.name}, but got ${describe(raw)}` });
    return { config, secrets, problems };
  } else {
    input = raw as Record<string, unknown>;
  }

  // Secret values collected early so that no message below can contain one,
  // even when a secret was pasted into the wrong field.
  const secretValues: string[] = [];
  for (const f of schema) {
    const v = Object.prototype.hasOwnProperty.call(input, f.name) ? input[f.name] : undefined;
    if (f.secret && typeof v === 'string' && v !== '') secretValues.push(v);
  }

  for (const key of Object.keys(input)) {
    if (names.includes(key)) continue;
    const suggestion = suggest(key, names);
    const shownKey = key.length <= 60 ? `"${scrub(key, secretValues)}"` : 'a long name';
    problems.push({
      path: [...path, scrub(key, secretValues)],
      message: `unknown setting ${shownKey} for ${connector.name}; expected only ${names.map((n) => `"${n}"`).join(', ')}`,
      ...(suggestion !== undefined ? { suggestion } : {}),
    });
  }

  for (const f of schema) {
    const present = Object.prototype.hasOwnProperty.call(input, f.name) ? input[f.name] : undefined;
    let value = present;
    // An optional setting left blank in a form means "not set".
    if (!f.required && typeof value === 'string' && value.trim() === '') value = undefined;
    if (value === undefined || value === null) {
      if (f.default !== undefined) value = f.default;
      else if (f.required) {
        problems.push({ path: [...path, f.name], message: `required setting "${f.name}" is missing; expected ${f.description || `a ${f.type}`}` });
        continue;
      } else continue;
    }
    const problem = fieldProblem(f, value);
    if (problem !== undefined) {
      problems.push({ path: [...path, f.name], message: scrub(problem, secretValues) });
      continue;
    }
    if (f.secret) {
      // Secrets are strings by construction (they are sealed as JSON strings).
      secrets[f.name] = typeof value === 'string' ? value : String(value);
    } else {
      config[f.name] = typeof value === 'string' && (f.type === 'url' || f.type === 'path') ? value.trim() : value;
    }
  }

  if (problems.length === 0 && connector.validateConfig) {
    for (const p of connector.validateConfig(mergeConfig(config, secrets))) {
      problems.push({
        path: [...path, ...p.path],
        message: scrub(p.message, secretValues),
        ...(p.suggestion !== undefined ? { suggestion: scrub(p.suggestion, secretValues) } : {}),
      });
    }
  }
  return { config, secrets, problems };
}

/** The object a connector receives: settings and decrypted secrets together. */
export function mergeConfig(config: Record<string, unknown>, secrets: Record<string, string>): Record<string, unknown> {
  return { ...config, ...secrets };
}

for (const connector of [
  webhookConnector,
  postgresTableConnector,
  csvFileConnector,
  // Ad platforms
  metaConnector,
  googleAdsConnector,
  linkedinConnector,
  microsoftAdsConnector,
  tiktokConnector,
  redditConnector,
  snapchatConnector,
  pinterestConnector,
  xConnector,
  amazonAdsConnector,
  // CRM and marketing tools
  brazeConnector,
  hubspotConnector,
  mailchimpConnector,
  customerioConnector,
] as Connector[]) {
  registerConnector(connector);
}
