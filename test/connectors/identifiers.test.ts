// Normalisation and hashing against the vendors' published vectors
// (../shared/reference/destinations.md §0: rows marked "official ✓"), plus the
// computed vectors for platforms that publish none.
import { describe, expect, it } from 'vitest';
import {
  emailRule,
  maidRule,
  normaliseCity,
  normaliseCountry,
  normaliseEmail,
  normaliseGender,
  normaliseName,
  normalisePhone,
  normaliseState,
  normaliseZip,
  parseDateOfBirth,
  phoneRule,
  prepareIdentifiers,
  sha256Hex,
} from '../../src/connectors/identifiers.js';

const value = (n: { ok: boolean; value?: string }) => (n.ok ? n.value : undefined);

describe('vendor test vectors', () => {
  it('Microsoft Advertising (Bulk "Customer List Item"): test@contoso.com', () => {
    expect(sha256Hex(value(normaliseEmail('test@contoso.com'))!)).toBe('f25ad364d33972379a7a4f4df33db142205f5c40eb19cfdb2fc5aaf117e10101');
  });
  it('X Ads user data: adsapi', () => {
    expect(sha256Hex('adsapi')).toBe('49e0be2aeccfb51a8dee4c945c8a70a9ac500cf6f5cb08112575f74db9b1470d');
  });
  it('X phone keeps its +', () => {
    expect(sha256Hex(value(normalisePhone('+11234567890', { plus: true }))!)).toBe('1fa6b8d986d9b9cd01bf36951815158bbde9f520c0567c835dfe34783d0a4231');
  });
  it('TikTok help centre: e-mail and MAID', () => {
    expect(sha256Hex(value(normaliseEmail('janedoe@gmail.com'))!)).toBe('d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69');
    expect(sha256Hex('5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25')).toBe('83dc3f5f32b9472613b0f038d36f22585a609d018af6f6067f50da318bf354bd');
  });
  it('Snap Conversions API parameters: e-mail lower-cased, phone digits only', () => {
    expect(sha256Hex(value(normaliseEmail('Person@Example.com'))!)).toBe('542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345');
    expect(value(normalisePhone('+44 844 412 4653', { plus: false }))).toBe('448444124653');
    expect(sha256Hex('448444124653')).toBe('dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383');
  });
  it('Google Data Manager formatting examples (computed)', () => {
    expect(sha256Hex(value(normaliseEmail('cloudysanfrancisco@gmail.com', { canonicaliseGmail: true }))!)).toBe('223ebda6f6889b1494551ba902d9d381daf2f642bae055888e96343d53e9f9c4');
    expect(sha256Hex(value(normaliseEmail('user.name+nyc@example.com', { canonicaliseGmail: true }))!)).toBe('f109a2a632fbcea5fc82049f50beed3d8621bf9034399f437fb622222acccdac');
    expect(value(normalisePhone('+1 800-555-0100', { plus: true }))).toBe('+18005550100');
    expect(sha256Hex('+18005550100')).toBe('fb4f73a6ec5fdb7077d564cdd22c3554b43ce49168550c3b12c547b78c517b30');
  });
  it('Meta (computed): e-mail, phone, gender, country, names', () => {
    expect(sha256Hex(value(normaliseEmail('John.Doe@Example.com '))!)).toBe('836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f');
    expect(sha256Hex(value(normalisePhone('+1 (650) 555-1212', { plus: false }))!)).toBe('e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176');
    expect(sha256Hex(value(normaliseGender('M'))!)).toBe('62c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a');
    expect(sha256Hex(value(normaliseGender('F'))!)).toBe('252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111');
    expect(sha256Hex(value(normaliseCountry('US'))!)).toBe('79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621');
    expect(sha256Hex(value(normaliseName('John'))!)).toBe('96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a');
    expect(sha256Hex(value(normaliseName('Doe'))!)).toBe('799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f');
  });
});

describe('normalisation rules', () => {
  it('Gmail canonicalisation only when asked, only for Gmail domains', () => {
    expect(value(normaliseEmail('Jane.Doe+ads@GMail.com', { canonicaliseGmail: true }))).toBe('janedoe@gmail.com');
    expect(value(normaliseEmail('Jane.Doe+ads@GMail.com'))).toBe('jane.doe+ads@gmail.com');
    expect(value(normaliseEmail('jane.doe+ads@googlemail.com', { canonicaliseGmail: true }))).toBe('janedoe@googlemail.com');
  });
  it('refuses what is not an e-mail, without quoting it', () => {
    for (const raw of ['', 'nobody', 'a@b', '@example.com', 'x@']) {
      const n = normaliseEmail(raw);
      expect(n.ok).toBe(false);
      if (!n.ok && raw.length > 3) expect(n.reason).not.toContain(raw);
    }
  });
  it('phones: national numbers need a country code, 00 is international, length is checked', () => {
    expect(normalisePhone('020 7946 0000', { plus: true }).ok).toBe(false);
    expect(value(normalisePhone('020 7946 0000', { plus: true, defaultCountryCode: '44' }))).toBe('+442079460000');
    // A setting written "+44" prefixes its digits only (TikTok and Snap accept that form).
    expect(value(normalisePhone('020 7946 0000', { plus: false, defaultCountryCode: '+44' }))).toBe('442079460000');
    expect(value(normalisePhone('0044 20 7946 0000', { plus: false }))).toBe('442079460000');
    expect(value(normalisePhone('(650) 555-1212', { plus: false, defaultCountryCode: '1' }))).toBe('16505551212');
    expect(normalisePhone('+1 23', { plus: true }).ok).toBe(false);
    expect(normalisePhone('+1234567890123456', { plus: true }).ok).toBe(false);
  });
  it('names, cities, states, zips, countries, dates', () => {
    expect(value(normaliseName("  O'Brien-Smith "))).toBe('obriensmith');
    expect(value(normaliseName('Dr. José Jr.', { stripHonorifics: true }))).toBe('josé');
    expect(value(normaliseCity('São Paulo'))).toBe('saopaulo');
    expect(value(normaliseState('California'))).toBe('ca');
    expect(value(normaliseState('CA'))).toBe('ca');
    expect(value(normaliseZip('94045-1234'))).toBe('94045');
    expect(value(normaliseZip('SW1A 1AA'))).toBe('sw1a1aa');
    expect(value(normaliseCountry('United Kingdom'))).toBe('gb');
    expect(normaliseCountry('USA ').ok).toBe(true);
    expect(normaliseCountry('Narnia').ok).toBe(false);
    expect(parseDateOfBirth('1990-02-03')).toEqual({ ok: true, value: { year: '1990', month: '02', day: '03' } });
    expect(parseDateOfBirth('1990-02-30').ok).toBe(false);
    expect(parseDateOfBirth('1850-01-01').ok).toBe(false);
  });
});

describe('prepareIdentifiers', () => {
  const rules = [emailRule(), phoneRule({ plus: false }), maidRule()];
  it('hashes what the platform hashes, keeps MAIDs raw, passes pre-hashed values through', () => {
    const hashed = sha256Hex('pre@hashed.test');
    const { prepared, rejected } = prepareIdentifiers(
      [
        { key: '1', fields: {}, identifiers: { EMAIL: ' A@Example.com', PHONE: '+1 650 555 1212', MAID: '5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B25', FIRST_NAME: 'ignored' } },
        { key: '2', fields: {}, identifiers: { EMAIL: hashed.toUpperCase() } },
      ],
      rules,
      { platform: 'Test' },
    );
    expect(rejected).toEqual([]);
    expect(prepared[0]!.values).toEqual({ EMAIL: sha256Hex('a@example.com'), PHONE: sha256Hex('16505551212'), MAID: '5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25' });
    expect(prepared[1]!.values).toEqual({ EMAIL: hashed });
  });
  it('rejects a row with no usable identifier, saying why, without the raw value', () => {
    const { prepared, rejected } = prepareIdentifiers(
      [
        { key: 'a', fields: {}, identifiers: { EMAIL: 'not-an-email', PHONE: null } },
        { key: 'b', fields: {}, identifiers: {} },
        { key: 'c', fields: {}, identifiers: { EMAIL: 'bad', PHONE: '+44 20 7946 0000' } },
      ],
      rules,
      { platform: 'Test' },
    );
    expect(prepared.map((p) => p.row.key)).toEqual(['c']);
    expect(prepared[0]!.values).toEqual({ PHONE: sha256Hex('442079460000') });
    expect(rejected).toHaveLength(2);
    expect(rejected[0]).toMatchObject({ key: 'a', code: 'NO_USABLE_IDENTIFIER' });
    expect(rejected[0]!.message).toMatch(/expected at least one of EMAIL, PHONE, MAID, but EMAIL is not an e-mail address/);
    expect(rejected[0]!.message).not.toContain('not-an-email');
    expect(rejected[1]!.message).toMatch(/all were empty/);
  });
});
