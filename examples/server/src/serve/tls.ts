import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PalabreConfig } from '@palabre/core';

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** True when we made it ourselves: clients will ask users to trust it. */
  readonly selfSigned: boolean;
  readonly source: string;
}

/**
 * The certificate from the configuration, or one generated on first start for local use and kept in
 * the data folder (so clients that were told to trust it keep trusting it across restarts).
 */
export async function loadTls(config: PalabreConfig): Promise<TlsMaterial> {
  if (config.tls.certFile || config.tls.keyFile) {
    if (!config.tls.certFile || !config.tls.keyFile) throw new Error('tls.certFile and tls.keyFile go together');
    return { cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile), selfSigned: false, source: config.tls.certFile };
  }
  const dir = join(config.dataDir, 'tls');
  const certFile = join(dir, 'self-signed.crt');
  const keyFile = join(dir, 'self-signed.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    const { generate } = await import('selfsigned');
    const names = [...new Set([config.hostname, 'localhost'])];
    const pems = await generate([{ name: 'commonName', value: config.hostname }], {
      keySize: 2048,
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + 825 * 24 * 3600 * 1000),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [...names.map((value) => ({ type: 2 as const, value })), { type: 7 as const, ip: '127.0.0.1' }, { type: 7 as const, ip: '::1' }],
        },
      ],
    });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(keyFile, pems.private, { mode: 0o600 });
    await writeFile(certFile, pems.cert);
    await chmod(keyFile, 0o600);
  }
  return { cert: await readFile(certFile), key: await readFile(keyFile), selfSigned: true, source: certFile };
}
