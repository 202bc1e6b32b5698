import { generateKeyPairSync } from 'node:crypto';
import type { Readable } from 'node:stream';
import { dkimSign } from 'mailauth';
import type { DkimAlgorithm, DkimKey, DkimKeyStore } from '@palabre/core';

export interface GeneratedDkimKey {
  readonly algorithm: DkimAlgorithm;
  readonly privateKeyPem: string;
  /** The DNS `p=` value. */
  readonly publicKey: string;
}

/** A new signing key: RSA 2048 (what every verifier supports) or Ed25519 (RFC 8463). */
export function generateDkimKey(algorithm: DkimAlgorithm = 'rsa-sha256'): GeneratedDkimKey {
  if (algorithm === 'ed25519-sha256') {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    return { algorithm, privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), publicKey: raw.toString('base64') };
  }
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    algorithm,
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
  };
}

/** The TXT record to publish: name and value, the value also split in ≤255-octet strings for zone files. */
export function dkimDnsRecord(key: Pick<DkimKey, 'domain' | 'selector' | 'algorithm' | 'publicKey'>): { name: string; value: string; zoneFile: string } {
  const name = `${key.selector}._domainkey.${key.domain}`;
  const value = `v=DKIM1; k=${key.algorithm === 'ed25519-sha256' ? 'ed25519' : 'rsa'}; p=${key.publicKey}`;
  const strings = value.match(/.{1,250}/g) ?? [value];
  return { name, value, zoneFile: `${name}. IN TXT ( ${strings.map((s) => `"${s}"`).join('\n    ')} )` };
}

/** Sign with the domain's active key: the DKIM-Signature field (CRLF-terminated), or null without a key. */
export async function dkimSignature(keys: DkimKeyStore, domain: string, message: Readable): Promise<string | null> {
  const key = await keys.active(domain).catch(() => null);
  if (!key) {
    message.resume();
    return null;
  }
  const result = await dkimSign(message, {
    signatureData: [
      {
        signingDomain: key.domain,
        selector: key.selector,
        privateKey: key.privateKeyPem,
        algorithm: key.algorithm,
        canonicalization: 'relaxed/relaxed',
      },
    ],
  } as never);
  if (result.errors?.length) throw result.errors[0];
  const sig = result.signatures.replace(/\r?\n/g, '\r\n');
  return sig.endsWith('\r\n') ? sig : `${sig}\r\n`;
}
