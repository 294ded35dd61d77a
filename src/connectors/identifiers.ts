// Identifier normalisation and hashing shared by the connectors that match
// people (ad platforms above all). Each platform states its own rules (see
// ../shared/reference/destinations.md §0 and each vendor's section); this
// module holds the primitives, each returning null when the value cannot be
// used, with a reason a per-row rejection can quote. A connector picks the
// primitives and options its platform asks for and builds its payload from
// `prepareIdentifiers`.
//
// No message here quotes the raw value: identifiers are personal data, and
// row errors are stored and shown.
import { createHash } from 'node:crypto';
import type { IdentifierType } from '../generated/prisma/enums.js';
import type { RowRejection, SyncRow } from './contract.js';

/** SHA-256 of the UTF-8 bytes, lower-case hex (what every platform here expects). */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** A value that is already a SHA-256 hex digest (warehouses often hold hashed e-mails). */
export function isSha256Hex(value: string): boolean {
  return /^[0-9a-f]{64}$/i.test(value);
}

export type Normalised = { ok: true; value: string } | { ok: false; reason: string };
const ok = (value: string): Normalised => ({ ok: true, value });
const bad = (reason: string): Normalised => ({ ok: false, reason });

// ─── E-mail ──────────────────────────────────────────────────────────────────

export interface EmailRules {
  /**
   * Google's Data Manager formatting guide: for gmail.com and googlemail.com,
   * dots and a "+suffix" in the local part are removed.
   */
  canonicaliseGmail?: boolean;
}

/** Trimmed, lower-cased, all whitespace removed; must look like local@domain.tld. */
export function normaliseEmail(raw: string, rules: EmailRules = {}): Normalised {
  const v = raw.replace(/\s+/g, '').toLowerCase();
  if (v === '') return bad('is empty');
  const at = v.lastIndexOf('@');
  if (at <= 0 || at === v.length - 1) return bad('is not an e-mail address (expected local@domain)');
  let local = v.slice(0, at);
  const domain = v.slice(at + 1);
  if (!/^[^@]+\.[a-z0-9-]{2,}$/.test(domain) || local.includes('@')) return bad('is not an e-mail address (expected local@domain with a dotted domain)');
  if (rules.canonicaliseGmail && (domain === 'gmail.com' || domain === 'googlemail.com')) {
    local = local.split('+')[0]!.replace(/\./g, '');
    if (local === '') return bad('is not an e-mail address (nothing before "+" in a Gmail address)');
  }
  return ok(`${local}@${domain}`);
}

// ─── Phone ───────────────────────────────────────────────────────────────────

export interface PhoneRules {
  /** Keep a leading "+" (Google, X) or send digits only (Meta, Snap, TikTok). */
  plus: boolean;
  /**
   * Country calling code added to numbers written without one (a national
   * number with a trunk "0", or a bare 10-digit NANP number when "1"). Unset:
   * such numbers are refused, as platforms require the country code.
   */
  defaultCountryCode?: string;
}

/**
 * E.164: a country code and subscriber number, 8 to 15 digits in all (ITU-T
 * E.164 §6.1; 8 is the shortest seen in practice). Symbols, spaces and
 * letters are removed; an international "00" prefix becomes the country code.
 */
export function normalisePhone(raw: string, rules: PhoneRules): Normalised {
  const trimmed = raw.trim();
  if (trimmed === '') return bad('is empty');
  const hasPlus = trimmed.startsWith('+');
  // Settings hold the calling code as "44" or "+44"; only its digits prefix a number.
  const countryCode = rules.defaultCountryCode?.replace(/\D/g, '') || undefined;
  let digits = trimmed.replace(/\D/g, '');
  if (digits === '') return bad('holds no digits');
  if (!hasPlus) {
    if (digits.startsWith('00')) digits = digits.slice(2);
    else if (countryCode && digits.startsWith('0')) digits = countryCode + digits.replace(/^0+/, '');
    else if (countryCode === '1' && digits.length === 10) digits = `1${digits}`;
    else if (countryCode === undefined && digits.startsWith('0')) return bad('has no country code (expected E.164, e.g. +44 20 7946 0000)');
  }
  digits = digits.replace(/^0+/, '');
  if (digits.length < 8 || digits.length > 15) return bad(`has ${digits.length} digits with its country code; expected 8 to 15 (E.164)`);
  return ok(rules.plus ? `+${digits}` : digits);
}

// ─── Names and places ────────────────────────────────────────────────────────

const HONORIFICS = new Set(['mr', 'mrs', 'ms', 'miss', 'dr', 'prof', 'sir', 'jr', 'sr', 'ii', 'iii', 'iv']);

export interface NameRules {
  /** Google: "strip prefixes and suffixes (Mr., Jr. …)". */
  stripHonorifics?: boolean;
}

/** Lower-cased, punctuation removed (letters of any script kept, Meta's "UTF-8 special characters allowed"). */
export function normaliseName(raw: string, rules: NameRules = {}): Normalised {
  let words = raw
    .normalize('NFC')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\s]/gu, ' ')
    .split(/\s+/)
    .filter(Boolean);
  if (rules.stripHonorifics) words = words.filter((w) => !HONORIFICS.has(w));
  const v = words.join('');
  return v === '' ? bad('holds no letters') : ok(v);
}

/** Meta: "lowercase a–z only, no punctuation or spaces" (accents folded to their base letter). */
export function normaliseCity(raw: string): Normalised {
  const v = raw.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/[^a-z]/g, '');
  return v === '' ? bad('holds no letters a-z') : ok(v);
}

const US_STATES: Record<string, string> = {
  alabama: 'al', alaska: 'ak', arizona: 'az', arkansas: 'ar', california: 'ca', colorado: 'co', connecticut: 'ct', delaware: 'de',
  districtofcolumbia: 'dc', florida: 'fl', georgia: 'ga', hawaii: 'hi', idaho: 'id', illinois: 'il', indiana: 'in', iowa: 'ia',
  kansas: 'ks', kentucky: 'ky', louisiana: 'la', maine: 'me', maryland: 'md', massachusetts: 'ma', michigan: 'mi', minnesota: 'mn',
  mississippi: 'ms', missouri: 'mo', montana: 'mt', nebraska: 'ne', nevada: 'nv', newhampshire: 'nh', newjersey: 'nj', newmexico: 'nm',
  newyork: 'ny', northcarolina: 'nc', northdakota: 'nd', ohio: 'oh', oklahoma: 'ok', oregon: 'or', pennsylvania: 'pa', rhodeisland: 'ri',
  southcarolina: 'sc', southdakota: 'sd', tennessee: 'tn', texas: 'tx', utah: 'ut', vermont: 'vt', virginia: 'va', washington: 'wa',
  westvirginia: 'wv', wisconsin: 'wi', wyoming: 'wy', puertorico: 'pr',
};

/** Meta: US states as the 2-letter ANSI code; elsewhere lower-case without punctuation or spaces. */
export function normaliseState(raw: string): Normalised {
  const v = raw.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
  if (v === '') return bad('is empty');
  return ok(US_STATES[v] ?? v);
}

/** Lower-case, no spaces; a US ZIP+4 keeps its first five digits (Meta: "US: 5 digits only"). */
export function normaliseZip(raw: string, rules: { usFiveDigits?: boolean } = { usFiveDigits: true }): Normalised {
  const v = raw.toLowerCase().replace(/\s+/g, '');
  if (v === '') return bad('is empty');
  if (rules.usFiveDigits !== false && /^\d{5}-?\d{4}$/.test(v)) return ok(v.slice(0, 5));
  if (!/^[a-z0-9-]{2,10}$/.test(v)) return bad('is not a postal code (expected 2 to 10 letters and digits)');
  return ok(v);
}

const COUNTRY_NAMES: Record<string, string> = {
  unitedstates: 'us', unitedstatesofamerica: 'us', usa: 'us', unitedkingdom: 'gb', uk: 'gb', greatbritain: 'gb', england: 'gb',
  germany: 'de', deutschland: 'de', france: 'fr', canada: 'ca', australia: 'au', spain: 'es', espana: 'es', italy: 'it', italia: 'it',
  netherlands: 'nl', ireland: 'ie', japan: 'jp', brazil: 'br', brasil: 'br', mexico: 'mx', india: 'in', sweden: 'se', switzerland: 'ch',
  austria: 'at', belgium: 'be', denmark: 'dk', norway: 'no', finland: 'fi', poland: 'pl', portugal: 'pt', newzealand: 'nz', singapore: 'sg',
};

/** ISO 3166-1 alpha-2, lower-case (common English names are mapped; alpha-3 is not guessed). */
export function normaliseCountry(raw: string): Normalised {
  const v = raw.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/[^a-z]/g, '');
  if (v.length === 2) return ok(v);
  const mapped = COUNTRY_NAMES[v];
  return mapped ? ok(mapped) : bad('is not an ISO 3166-1 alpha-2 country code (expected e.g. "US")');
}

/** "m" or "f" (Meta's GEN; platforms without other values refuse the rest). */
export function normaliseGender(raw: string): Normalised {
  const v = raw.trim().toLowerCase();
  if (v === 'm' || v === 'male' || v === 'man') return ok('m');
  if (v === 'f' || v === 'female' || v === 'woman') return ok('f');
  return bad('is not a gender a platform accepts (expected m or f)');
}

export interface DateParts {
  year: string;
  month: string;
  day: string;
}

/** A date of birth as zero-padded parts, from an ISO date (YYYY-MM-DD, optionally with a time) or YYYYMMDD. */
export function parseDateOfBirth(raw: string, now: Date = new Date()): { ok: true; value: DateParts } | { ok: false; reason: string } {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})(?:[T ].*)?$/.exec(raw.trim());
  if (!m) return { ok: false, reason: 'is not a date (expected YYYY-MM-DD)' };
  const [, year, month, day] = m as unknown as [string, string, string, string];
  const d = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (d.getUTCMonth() !== Number(month) - 1 || d.getUTCDate() !== Number(day)) return { ok: false, reason: 'is not a calendar date' };
  if (Number(year) < 1900 || d.getTime() > now.getTime()) return { ok: false, reason: `has year ${year}; expected 1900 to ${now.getUTCFullYear()} (Meta's DOBY range)` };
  return { ok: true, value: { year, month, day } };
}

/** Mobile advertiser ids (IDFA, GAID): lower-case with hyphens, sent unhashed. */
export function normaliseMaid(raw: string): Normalised {
  const v = raw.trim().toLowerCase();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v)) return bad('is not a mobile advertiser id (expected a UUID such as IDFA or GAID)');
  return ok(v);
}

/** An external id, as is (only trimmed). */
export function normaliseExternalId(raw: string): Normalised {
  const v = raw.trim();
  return v === '' ? bad('is empty') : ok(v);
}

// ─── Per-row preparation ─────────────────────────────────────────────────────

/** How one identifier is prepared for one platform. */
export interface IdentifierRule {
  type: IdentifierType;
  normalise: (raw: string) => Normalised;
  /** SHA-256 the normalised value; an input that already is a SHA-256 digest passes as is (lower-cased). */
  hash: boolean;
}

export interface PreparedRow {
  row: SyncRow;
  /** The values to send, by identifier type: normalised, hashed where the rule says so. */
  values: Partial<Record<IdentifierType, string>>;
}

/**
 * Normalises (and hashes) the identifiers of each row by the platform's
 * rules. Identifiers the rules do not list are not sent. A row left with no
 * identifier in `required` (default: any rule) is rejected with a message
 * that names what was missing or unusable, so the user can fix the data.
 */
export function prepareIdentifiers(
  rows: readonly SyncRow[],
  rules: readonly IdentifierRule[],
  opts: { required?: readonly IdentifierType[]; platform: string },
): { prepared: PreparedRow[]; rejected: RowRejection[] } {
  const required = new Set(opts.required ?? rules.map((r) => r.type));
  const prepared: PreparedRow[] = [];
  const rejected: RowRejection[] = [];
  for (const row of rows) {
    const values: Partial<Record<IdentifierType, string>> = {};
    const problems: string[] = [];
    for (const rule of rules) {
      const raw = row.identifiers[rule.type];
      if (raw === undefined || raw === null || String(raw).trim() === '') continue;
      const text = String(raw);
      if (rule.hash && isSha256Hex(text.trim())) {
        values[rule.type] = text.trim().toLowerCase();
        continue;
      }
      const n = rule.normalise(text);
      if (!n.ok) {
        problems.push(`${rule.type} ${n.reason}`);
        continue;
      }
      values[rule.type] = rule.hash ? sha256Hex(n.value) : n.value;
    }
    if ([...required].some((t) => values[t] !== undefined)) {
      prepared.push({ row, values });
    } else {
      const wanted = [...required].join(', ');
      rejected.push({
        key: row.key,
        code: 'NO_USABLE_IDENTIFIER',
        message: `no identifier ${opts.platform} can match: expected at least one of ${wanted}${problems.length ? `, but ${problems.join('; ')}` : ', but all were empty'}`,
      });
    }
  }
  return { prepared, rejected };
}

/** Rules for the common case: e-mail and phone hashed, MAID raw (each connector adjusts). */
export const emailRule = (rules: EmailRules = {}): IdentifierRule => ({ type: 'EMAIL', normalise: (v) => normaliseEmail(v, rules), hash: true });
export const phoneRule = (rules: PhoneRules): IdentifierRule => ({ type: 'PHONE', normalise: (v) => normalisePhone(v, rules), hash: true });
export const maidRule = (hash = false): IdentifierRule => ({ type: 'MAID', normalise: normaliseMaid, hash });
