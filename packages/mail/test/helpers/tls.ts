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

export interface TestCa {
  /** The CA certificate, to trust. */
  readonly cert: Buffer;
  /** A certificate for these DNS names signed by the CA. */
  issue(names: readonly string[]): Promise<{ key: Buffer; cert: Buffer }>;
}

/** A certificate authority made for one test run: what a client trusts through `ca`, issuing per host name. */
export async function testCa(): Promise<TestCa> {
  const ca = await generate([{ name: 'commonName', value: 'Palabre test CA' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 2 * 24 * 3600 * 1000),
    extensions: [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }],
  });
  return {
    cert: Buffer.from(ca.cert),
    async issue(names) {
      const leaf = await generate([{ name: 'commonName', value: names[0]! }], {
        keySize: 2048,
        algorithm: 'sha256',
        notAfterDate: new Date(Date.now() + 2 * 24 * 3600 * 1000),
        ca: { key: ca.private, cert: ca.cert },
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) },
        ],
      });
      return { key: Buffer.from(leaf.private), cert: Buffer.from(leaf.cert) };
    },
  };
}
