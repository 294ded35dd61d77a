// The demo warehouse: a made-up B2B SaaS product's companies, users, purchases
// and product events, generated from a seed and bulk-loaded with COPY. It is
// what a newcomer segments without any outside account, and the data set the
// benchmarks run on at a million users, so rows are generated lazily and
// streamed to PostgreSQL; nothing holds a whole table in memory.
//
// Determinism: every row is drawn from its own PRNG stream, keyed by
// (seed, table, row index), and every timestamp is an offset from `now`. The
// child tables (purchases, events) walk the users in id order and re-derive
// each user's few core facts from that user's stream, so they agree with the
// users table without remembering it, and their ids are assigned in that one
// fixed order.
import type pg from 'pg';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';

export interface DemoOptions {
  /** How many users to generate; callers usually choose 100_000. */
  users: number;
  /** Default 42. The same seed and the same `now` give byte-identical data. */
  seed?: number;
  /** Default 'demo'. A plain lower-case identifier; it is created if missing. */
  schema?: string;
  /** Anchor of every timestamp; default the start of the current UTC day. */
  now?: Date;
  /** Called as rows are handed to PostgreSQL, and once per table with its final count. */
  onProgress?: (table: string, rows: number) => void;
}

export interface DemoResult {
  schema: string;
  users: number;
  companies: number;
  purchases: number;
  events: number;
  ms: number;
}

export const DEMO_TABLES = ['companies', 'users', 'purchases', 'events'] as const;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const SECOND = 1000;
const DAY = 86_400 * SECOND;
const YEAR = 365 * DAY;

// ---------------------------------------------------------------------------
// Randomness

/** murmur3's finaliser: spreads neighbouring inputs (row 7, row 8) far apart. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * mulberry32, re-seeded per row. One mutable instance per stream kind is
 * reused for every row, so generating a million rows allocates no generators.
 */
class Rng {
  private state = 0;

  reset(seed: number, stream: number, index: number): this {
    // Row indexes beyond 2^32 would wrap; fold the high part in rather than lose it.
    const hi = Math.floor(index / 0x1_0000_0000);
    this.state = fmix32(fmix32(fmix32(seed ^ Math.imul(stream, 0x9e3779b9)) + (index >>> 0)) ^ hi);
    return this;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)]!;
  }

  digits(n: number): string {
    let s = '';
    for (let k = 0; k < n; k++) s += Math.floor(this.next() * 10);
    return s;
  }
}

// Stream keys: each kind of draw has its own stream, so changing how one
// table is generated never shifts another table's values.
const S_COMPANY = 1;
const S_COMPANY_TIME = 2;
const S_USER = 3;
const S_USER_DETAIL = 4;
const S_PURCHASE = 5;
const S_EVENT = 6;

class Weighted<T> {
  private readonly values: T[];
  private readonly cumulative: number[];

  constructor(entries: readonly (readonly [T, number])[]) {
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    let acc = 0;
    this.values = entries.map(([v]) => v);
    this.cumulative = entries.map(([, w]) => (acc += w / total));
  }

  pick(u: number): T {
    const c = this.cumulative;
    for (let k = 0; k < c.length - 1; k++) if (u < c[k]!) return this.values[k]!;
    return this.values[this.values.length - 1]!;
  }
}

/** A count with mean `mean` on {0, 1, 2, …}: most users have a few, some many. */
function geometric(u: number, mean: number): number {
  if (mean <= 0) return 0;
  return Math.floor(Math.log(1 - u) / Math.log(mean / (1 + mean)));
}

// ---------------------------------------------------------------------------
// Reference lists. Names are ASCII letters only: email local parts are built
// from them, and uniqueness of emails relies on a letters-then-digits shape.

const FIRST_NAMES = [
  'James', 'Mary', 'John', 'Patricia', 'Robert', 'Jennifer', 'Michael', 'Linda', 'William', 'Elizabeth',
  'David', 'Barbara', 'Richard', 'Susan', 'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Charles', 'Karen',
  'Daniel', 'Nancy', 'Matthew', 'Lisa', 'Anthony', 'Betty', 'Mark', 'Sandra', 'Steven', 'Ashley',
  'Andrew', 'Emily', 'Joshua', 'Michelle', 'Kevin', 'Amanda', 'Brian', 'Melissa', 'George', 'Stephanie',
  'Oliver', 'Amelia', 'Noah', 'Olivia', 'Liam', 'Emma', 'Lucas', 'Sophia', 'Ethan', 'Isabella',
  'Mateo', 'Valentina', 'Santiago', 'Camila', 'Diego', 'Lucia', 'Pablo', 'Sofia', 'Hugo', 'Chloe',
  'Louis', 'Manon', 'Lukas', 'Hannah', 'Felix', 'Lena', 'Jonas', 'Mia', 'Lars', 'Freya',
  'Arjun', 'Priya', 'Rahul', 'Ananya', 'Vikram', 'Aisha', 'Omar', 'Fatima', 'Yusuf', 'Leila',
  'Wei', 'Mei', 'Jun', 'Yuki', 'Haruto', 'Sakura', 'Minjun', 'Seoyeon', 'Kwame', 'Amara',
  'Chidi', 'Zara', 'Tariq', 'Nadia', 'Ivan', 'Olga', 'Mikhail', 'Elena', 'Sean', 'Niamh',
] as const;

const LAST_NAMES = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez',
  'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin',
  'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis', 'Robinson',
  'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores',
  'Green', 'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera', 'Campbell', 'Mitchell', 'Carter', 'Roberts',
  'Murphy', 'Kelly', 'Walsh', 'Byrne', 'Evans', 'Hughes', 'Patel', 'Shah', 'Singh', 'Kumar',
  'Sharma', 'Gupta', 'Khan', 'Ali', 'Chen', 'Wang', 'Zhang', 'Liu', 'Tanaka', 'Suzuki',
  'Sato', 'Kim', 'Park', 'Choi', 'Mueller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Becker',
  'Dubois', 'Moreau', 'Laurent', 'Bernard', 'Rossi', 'Russo', 'Ferrari', 'Jansen', 'DeVries', 'Bakker',
  'Andersson', 'Johansson', 'Nilsson', 'Silva', 'Santos', 'Oliveira', 'Costa', 'Okafor', 'Mensah', 'Ivanov',
] as const;

/** Country share of companies and users (ISO-3166 alpha-2), US-heavy like most SaaS customer bases. */
const COUNTRIES = new Weighted([
  ['US', 52], ['GB', 10], ['CA', 7], ['DE', 7], ['FR', 4], ['AU', 4], ['IN', 4], ['NL', 3], ['BR', 3],
  ['ES', 2], ['SE', 1.5], ['JP', 1.5], ['SG', 1], ['IE', 1],
] as const);

interface Place {
  city: string;
  state: string | null;
  /** '#' becomes a digit and '@' an upper-case letter. */
  zip: string;
  /** E.164 prefix, completed with `phoneDigits` random digits. */
  phone: string;
  phoneDigits: number;
}

// Phone prefixes use ranges set aside for fiction where a country has one
// (North American 555, the UK's 07700 900), so demo data never dials anyone.
const PLACES: Record<string, readonly Place[]> = {
  US: [
    { city: 'San Francisco', state: 'CA', zip: '941##', phone: '+1415555', phoneDigits: 4 },
    { city: 'Los Angeles', state: 'CA', zip: '900##', phone: '+1213555', phoneDigits: 4 },
    { city: 'New York', state: 'NY', zip: '100##', phone: '+1212555', phoneDigits: 4 },
    { city: 'Austin', state: 'TX', zip: '787##', phone: '+1512555', phoneDigits: 4 },
    { city: 'Seattle', state: 'WA', zip: '981##', phone: '+1206555', phoneDigits: 4 },
    { city: 'Chicago', state: 'IL', zip: '606##', phone: '+1312555', phoneDigits: 4 },
    { city: 'Boston', state: 'MA', zip: '021##', phone: '+1617555', phoneDigits: 4 },
    { city: 'Denver', state: 'CO', zip: '802##', phone: '+1303555', phoneDigits: 4 },
    { city: 'Atlanta', state: 'GA', zip: '303##', phone: '+1404555', phoneDigits: 4 },
    { city: 'Miami', state: 'FL', zip: '331##', phone: '+1305555', phoneDigits: 4 },
    { city: 'Portland', state: 'OR', zip: '972##', phone: '+1503555', phoneDigits: 4 },
    { city: 'Minneapolis', state: 'MN', zip: '554##', phone: '+1612555', phoneDigits: 4 },
    { city: 'Salt Lake City', state: 'UT', zip: '841##', phone: '+1801555', phoneDigits: 4 },
    { city: 'Raleigh', state: 'NC', zip: '276##', phone: '+1919555', phoneDigits: 4 },
    { city: 'Nashville', state: 'TN', zip: '372##', phone: '+1615555', phoneDigits: 4 },
  ],
  CA: [
    { city: 'Toronto', state: 'ON', zip: 'M5V #@#', phone: '+1416555', phoneDigits: 4 },
    { city: 'Vancouver', state: 'BC', zip: 'V6B #@#', phone: '+1604555', phoneDigits: 4 },
    { city: 'Montreal', state: 'QC', zip: 'H2X #@#', phone: '+1514555', phoneDigits: 4 },
  ],
  GB: [
    { city: 'London', state: null, zip: 'EC1A #@@', phone: '+447700900', phoneDigits: 3 },
    { city: 'Manchester', state: null, zip: 'M1 #@@', phone: '+447700900', phoneDigits: 3 },
    { city: 'Edinburgh', state: null, zip: 'EH1 #@@', phone: '+447700900', phoneDigits: 3 },
  ],
  DE: [
    { city: 'Berlin', state: 'BE', zip: '10###', phone: '+49151', phoneDigits: 8 },
    { city: 'Munich', state: 'BY', zip: '80###', phone: '+49152', phoneDigits: 8 },
    { city: 'Hamburg', state: 'HH', zip: '20###', phone: '+49160', phoneDigits: 8 },
  ],
  FR: [
    { city: 'Paris', state: null, zip: '750##', phone: '+336', phoneDigits: 8 },
    { city: 'Lyon', state: null, zip: '6900#', phone: '+337', phoneDigits: 8 },
  ],
  AU: [
    { city: 'Sydney', state: 'NSW', zip: '20##', phone: '+614', phoneDigits: 8 },
    { city: 'Melbourne', state: 'VIC', zip: '30##', phone: '+614', phoneDigits: 8 },
  ],
  IN: [
    { city: 'Bengaluru', state: 'KA', zip: '5600##', phone: '+919', phoneDigits: 9 },
    { city: 'Mumbai', state: 'MH', zip: '4000##', phone: '+918', phoneDigits: 9 },
  ],
  NL: [{ city: 'Amsterdam', state: null, zip: '10## @@', phone: '+316', phoneDigits: 8 }],
  BR: [{ city: 'Sao Paulo', state: 'SP', zip: '01###-###', phone: '+55119', phoneDigits: 8 }],
  ES: [{ city: 'Madrid', state: null, zip: '280##', phone: '+346', phoneDigits: 8 }],
  SE: [{ city: 'Stockholm', state: null, zip: '11# ##', phone: '+4670', phoneDigits: 7 }],
  JP: [{ city: 'Tokyo', state: null, zip: '1##-####', phone: '+8190', phoneDigits: 8 }],
  SG: [{ city: 'Singapore', state: null, zip: '0#####', phone: '+658', phoneDigits: 7 }],
  IE: [{ city: 'Dublin', state: null, zip: 'D0# @###', phone: '+35385', phoneDigits: 7 }],
};

const TLD: Record<string, string> = {
  US: '.com', GB: '.co.uk', CA: '.ca', DE: '.de', FR: '.fr', AU: '.com.au', IN: '.in', NL: '.nl',
  BR: '.com.br', ES: '.es', SE: '.se', JP: '.jp', SG: '.sg', IE: '.ie',
};

const WEBMAIL = ['gmail.com', 'outlook.com', 'yahoo.com', 'icloud.com', 'proton.me', 'hotmail.com'] as const;

// Skewed like a typical B2B tool's customer list; each industry names its
// companies its own way ("… Labs", "… Freight").
const INDUSTRIES = new Weighted<readonly [string, readonly string[]]>([
  [['Software', ['Labs', 'Software', 'Systems', 'Cloud', 'Analytics', 'Technologies', 'AI', 'Data']], 28],
  [['Fintech', ['Pay', 'Capital', 'Finance', 'Ledger', 'Money']], 11],
  [['Healthcare', ['Health', 'Care', 'Medical', 'Bio', 'Clinics']], 10],
  [['Retail', ['Goods', 'Market', 'Outfitters', 'Supply', 'Stores']], 10],
  [['Manufacturing', ['Industries', 'Manufacturing', 'Works', 'Machines']], 9],
  [['Education', ['Learning', 'Academy', 'Education']], 8],
  [['Media', ['Media', 'Studios', 'Press']], 7],
  [['Logistics', ['Logistics', 'Freight', 'Shipping']], 6],
  [['Real Estate', ['Properties', 'Realty', 'Homes']], 4],
  [['Nonprofit', ['Foundation', 'Alliance']], 4],
  [['Travel', ['Travel', 'Voyages', 'Trips']], 3],
]);

// Company names are "<A> <B>" for a pair chosen by a permutation of the
// company id, so every company of a load gets a distinct pair (and domain)
// until the 8,100 pairs run out; each further cycle through the pairs dresses
// the domain the way startups do (getX, Xhq, …), then falls back to a number.
// No A starts with and no B ends with these affixes, so the forms cannot collide.
const NAME_A = [
  'Acme', 'Blue', 'North', 'Bright', 'Silver', 'Summit', 'Pioneer', 'Cedar', 'Granite', 'Nimbus',
  'Vertex', 'Orbit', 'Quantum', 'Lumen', 'Atlas', 'Beacon', 'Crescent', 'Delta', 'Echo', 'Falcon',
  'Golden', 'Horizon', 'Iron', 'Juniper', 'Keystone', 'Maple', 'Nova', 'Oak', 'Peak', 'Redwood',
  'Sierra', 'Tidal', 'Union', 'Vista', 'Willow', 'Zenith', 'Aurora', 'Bold', 'Clear', 'Drift',
  'Ember', 'Fern', 'Glacier', 'Hollow', 'Indigo', 'Jade', 'Kite', 'Lark', 'Meridian', 'Opal',
  'Prism', 'Quill', 'Ridge', 'Stone', 'True', 'Upland', 'Velvet', 'West', 'Yonder', 'Amber',
  'Birch', 'Coral', 'Dune', 'Evergreen', 'Frost', 'Grove', 'Harvest', 'Ivory', 'Lunar', 'Mosaic',
  'Noble', 'Onyx', 'Polar', 'Rapid', 'Solar', 'Timber', 'Urban', 'Vivid', 'Wild', 'Copper',
  'Scarlet', 'Cobalt', 'Sage', 'Pine', 'Harbor', 'Canyon', 'Meadow', 'Bay', 'Crest', 'Spruce',
] as const;
const NAME_B = [
  'River', 'Field', 'Bridge', 'Point', 'Wave', 'Path', 'Forge', 'Light', 'Gate', 'Works',
  'Line', 'Signal', 'Tree', 'Rock', 'Spark', 'Arc', 'Wind', 'Star', 'Sky', 'Lake',
  'Hill', 'Peak', 'Shore', 'Trail', 'Mill', 'Port', 'Well', 'Brook', 'Stack', 'Loop',
  'Grid', 'Nest', 'Hive', 'Leaf', 'Root', 'Stream', 'Vale', 'Wood', 'Yard', 'Tower',
  'Key', 'Link', 'Mark', 'Note', 'Pulse', 'Quest', 'Scale', 'Shift', 'Beam', 'Bolt',
  'Cloud', 'Core', 'Craft', 'Dock', 'Edge', 'Flow', 'Frame', 'Hub', 'Lane', 'Ledge',
  'Mesa', 'North', 'Orchard', 'Pass', 'Range', 'Sail', 'Sound', 'Spring', 'Summit', 'Tide',
  'Track', 'View', 'Way', 'Wing', 'Fox', 'Hawk', 'Owl', 'Wolf', 'Bear', 'Elk',
  'Anchor', 'Compass', 'Lantern', 'Harbor', 'Meadow', 'Ridge', 'Canyon', 'Grove', 'Crest', 'Stone',
] as const;
const NAME_PAIRS = NAME_A.length * NAME_B.length;
const DOMAIN_FORMS: readonly ((ab: string) => string)[] = [
  (ab) => ab,
  (ab) => `get${ab}`,
  (ab) => `${ab}hq`,
  (ab) => `try${ab}`,
  (ab) => `${ab}app`,
  (ab) => `use${ab}`,
  (ab) => `join${ab}`,
];

function domainLabel(ab: string, cycle: number): string {
  const form = DOMAIN_FORMS[cycle];
  return form ? form(ab) : `${ab}${cycle - DOMAIN_FORMS.length + 2}`;
}
/** Prime and not a factor of NAME_PAIRS, so (k * step) mod NAME_PAIRS visits every pair once. */
const NAME_STEP = 7919;

const PRODUCTS = new Weighted([
  ['Product A', 34], ['Product B', 24], ['Product C', 12], ['Add-on Seats', 18], ['Support Plan', 12],
] as const);
const PRICES: Record<string, readonly number[]> = {
  'Product A': [9_900, 29_900, 59_900],
  'Product B': [4_900, 14_900],
  'Product C': [99_900, 199_900, 499_900],
  'Support Plan': [50_000, 120_000, 250_000],
};
const SEAT_PRICE = 1_500;

const EVENT_NAMES = new Weighted([
  ['page_view', 45], ['feature_used', 25], ['login', 15], ['report_exported', 10], ['invite_sent', 5],
] as const);
const PAGES = ['/dashboard', '/segments', '/audiences', '/syncs', '/reports', '/settings', '/billing', '/integrations'] as const;
const FEATURES = ['segment_builder', 'audience_sync', 'csv_export', 'sql_editor', 'alerts', 'api_tokens'] as const;
const LOGIN_METHODS = ['password', 'sso', 'google'] as const;
const EXPORT_FORMATS = ['csv', 'xlsx', 'pdf'] as const;

// ---------------------------------------------------------------------------
// COPY text format

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/**
 * A value for COPY's text format. Generated values never contain these
 * characters, but a list edited later must not silently shift columns.
 */
export function copyText(value: string | null): string {
  if (value === null) return '\\N';
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function money(cents: number): string {
  const c = cents % 100;
  return `${Math.floor(cents / 100)}.${c < 10 ? '0' : ''}${c}`;
}

function fillTemplate(rng: Rng, template: string): string {
  let s = '';
  for (let k = 0; k < template.length; k++) {
    const ch = template[k]!;
    if (ch === '#') s += Math.floor(rng.next() * 10);
    else if (ch === '@') s += String.fromCharCode(65 + rng.int(26));
    else s += ch;
  }
  return s;
}

// ---------------------------------------------------------------------------
// Row models

interface Ctx {
  seed: number;
  now: number;
  users: number;
  companies: number;
  /** Rotates the name permutation with the seed, so seeds differ in names too. */
  nameOffset: number;
  rCompany: Rng;
  rCompanyTime: Rng;
  rUser: Rng;
  rDetail: Rng;
  rPurchase: Rng;
  rEvent: Rng;
}

const floorSecond = (ms: number) => Math.floor(ms / SECOND) * SECOND;

/**
 * Company ids follow creation time, as a serial key would; more companies
 * join recently (a growing product). The newest is a week old, so every
 * company's users have time to sign up.
 */
function companyCreatedMs(ctx: Ctx, id: number): number {
  const frac = (id - 1 + ctx.rCompanyTime.reset(ctx.seed, S_COMPANY_TIME, id).next()) / ctx.companies;
  const start = ctx.now - 3 * YEAR;
  return floorSecond(start + (3 * YEAR - 7 * DAY) * Math.pow(frac, 0.6));
}

interface Company {
  name: string;
  domain: string;
  industry: string;
  size: number;
  country: string;
}

function company(ctx: Ctx, id: number): Company {
  const r = ctx.rCompany.reset(ctx.seed, S_COMPANY, id);
  const k = id - 1;
  const pair = ((k % NAME_PAIRS) * NAME_STEP + ctx.nameOffset) % NAME_PAIRS;
  const cycle = Math.floor(k / NAME_PAIRS);
  const a = NAME_A[Math.floor(pair / NAME_B.length)]!;
  const b = NAME_B[pair % NAME_B.length]!;
  const [industry, suffixes] = INDUSTRIES.pick(r.next());
  const country = COUNTRIES.pick(r.next());
  const name = r.next() < 0.75 ? `${a} ${b} ${r.pick(suffixes)}` : `${a} ${b}`;
  const tldDraw = r.next();
  const tld = industry === 'Software' && tldDraw < 0.3 ? '.io' : tldDraw < 0.6 ? '.com' : TLD[country]!;
  const domain = `${domainLabel(a.toLowerCase() + b.toLowerCase(), cycle)}${tld}`;
  // Log-normal head count (median ~40) via Box-Muller: most customers are
  // small, a few are enterprises.
  const z = Math.sqrt(-2 * Math.log(1 - r.next())) * Math.cos(2 * Math.PI * r.next());
  const size = Math.min(50_000, Math.max(1, Math.round(Math.exp(Math.log(40) + 1.6 * z))));
  return { name, domain, industry, size, country };
}

const TRIAL = 0;
const FREE = 1;
const PRO = 2;
const PLAN_NAMES = ['trial', 'free', 'pro'] as const;

// Activity buckets, which drive last_seen_at and how many events a user has.
const NEVER = 0;
const ACTIVE = 1; // seen in the last 7 days
const LAPSING = 2; // 7 to 60 days ago
const DORMANT = 3; // longer ago
const EVENT_MEAN = [0, 6.5, 3, 1.2];

/** The facts other tables depend on; one instance is reused for every user. */
interface UserCore {
  plan: number;
  companyId: number; // 0: none
  signedUpMs: number;
  lastSeenMs: number; // -1: never seen after signing up
  activity: number;
}

function userCore(ctx: Ctx, id: number, out: UserCore): UserCore {
  const r = ctx.rUser.reset(ctx.seed, S_USER, id);
  const p = r.next();
  const plan = p < 0.25 ? TRIAL : p < 0.7 ? FREE : PRO;
  // Paying customers are mostly at a company; overall about 85% are.
  const atCompany = r.next() < (plan === PRO ? 0.95 : plan === FREE ? 0.78 : 0.85);
  // Earlier (larger) companies collect more users.
  const companyId = atCompany ? 1 + Math.min(ctx.companies - 1, Math.floor(ctx.companies * Math.pow(r.next(), 1.3))) : 0;
  const earliest = Math.max(ctx.now - (plan === TRIAL ? 30 * DAY : 3 * YEAR), companyId ? companyCreatedMs(ctx, companyId) : 0);
  const u = r.next();
  // Trials are uniform over their 30 days; the rest lean recent (a growing product).
  const signedUpMs = floorSecond(plan === TRIAL ? earliest + (ctx.now - earliest) * u : ctx.now - (ctx.now - earliest) * Math.pow(u, 1.3));

  let activity: number;
  const a = r.next();
  if (r.next() < 0.04) activity = NEVER;
  else if (plan === TRIAL) activity = a < 0.55 ? ACTIVE : LAPSING;
  else if (plan === FREE) activity = a < 0.3 ? ACTIVE : a < 0.55 ? LAPSING : DORMANT;
  else activity = a < 0.7 ? ACTIVE : a < 0.9 ? LAPSING : DORMANT;
  const g = r.next();
  const gap = activity === ACTIVE ? 7 * DAY * g : activity === LAPSING ? 7 * DAY + 53 * DAY * g : 60 * DAY + (3 * YEAR - 60 * DAY) * g;
  const lastSeenMs = activity === NEVER ? -1 : Math.max(signedUpMs, floorSecond(ctx.now - gap));

  out.plan = plan;
  out.companyId = companyId;
  out.signedUpMs = signedUpMs;
  out.lastSeenMs = lastSeenMs;
  out.activity = activity;
  return out;
}

/** Reused buffers for one user's purchases. */
interface Purchases {
  count: number;
  product: string[];
  cents: number[];
  at: number[];
}

function userPurchases(ctx: Ctx, id: number, core: UserCore, out: Purchases): Purchases {
  const r = ctx.rPurchase.reset(ctx.seed, S_PURCHASE, id);
  const c = r.next();
  const n =
    core.plan === PRO ? 1 + geometric(r.next(), 3.6) : core.plan === FREE ? (c < 0.15 ? 1 + geometric(r.next(), 0.5) : 0) : c < 0.08 ? 1 : 0;
  const earliest = Math.max(core.signedUpMs, ctx.now - 2 * YEAR);
  for (let k = 0; k < n; k++) {
    const product = PRODUCTS.pick(r.next());
    let cents = product === 'Add-on Seats' ? SEAT_PRICE * (1 + Math.floor(50 * r.next() ** 2)) : r.pick(PRICES[product]!);
    if (r.next() < 0.2) cents = Math.round(cents * (0.95 - 0.25 * r.next()));
    out.product[k] = product;
    out.cents[k] = cents;
    out.at[k] = floorSecond(earliest + (ctx.now - earliest) * r.next());
  }
  out.count = n;
  return out;
}

// ---------------------------------------------------------------------------
// Row generators: each yields COPY text lines, in id order.

function* companyLines(ctx: Ctx): Generator<string> {
  for (let id = 1; id <= ctx.companies; id++) {
    const c = company(ctx, id);
    yield `${id}\t${copyText(c.name)}\t${copyText(c.domain)}\t${copyText(c.industry)}\t${c.size}\t${c.country}\t${iso(companyCreatedMs(ctx, id))}\n`;
  }
}

function* userLines(ctx: Ctx): Generator<string> {
  const core: UserCore = { plan: 0, companyId: 0, signedUpMs: 0, lastSeenMs: 0, activity: 0 };
  const bought: Purchases = { count: 0, product: [], cents: [], at: [] };
  for (let id = 1; id <= ctx.users; id++) {
    userCore(ctx, id, core);
    userPurchases(ctx, id, core, bought);
    // Lifetime value is what the user actually paid, so it agrees with purchases.
    let ltv = 0;
    for (let k = 0; k < bought.count; k++) ltv += bought.cents[k]!;

    const r = ctx.rDetail.reset(ctx.seed, S_USER_DETAIL, id);
    const first = r.pick(FIRST_NAMES);
    const last = r.pick(LAST_NAMES);
    const co = core.companyId ? company(ctx, core.companyId) : null;
    const country = co && r.next() < 0.8 ? co.country : COUNTRIES.pick(r.next());
    const place = r.pick(PLACES[country]!);
    const domain = co && r.next() < 0.9 ? co.domain : r.pick(WEBMAIL);
    const f = first.toLowerCase();
    const l = last.toLowerCase();
    // The id suffix makes emails unique: local parts are letters and
    // separators followed by the id's digits, so no two ids can collide.
    const style = r.int(4);
    const local = style === 0 ? `${f}.${l}` : style === 1 ? `${f[0]}${l}` : style === 2 ? `${f}_${l}` : `${f}.${l[0]}`;
    const email = `${local}${id}@${domain}`;
    const phone = r.next() < 0.8 ? place.phone + r.digits(place.phoneDigits) : null;
    const zip = r.next() < 0.95 ? fillTemplate(r, place.zip) : null;

    yield `${id}\t${copyText(email)}\t${copyText(phone)}\t${copyText(first)}\t${copyText(last)}\t${copyText(place.city)}\t${copyText(place.state)}\t${copyText(zip)}\t${country}\t${PLAN_NAMES[core.plan]}\t${iso(core.signedUpMs)}\t${core.lastSeenMs < 0 ? '\\N' : iso(core.lastSeenMs)}\t${money(ltv)}\t${core.companyId || '\\N'}\n`;
  }
}

function* purchaseLines(ctx: Ctx): Generator<string> {
  const core: UserCore = { plan: 0, companyId: 0, signedUpMs: 0, lastSeenMs: 0, activity: 0 };
  const bought: Purchases = { count: 0, product: [], cents: [], at: [] };
  let purchaseId = 0;
  for (let id = 1; id <= ctx.users; id++) {
    userCore(ctx, id, core);
    userPurchases(ctx, id, core, bought);
    for (let k = 0; k < bought.count; k++) {
      yield `${++purchaseId}\t${id}\t${copyText(bought.product[k]!)}\t${money(bought.cents[k]!)}\t${iso(bought.at[k]!)}\n`;
    }
  }
}

function eventProperties(r: Rng, name: string): string | null {
  switch (name) {
    case 'page_view':
      return `{"path": "${r.pick(PAGES)}"}`;
    case 'feature_used':
      return `{"feature": "${r.pick(FEATURES)}"}`;
    case 'report_exported':
      return `{"format": "${r.pick(EXPORT_FORMATS)}", "rows": ${1 + Math.floor(5000 * r.next() ** 3)}}`;
    case 'invite_sent':
      return `{"invitees": ${1 + r.int(5)}, "role": "${r.next() < 0.8 ? 'member' : 'admin'}"}`;
    default:
      return r.next() < 0.5 ? null : `{"method": "${r.pick(LOGIN_METHODS)}"}`;
  }
}

function* eventLines(ctx: Ctx): Generator<string> {
  const core: UserCore = { plan: 0, companyId: 0, signedUpMs: 0, lastSeenMs: 0, activity: 0 };
  let eventId = 0;
  for (let id = 1; id <= ctx.users; id++) {
    userCore(ctx, id, core);
    if (core.lastSeenMs < 0) continue;
    const r = ctx.rEvent.reset(ctx.seed, S_EVENT, id);
    // Active users have many events, dormant ones a trace; the first event is
    // the login that set last_seen_at, so last_seen_at = max(occurred_at).
    const n = 1 + geometric(r.next(), EVENT_MEAN[core.activity]! - 1);
    const lifetime = core.lastSeenMs - core.signedUpMs;
    for (let k = 0; k < n; k++) {
      let name: string;
      let at: number;
      if (k === 0) {
        name = 'login';
        at = core.lastSeenMs;
      } else {
        name = EVENT_NAMES.pick(r.next());
        // Mostly in the 90 days before the user was last seen, bunched toward it.
        at =
          r.next() < 0.8
            ? core.lastSeenMs - Math.min(90 * DAY, lifetime) * r.next() ** 2
            : core.signedUpMs + lifetime * r.next();
        at = floorSecond(at);
      }
      yield `${++eventId}\t${id}\t${name}\t${iso(at)}\t${copyText(eventProperties(r, name))}\n`;
    }
  }
}

// ---------------------------------------------------------------------------
// Loading

const CHUNK_CHARS = 256 * 1024;
const PROGRESS_EVERY = 100_000;

/** Streams `lines` into `COPY <sql> FROM STDIN`; returns the number of rows. */
async function copyLines(
  client: pg.PoolClient,
  sql: string,
  table: string,
  lines: Iterable<string>,
  onProgress: DemoOptions['onProgress'],
): Promise<number> {
  let rows = 0;
  // Lines are joined into large chunks: one stream write per row would spend
  // more time in stream bookkeeping than in generating the row.
  function* chunks(): Generator<string> {
    let buf = '';
    let reported = 0;
    for (const line of lines) {
      buf += line;
      rows++;
      if (buf.length >= CHUNK_CHARS) {
        yield buf;
        buf = '';
        if (onProgress && rows - reported >= PROGRESS_EVERY) {
          reported = rows;
          onProgress(table, rows);
        }
      }
    }
    if (buf) yield buf;
  }
  const copy = client.query(copyFrom(sql));
  // pipeline waits for the server to acknowledge the COPY and, through the
  // pull-based Readable, generates no faster than PostgreSQL consumes.
  await pipeline(Readable.from(chunks(), { objectMode: false }), copy);
  if (copy.rowCount !== rows) {
    throw new Error(`expected COPY into ${table} to load ${rows} rows, but PostgreSQL reported ${copy.rowCount}`);
  }
  onProgress?.(table, rows);
  return rows;
}

function defaultNow(): Date {
  const d = new Date();
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
}

/**
 * Drops and recreates the demo tables in `opts.schema` and fills them. Runs
 * in one transaction: readers keep seeing the previous data until the new
 * data is complete, and a failed load leaves the previous data in place.
 */
export async function loadDemoWarehouse(pool: pg.Pool, opts: DemoOptions): Promise<DemoResult> {
  const started = performance.now();
  const schema = opts.schema ?? 'demo';
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw new Error(`expected a schema name of lower-case letters, digits and _, but got ${JSON.stringify(schema)}`);
  }
  if (!Number.isSafeInteger(opts.users) || opts.users < 1) {
    throw new Error(`expected users to be a positive integer, but got ${String(opts.users)}`);
  }
  const seed = opts.seed ?? 42;
  if (!Number.isSafeInteger(seed)) throw new Error(`expected seed to be an integer, but got ${String(seed)}`);
  const nowDate = opts.now ?? defaultNow();
  if (!(nowDate instanceof Date) || Number.isNaN(nowDate.getTime())) {
    throw new Error(`expected now to be a valid Date, but got ${String(nowDate)}`);
  }

  const seed32 = fmix32((seed >>> 0) ^ fmix32(Math.floor(seed / 0x1_0000_0000) >>> 0));
  const ctx: Ctx = {
    seed: seed32,
    now: floorSecond(nowDate.getTime()),
    users: opts.users,
    companies: Math.max(1, Math.round(opts.users / 20)),
    nameOffset: fmix32(seed32 ^ 0x5bd1e995) % NAME_PAIRS,
    rCompany: new Rng(),
    rCompanyTime: new Rng(),
    rUser: new Rng(),
    rDetail: new Rng(),
    rPurchase: new Rng(),
    rEvent: new Rng(),
  };
  const s = `"${schema}"`;

  const client = await pool.connect();
  let failure: unknown;
  try {
    await client.query('BEGIN');
    // Index builds and foreign-key checks after the load are the slow part
    // past the COPYs; more sort memory keeps them off disk.
    await client.query(`SET LOCAL maintenance_work_mem = '256MB'`);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    // Only our tables: the schema may hold other things (views, a planner's tables).
    await client.query(`DROP TABLE IF EXISTS ${s}.events, ${s}.purchases, ${s}.users, ${s}.companies CASCADE`);
    // Keys, constraints and indexes come after the COPYs: building them once
    // over sorted data is far cheaper than maintaining them row by row.
    await client.query(`
      CREATE TABLE ${s}.companies (
        id bigint NOT NULL,
        name text NOT NULL,
        domain text NOT NULL,
        industry text NOT NULL,
        size integer NOT NULL,
        country text NOT NULL,
        created_at timestamptz NOT NULL
      );
      CREATE TABLE ${s}.users (
        id bigint NOT NULL,
        email text NOT NULL,
        phone text,
        first_name text NOT NULL,
        last_name text NOT NULL,
        city text NOT NULL,
        state text,
        zip text,
        country text NOT NULL,
        plan text NOT NULL,
        signed_up_at timestamptz NOT NULL,
        last_seen_at timestamptz,
        lifetime_value numeric(12,2) NOT NULL,
        company_id bigint
      );
      CREATE TABLE ${s}.purchases (
        id bigint NOT NULL,
        user_id bigint NOT NULL,
        product text NOT NULL,
        amount numeric(12,2) NOT NULL,
        purchased_at timestamptz NOT NULL
      );
      CREATE TABLE ${s}.events (
        id bigint NOT NULL,
        user_id bigint NOT NULL,
        name text NOT NULL,
        occurred_at timestamptz NOT NULL,
        properties jsonb
      );
    `);

    // FREEZE: the tables were created in this transaction, so rows can be
    // written already frozen; the first queries and vacuums then need not
    // rewrite every page to set hint bits.
    const companies = await copyLines(
      client,
      `COPY ${s}.companies (id, name, domain, industry, size, country, created_at) FROM STDIN WITH (FREEZE)`,
      'companies',
      companyLines(ctx),
      opts.onProgress,
    );
    const users = await copyLines(
      client,
      `COPY ${s}.users (id, email, phone, first_name, last_name, city, state, zip, country, plan, signed_up_at, last_seen_at, lifetime_value, company_id) FROM STDIN WITH (FREEZE)`,
      'users',
      userLines(ctx),
      opts.onProgress,
    );
    const purchases = await copyLines(
      client,
      `COPY ${s}.purchases (id, user_id, product, amount, purchased_at) FROM STDIN WITH (FREEZE)`,
      'purchases',
      purchaseLines(ctx),
      opts.onProgress,
    );
    const events = await copyLines(
      client,
      `COPY ${s}.events (id, user_id, name, occurred_at, properties) FROM STDIN WITH (FREEZE)`,
      'events',
      eventLines(ctx),
      opts.onProgress,
    );

    await client.query(`
      ALTER TABLE ${s}.companies ADD CONSTRAINT companies_pkey PRIMARY KEY (id);
      ALTER TABLE ${s}.users ADD CONSTRAINT users_pkey PRIMARY KEY (id),
        ADD CONSTRAINT users_email_key UNIQUE (email),
        ADD CONSTRAINT users_company_id_fkey FOREIGN KEY (company_id) REFERENCES ${s}.companies (id);
      ALTER TABLE ${s}.purchases ADD CONSTRAINT purchases_pkey PRIMARY KEY (id),
        ADD CONSTRAINT purchases_user_id_fkey FOREIGN KEY (user_id) REFERENCES ${s}.users (id);
      ALTER TABLE ${s}.events ADD CONSTRAINT events_pkey PRIMARY KEY (id),
        ADD CONSTRAINT events_user_id_fkey FOREIGN KEY (user_id) REFERENCES ${s}.users (id);
      CREATE INDEX users_company_id_idx ON ${s}.users (company_id);
      CREATE INDEX users_plan_idx ON ${s}.users (plan);
      CREATE INDEX users_last_seen_at_idx ON ${s}.users (last_seen_at);
      CREATE INDEX purchases_user_id_idx ON ${s}.purchases (user_id);
      CREATE INDEX purchases_purchased_at_idx ON ${s}.purchases (purchased_at);
      CREATE INDEX events_user_id_occurred_at_idx ON ${s}.events (user_id, occurred_at);
    `);
    const note = `Roster demo data (seed ${seed}, now ${new Date(ctx.now).toISOString()}); replaced on every demo load.`;
    for (const table of DEMO_TABLES) {
      await client.query(`COMMENT ON TABLE ${s}.${table} IS '${note}'`);
    }
    // Planner statistics now, or the first segment queries plan against an
    // empty-looking table.
    await client.query(`ANALYZE ${DEMO_TABLES.map((t) => `${s}.${t}`).join(', ')}`);
    await client.query('COMMIT');
    return { schema, users, companies, purchases, events, ms: Math.round(performance.now() - started) };
  } catch (err) {
    failure = err;
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    // A connection that failed mid-COPY may be in any protocol state; do not
    // hand it to the next caller.
    client.release(failure !== undefined);
  }
}
