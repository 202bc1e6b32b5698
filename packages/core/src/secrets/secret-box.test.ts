import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSecretBox, isSealed, parseSecretKey } from './secret-box.js';

describe('SecretBox (AES-256-GCM, bound to its context)', () => {
  const box = createSecretBox(randomBytes(32));

  it('opens what it sealed, with a fresh nonce each time', () => {
    const a = box.seal('-----BEGIN PRIVATE KEY-----\nx\n', 'dkim:a:s');
    expect(isSealed(a)).toBe(true);
    expect(a).not.toEqual(box.seal('-----BEGIN PRIVATE KEY-----\nx\n', 'dkim:a:s'));
    expect(box.open(a, 'dkim:a:s')).toBe('-----BEGIN PRIVATE KEY-----\nx\n');
  });

  it('refuses another context, an altered byte, another key and garbage', () => {
    const a = box.seal('secret', 'dkim:a:s');
    expect(() => box.open(a, 'dkim:b:s')).toThrow(/does not open/);
    const last = a.slice(-4, -3) === 'A' ? 'B' : 'A';
    expect(() => box.open(`${a.slice(0, -4)}${last}${a.slice(-3)}`, 'dkim:a:s')).toThrow();
    expect(() => createSecretBox(randomBytes(32)).open(a, 'dkim:a:s')).toThrow(/not the configured/);
    for (const junk of ['', 'sealed:v1:', 'sealed:v1:x:y', `sealed:v1:${box.keyId}:AAAA:AAAA`, 'plain text']) expect(() => box.open(junk, 'c')).toThrow();
  });

  it('opens what a previous key sealed during a rotation, seals only under the current one, and tells them apart', () => {
    const oldKey = randomBytes(32);
    const before = createSecretBox(oldKey).seal('old secret', 'dkim:a:s');
    const rotating = createSecretBox(randomBytes(32), [oldKey]);
    expect(rotating.open(before, 'dkim:a:s')).toBe('old secret');
    expect(rotating.sealedByCurrent(before)).toBe(false);
    const again = rotating.seal('old secret', 'dkim:a:s');
    expect(again.startsWith(`sealed:v1:${rotating.keyId}:`)).toBe(true);
    expect(rotating.sealedByCurrent(again)).toBe(true);
    expect(rotating.sealedByCurrent('plain text')).toBe(false);
    // A previous key is no licence: context and integrity still hold, and an unknown key still fails.
    expect(() => rotating.open(before, 'dkim:b:s')).toThrow(/does not open/);
    expect(() => rotating.open(createSecretBox(randomBytes(32)).seal('x', 'c'), 'c')).toThrow(/nor a previous one/);
    // Derived keys follow the current key only.
    expect(rotating.deriveKey('p')).not.toEqual(createSecretBox(oldKey).deriveKey('p'));
    expect(() => createSecretBox(randomBytes(32), [randomBytes(31)])).toThrow(/32 bytes/);
  });

  it('reads a key file as base64 or hex, and nothing else', () => {
    const key = randomBytes(32);
    expect(parseSecretKey(`${key.toString('base64')}\n`)).toEqual(key);
    expect(parseSecretKey(key.toString('hex'))).toEqual(key);
    for (const bad of ['', 'short', randomBytes(16).toString('base64'), randomBytes(33).toString('hex'), 'z'.repeat(64)]) expect(() => parseSecretKey(bad)).toThrow(/32 random bytes/);
    expect(() => createSecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });
});
