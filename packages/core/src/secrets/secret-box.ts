import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { InvalidInputError, UnavailableError } from '../errors.js';

/**
 * Secrets the server must keep but never store in clear (DKIM private keys): sealed with AES-256-GCM
 * under a key-encryption key that lives outside the database (a file only the service account reads,
 * or one a KMS agent writes). A stolen database dump or backup then holds no usable signing key.
 * `context` is bound into the seal (GCM additional data): a value sealed for one row cannot be
 * replayed into another.
 */
export interface SecretBox {
  /** Short, public fingerprint of the key-encryption key: says which key sealed a value. */
  readonly keyId: string;
  /** Seals under the current key, always. */
  seal(plain: string, context: string): string;
  /**
   * The plain text, whether sealed under the current key or one of the previous keys it was given
   * (a rotation in progress); UnavailableError when sealed under an unknown key or altered.
   */
  open(sealed: string, context: string): string;
  /** True when the value is sealed under the current key (false: in clear, or under a previous key). */
  sealedByCurrent(value: string): boolean;
  /**
   * A 32-byte key for one purpose (HMAC-SHA256 of the purpose under the key-encryption key): the same
   * on every node given the same key file, and revealing nothing of it or of other purposes' keys.
   */
  deriveKey(purpose: string): Buffer;
}

const PREFIX = 'sealed:v1:';

export const isSealed = (value: string): boolean => value.startsWith(PREFIX);

const fingerprint = (kek: Buffer): string => createHash('sha256').update('palabre-secret-box').update(kek).digest('hex').slice(0, 12);

function checkedKey(key: Uint8Array): Buffer {
  if (key.length !== 32) throw new InvalidInputError('a secret key is 32 bytes (base64 or hex in its file)');
  return Buffer.from(key);
}

/** The key id a sealed value names (null for a value in clear or not well formed). */
function sealedKeyId(value: string): string | null {
  if (!isSealed(value)) return null;
  const end = value.indexOf(':', PREFIX.length);
  return end > PREFIX.length ? value.slice(PREFIX.length, end) : null;
}

/**
 * A SecretBox over a 32-byte key (the content of the key file, decoded). `previous` keys only open:
 * while a key is being replaced, every node can read what was sealed under the old one until
 * `palabre dkim seal` has sealed it again under the new one. Derived keys always come from the
 * current key (a leaked key file must not keep deriving valid keys).
 */
export function createSecretBox(key: Uint8Array, previous: readonly Uint8Array[] = []): SecretBox {
  const kek = checkedKey(key);
  const keyId = fingerprint(kek);
  const openers = new Map<string, Buffer>([[keyId, kek]]);
  for (const old of previous) {
    const k = checkedKey(old);
    if (!openers.has(fingerprint(k))) openers.set(fingerprint(k), k);
  }
  return {
    keyId,
    sealedByCurrent: (value) => sealedKeyId(value) === keyId,
    seal(plain, context) {
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', kek, nonce);
      cipher.setAAD(Buffer.from(context));
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return `${PREFIX}${keyId}:${nonce.toString('base64')}:${Buffer.concat([body, cipher.getAuthTag()]).toString('base64')}`;
    },
    deriveKey(purpose) {
      return createHmac('sha256', kek).update(`palabre-derive:${purpose}`).digest();
    },
    open(sealed, context) {
      const [id, nonce, data] = sealed.slice(PREFIX.length).split(':');
      if (!isSealed(sealed) || !id || !nonce || !data) throw new UnavailableError('not a sealed secret');
      const opener = openers.get(id);
      if (!opener) throw new UnavailableError(`sealed under key ${id.slice(0, 12)}, not the configured ${keyId}${openers.size > 1 ? ' nor a previous one' : ''}`);
      const bytes = Buffer.from(data, 'base64');
      try {
        const decipher = createDecipheriv('aes-256-gcm', opener, Buffer.from(nonce, 'base64'));
        decipher.setAAD(Buffer.from(context));
        decipher.setAuthTag(bytes.subarray(bytes.length - 16));
        return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]).toString('utf8');
      } catch {
        throw new UnavailableError('a sealed secret does not open: altered, or sealed for another row');
      }
    },
  };
}

/** The key in a key file: 32 bytes written as base64 (44 characters) or hex (64), surrounding blanks ignored. */
export function parseSecretKey(text: string): Buffer {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/]{43}=$/.test(t)) return Buffer.from(t, 'base64');
  throw new InvalidInputError('a secret key file holds 32 random bytes as base64 or hex (openssl rand -base64 32)');
}
