import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseSecretKey } from '../src/config.js';

const KEY = 'a'.repeat(64);

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('configuration', () => {
  it('has defaults for the embedded setup', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ databaseUrl: undefined, port: 4000, logLevel: 'info', secretKey: undefined, previousSecretKeys: [], production: false });
    expect(config.dataDir).toMatch(/\.roster$/);
  });

  it('reads every variable', () => {
    const config = loadConfig({ DATABASE_URL: 'postgresql://u:p@db:5432/roster', PORT: '8080', ROSTER_SECRET_KEY: KEY, LOG_LEVEL: 'DEBUG', NODE_ENV: 'production', ROSTER_DATA_DIR: '/tmp/r' });
    expect(config).toMatchObject({ databaseUrl: 'postgresql://u:p@db:5432/roster', port: 8080, logLevel: 'debug', production: true, dataDir: '/tmp/r' });
    expect(config.secretKey?.toString('hex')).toBe(KEY);
  });

  it('reports every bad value at once, each saying what was expected and what arrived', () => {
    const found = problems({ DATABASE_URL: 'mysql://u:topsecret@h/db', PORT: '99999', ROSTER_SECRET_KEY: 'short', LOG_LEVEL: 'loud', REDIS_URL: 'http://cache:6379' });
    expect(found).toHaveLength(5);
    expect(found[4]).toBe('REDIS_URL: expected a redis:// or rediss:// URL, but got the scheme "http:"');
    expect(found[0]).toMatch(/^DATABASE_URL: expected a postgresql:\/\/ URL, but got the scheme "mysql:"/);
    expect(found[1]).toBe('PORT: expected an integer from 0 to 65535, but got "99999"');
    expect(found[2]).toMatch(/^ROSTER_SECRET_KEY: expected 32 bytes as 64 hex characters or base64.*but got a value of 5 characters/);
    expect(found[3]).toMatch(/^LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, but got "loud"/);
    // Never echo a URL's password or a key.
    expect(found.join('\n')).not.toContain('topsecret');
  });

  it('rejects an unparsable DATABASE_URL without echoing it', () => {
    const [problem] = problems({ DATABASE_URL: 'not a url with secret', ROSTER_SECRET_KEY: KEY });
    expect(problem).toMatch(/does not parse as a URL/);
    expect(problem).not.toContain('secret');
  });

  it('requires a secret key when DATABASE_URL is set', () => {
    expect(problems({ DATABASE_URL: 'postgresql://h/db' })[0]).toMatch(/ROSTER_SECRET_KEY: .* when DATABASE_URL is set, but it is unset/);
  });

  it('reads previous secret keys, comma-separated, in either format', () => {
    const old1 = Buffer.alloc(32, 1);
    const old2 = Buffer.alloc(32, 2);
    const config = loadConfig({ ROSTER_SECRET_KEY: KEY, ROSTER_SECRET_KEY_PREVIOUS: ` ${old1.toString('hex')} , ${old2.toString('base64url')}` });
    expect(config.previousSecretKeys).toEqual([old1, old2]);
    expect(loadConfig({ ROSTER_SECRET_KEY: KEY, ROSTER_SECRET_KEY_PREVIOUS: '  ' }).previousSecretKeys).toEqual([]);
  });

  it('reports a bad previous key by its position, without echoing key material', () => {
    const good = Buffer.alloc(32, 9).toString('hex');
    const secretish = 'deadbeefcafe-not-a-key-at-all';
    const found = problems({ ROSTER_SECRET_KEY: KEY, ROSTER_SECRET_KEY_PREVIOUS: `${good},${secretish},,` });
    expect(found).toEqual([
      `ROSTER_SECRET_KEY_PREVIOUS: expected each key as 32 bytes in 64 hex characters or base64, but key 2 of 4 is a value of ${secretish.length} characters`,
      'ROSTER_SECRET_KEY_PREVIOUS: expected a comma-separated list of 32-byte keys, but key 3 of 4 is empty',
      'ROSTER_SECRET_KEY_PREVIOUS: expected a comma-separated list of 32-byte keys, but key 4 of 4 is empty',
    ]);
    expect(found.join('\n')).not.toContain('deadbeef');
    expect(found.join('\n')).not.toContain(good.slice(0, 16));
    // Reported with every other problem at once.
    expect(problems({ PORT: 'x', ROSTER_SECRET_KEY_PREVIOUS: 'short' }).map((p) => p.split(':')[0])).toEqual(['PORT', 'ROSTER_SECRET_KEY_PREVIOUS']);
  });

  it('accepts keys as hex or base64', () => {
    const bytes = Buffer.alloc(32, 7);
    expect(parseSecretKey(bytes.toString('hex'))).toEqual(bytes);
    expect(parseSecretKey(bytes.toString('base64'))).toEqual(bytes);
    expect(parseSecretKey(bytes.toString('base64url'))).toEqual(bytes);
    expect(parseSecretKey(Buffer.alloc(16).toString('hex'))).toBeNull();
  });
});
