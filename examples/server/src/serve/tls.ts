import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger, PalabreConfig } from '@palabre/core';

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
    return {
      cert: await readFile(config.tls.certFile),
      key: await readFile(config.tls.keyFile),
      selfSigned: false,
      source: config.tls.certFile,
    };
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
          altNames: [
            ...names.map((value) => ({ type: 2 as const, value })),
            { type: 7 as const, ip: '127.0.0.1' },
            { type: 7 as const, ip: '::1' },
          ],
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

/** A key and certificate that load, and what they serve. */
interface LoadedPair {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly context: SecureContext;
  /** DNS names of the subjectAltName (or the CN when there is none), lower case; `*.x` for wildcards. */
  readonly names: readonly string[];
  readonly fingerprint: string;
}

/**
 * Refuse what a TLS client would: not PEM, a key that is not the certificate's, a certificate not
 * valid now. Checked before anything is swapped, so a half-copied renewal never reaches a listener.
 */
export async function loadPair(certFile: string, keyFile: string, now = new Date()): Promise<LoadedPair> {
  const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (error) {
    throw new Error(`${certFile}: not a PEM certificate (${(error as Error).message})`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new Error(`${keyFile}: not a PEM private key (${(error as Error).message})`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new Error(`${keyFile} is not the key of ${certFile}`);
  if (new Date(x509.validTo) < now) throw new Error(`${certFile} expired on ${new Date(x509.validTo).toISOString()}`);
  if (new Date(x509.validFrom) > now) throw new Error(`${certFile} is not valid before ${new Date(x509.validFrom).toISOString()}`);
  const context = createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
  const dns = (x509.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject)?.[1]?.toLowerCase();
  return { cert, key, context, names: dns.length ? dns : cn ? [cn] : [], fingerprint: x509.fingerprint256 };
}

type ReloadListener = (material: TlsMaterial) => void;

/** Renewals write several files in a row (certbot: four symlinks): one reload once they are all there. */
const RELOAD_DEBOUNCE_MS = 500;

/**
 * The certificates of every TLS listener of a process (HTTPS, SMTP, submission, IMAP), the one place
 * they are reloaded: on SIGHUP and when a file changes on disk (the folders are watched, since
 * renewals replace files by rename). A new default pair goes to every listener through their
 * `setSecureContext` (the next handshake uses it, open connections keep theirs); SNI picks among
 * `tls.certificates` by the names each certificate carries, as HAProxy's crt-list and nginx's per-name
 * certificates do. A pair that does not load is refused with a log line and its previous version kept.
 */
export class TlsCertificates {
  private readonly listeners: ReloadListener[] = [];
  private readonly watchers: FSWatcher[] = [];
  private debounce: NodeJS.Timeout | null = null;
  private reloading: Promise<boolean> = Promise.resolve(true);
  /** SNI pairs in config order, by cert file. */
  private readonly sni = new Map<string, LoadedPair>();
  private byName = new Map<string, SecureContext>();

  private constructor(
    private current: TlsMaterial & { fingerprint: string },
    private readonly config: PalabreConfig,
    private readonly logger: Logger,
  ) {}

  static async open(config: PalabreConfig, logger: Logger): Promise<TlsCertificates> {
    const material = await loadTls(config);
    const first = await loadPair(
      TlsCertificates.defaultFiles(config, material).certFile,
      TlsCertificates.defaultFiles(config, material).keyFile,
    );
    const store = new TlsCertificates({ ...material, fingerprint: first.fingerprint }, config, logger.child({ component: 'tls' }));
    // At start a bad extra certificate stops the server: better than serving the wrong one for months.
    for (const { certFile, keyFile } of config.tls.certificates) store.sni.set(certFile, await loadPair(certFile, keyFile));
    store.index();
    return store;
  }

  private static defaultFiles(config: PalabreConfig, material: TlsMaterial): { certFile: string; keyFile: string } {
    return config.tls.certFile && config.tls.keyFile
      ? { certFile: config.tls.certFile, keyFile: config.tls.keyFile }
      : { certFile: material.source, keyFile: material.source.replace(/\.crt$/, '.key') };
  }

  /** The default pair now in use. */
  get material(): TlsMaterial {
    return this.current;
  }

  /** SHA-256 fingerprint of the default certificate now in use. */
  get fingerprint(): string {
    return this.current.fingerprint;
  }

  /** Names served by a certificate of `tls.certificates`, for the banner. */
  get sniNames(): string[] {
    return [...this.byName.keys()];
  }

  private index(): void {
    const byName = new Map<string, SecureContext>();
    for (const pair of this.sni.values()) for (const name of pair.names) if (!byName.has(name)) byName.set(name, pair.context);
    this.byName = byName;
  }

  /** For `SNICallback`: the certificate for that name, its one-label wildcard, or none (the default). */
  readonly SNICallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    const name = servername.toLowerCase().replace(/\.$/, '');
    const dot = name.indexOf('.');
    cb(null, this.byName.get(name) ?? (dot > 0 ? this.byName.get(`*${name.slice(dot)}`) : undefined));
  };

  /** `listener` gets each new default pair (throwing keeps that listener on its previous one, logged). */
  onReload(listener: ReloadListener): void {
    this.listeners.push(listener);
  }

  /** Read every pair again; resolves false if one was refused (and kept at its previous version). */
  reload(reason: string): Promise<boolean> {
    this.reloading = this.reloading.then(() => this.reloadNow(reason));
    return this.reloading;
  }

  private async reloadNow(reason: string): Promise<boolean> {
    let ok = true;
    const changed: string[] = [];
    const files = TlsCertificates.defaultFiles(this.config, this.current);
    try {
      const pair = await loadPair(files.certFile, files.keyFile);
      if (pair.fingerprint !== this.current.fingerprint || !pair.key.equals(this.current.key)) {
        this.current = { ...this.current, cert: pair.cert, key: pair.key, fingerprint: pair.fingerprint };
        for (const listener of this.listeners) {
          try {
            listener(this.current);
          } catch (error) {
            ok = false;
            this.logger.error({ err: (error as Error).message, source: files.certFile }, 'tls.reload-refused');
          }
        }
        changed.push(files.certFile);
      }
    } catch (error) {
      ok = false;
      this.logger.error({ reason, err: (error as Error).message, source: files.certFile }, 'tls.reload-refused');
    }
    for (const { certFile, keyFile } of this.config.tls.certificates) {
      try {
        const pair = await loadPair(certFile, keyFile);
        if (this.sni.get(certFile)?.fingerprint !== pair.fingerprint) {
          this.sni.set(certFile, pair);
          changed.push(certFile);
        }
      } catch (error) {
        ok = false;
        this.logger.error({ reason, err: (error as Error).message, source: certFile }, 'tls.reload-refused');
      }
    }
    this.index();
    // A SIGHUP is answered even when nothing changed: the operator sees it was heard.
    if (changed.length || reason === 'SIGHUP') this.logger.info({ reason, changed, fingerprint: this.current.fingerprint }, 'tls.reloaded');
    return ok;
  }

  /** Reload when a certificate or key file changes: their folders are watched (a rename replaces the file). */
  watch(): void {
    const files = [TlsCertificates.defaultFiles(this.config, this.current), ...this.config.tls.certificates].flatMap((p) => [
      p.certFile,
      p.keyFile,
    ]);
    const byDir = new Map<string, Set<string>>();
    for (const file of files.map((f) => resolve(f))) {
      const names = byDir.get(dirname(file)) ?? new Set<string>();
      names.add(basename(file));
      byDir.set(dirname(file), names);
    }
    for (const [dir, names] of byDir) {
      try {
        const watcher = watch(dir, { persistent: false }, (_event, name) => {
          // Some platforms give no name: then any change in the folder counts.
          if (name !== null && !names.has(name.toString())) return;
          if (this.debounce) clearTimeout(this.debounce);
          this.debounce = setTimeout(() => {
            this.debounce = null;
            void this.reload('file changed');
          }, RELOAD_DEBOUNCE_MS);
          this.debounce.unref();
        });
        watcher.on('error', (error) => this.logger.warn({ err: error.message, dir }, 'tls.watch-failed'));
        this.watchers.push(watcher);
      } catch (error) {
        this.logger.warn({ err: (error as Error).message, dir }, 'tls.watch-failed');
      }
    }
  }

  close(): void {
    for (const watcher of this.watchers.splice(0)) watcher.close();
    if (this.debounce) clearTimeout(this.debounce);
  }
}
