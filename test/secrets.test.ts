import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { keyId, SecretBox, SecretBoxError } from '../src/secrets.js';

describe('SecretBox (AES-256-GCM)', () => {
  const key = randomBytes(32);
  const box = new SecretBox(key);

  it('seals and opens; the same plaintext seals differently each time', () => {
    const a = box.seal('postgresql://u:hunter2@h/db');
    const b = box.seal('postgresql://u:hunter2@h/db');
    expect(a).not.toBe(b);
    expect(a).not.toContain('hunter2');
    expect(a.startsWith(`v1:${keyId(key)}:`)).toBe(true);
    expect(box.open(a)).toBe('postgresql://u:hunter2@h/db');
  });

  it('detects tampering', () => {
    const sealed = box.seal('secret');
    const parts = sealed.split(':');
    const body = Buffer.from(parts[4]!, 'base64');
    body[0] = body[0]! ^ 1;
    parts[4] = body.toString('base64');
    expect(() => box.open(parts.join(':'))).toThrow(/failed authentication/);
  });

  it('names a missing key, and opens old values while a previous key is configured', () => {
    const newKey = randomBytes(32);
    const old = box.seal('old value');
    expect(() => new SecretBox(newKey).open(old)).toThrow(SecretBoxError);
    expect(() => new SecretBox(newKey).open(old)).toThrow(new RegExp(`sealed with key ${keyId(key)}, which is not configured`));
    const rotated = new SecretBox(newKey, [key]);
    expect(rotated.open(old)).toBe('old value');
    expect(SecretBox.keyIdOf(rotated.seal('x'))).toBe(keyId(newKey));
  });

  it('refuses keys of the wrong size and values of the wrong shape', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow(/expected a 32-byte key, but got 16 bytes/);
    expect(() => box.open('plaintext')).toThrow(/expected a sealed value/);
  });
});
