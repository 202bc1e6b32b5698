import { generate } from 'selfsigned';

let cached: Promise<{ key: Buffer; cert: Buffer }> | null = null;

/** A throwaway self-signed certificate for loopback tests, made in process (no openssl needed). */
export function selfSignedTls(): Promise<{ key: Buffer; cert: Buffer }> {
  cached ??= generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 2 * 24 * 3600 * 1000),
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
  }).then((pems) => ({ key: Buffer.from(pems.private), cert: Buffer.from(pems.cert) }));
  return cached;
}
