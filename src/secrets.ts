// Credentials at rest: AES-256-GCM with a random 96-bit IV per value. Each
// stored value names the key that sealed it (the first 8 hex characters of the
// key's SHA-256), so keys can be rotated: old values stay readable while a
// previous key is still configured, and are re-sealed with the current one.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';

export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
}

export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  readonly currentKeyId: string;

  /** `key` seals new values; `previous` keys only open old ones. */
  constructor(private readonly key: Buffer, previous: Buffer[] = []) {
    if (key.length !== 32) throw new SecretBoxError(`expected a 32-byte key, but got ${key.length} bytes`);
    this.currentKeyId = keyId(key);
    for (const k of [key, ...previous]) this.keys.set(keyId(k), k);
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, this.currentKeyId, iv.toString('base64'), tag.toString('base64'), body.toString('base64')].join(':');
  }

  open(sealed: string): string {
    const parts = sealed.split(':');
    if (parts.length !== 5 || parts[0] !== VERSION) {
      throw new SecretBoxError('expected a sealed value "v1:<key id>:<iv>:<tag>:<ciphertext>", but the stored value has another shape');
    }
    const [, id, iv, tag, body] = parts as [string, string, string, string, string];
    const key = this.keys.get(id);
    if (!key) {
      throw new SecretBoxError(`this value was sealed with key ${id}, which is not configured (current key: ${this.currentKeyId})`);
    }
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError(`a value sealed with key ${id} failed authentication: it was altered or the key is wrong`);
    }
  }

  /** The key id a sealed value names, without opening it. */
  static keyIdOf(sealed: string): string | undefined {
    return sealed.split(':')[1];
  }
}
