import {
  createAdministration,
  createAuthenticator,
  createCredentialService,
  type Administration,
  type CredentialService,
  type PalabreAuthenticator,
} from '@palabre/auth';
import { InvalidInputError, createMemoryNotifier, createSecretBox, noopMetrics, parseSecretKey, type Clock, type Logger, type Metrics, type Notifier, type PalabreConfig, type SecretBox } from '@palabre/core';
import {
  createCoreStores,
  createDataSource,
  createPgNotifier,
  sqliteFileIn,
  type CoreStores,
  type Database,
} from '@palabre/core/storage';
import { openBlobStores, type BlobStores } from './blob-stores.js';
import { readPrivateFile } from './private-file.js';

export { blobFolderIn } from './blob-stores.js';

export interface Context {
  readonly config: PalabreConfig;
  readonly db: Database;
  readonly stores: CoreStores;
  /** One blob store per feature: each collects its own garbage and must never see the others' blobs. */
  readonly blobs: BlobStores;
  /** Where the blobs are, in words (folders, or the bucket), without secrets. */
  readonly blobsWhere: string;
  /** Make the blob folders of a fresh site (nothing on S3), so that only a folder lost later is unready. */
  prepareBlobs(): Promise<void>;
  readonly logger: Logger;
  /** Where every service measures (Prometheus on the admin listener of `palabre serve`; nothing elsewhere). */
  readonly metrics: Metrics;
  readonly authenticator: PalabreAuthenticator;
  readonly credentials: CredentialService;
  /** Administration as functions (audit inside); the commands only parse and print. */
  readonly admin: Administration;
  /** Seals secrets kept in the database (DKIM private keys); null without `secrets.keyFile`. */
  readonly secrets: SecretBox | null;
  notifier(): Promise<Notifier>;
  close(): Promise<void>;
}

/** Where the database lives, in words, for messages. */
export function describeDatabase(config: PalabreConfig): string {
  if (config.databaseUrl) {
    try {
      const url = new URL(config.databaseUrl);
      return `PostgreSQL ${url.hostname}:${url.port || 5432}${url.pathname}`;
    } catch {
      return 'PostgreSQL';
    }
  }
  return `SQLite ${sqliteFileIn(config.dataDir)}`;
}

/**
 * Open everything a command needs. Migrations run here (idempotent, serialised across processes), so
 * every command works on a fresh data folder or database.
 */
export async function openContext(
  config: PalabreConfig,
  logger: Logger,
  options: {
    migrate?: boolean;
    notifier?: () => Promise<Notifier>;
    /** Login throttling's time (tests of hour-long attacks). */
    clock?: Clock;
    metrics?: Metrics;
  } = {},
): Promise<Context> {
  const secrets = config.secrets.keyFile ? loadSecretBox(config.secrets.keyFile, config.secrets.previousKeyFiles) : null;
  const db = await createDataSource({
    ...(config.databaseUrl ? { postgres: { url: config.databaseUrl } } : { sqlite: { file: sqliteFileIn(config.dataDir) } }),
    logger,
    migrate: options.migrate ?? true,
  });
  const stores = createCoreStores(db, { logger });
  let opened;
  try {
    opened = await openBlobStores(config);
  } catch (error) {
    await db.close();
    throw error;
  }
  const blobs = opened.stores;
  const metrics = options.metrics ?? noopMetrics;
  const authenticator = createAuthenticator({
    directory: stores.directory,
    throttle: stores.throttle,
    audit: stores.audit,
    logger,
    metrics,
    ...(options.clock ? { clock: options.clock } : {}),
    argon2: config.auth.argon2,
    ldap: config.auth.ldap,
    throttlePolicy: {
      accountFreeFailures: config.auth.accountFreeFailures,
      accountLockoutFailures: config.auth.accountLockoutFailures,
      lockoutMs: config.auth.lockoutMs,
      ipFreeFailures: config.auth.ipFreeFailures,
      ipBlockFailures: config.auth.ipBlockFailures,
      failureWindowMs: config.auth.failureWindowMs,
      knownDeviceMs: config.auth.knownDeviceMs,
    },
  });
  const credentials = createCredentialService({
    directory: stores.directory,
    audit: stores.audit,
    argon2: config.auth.argon2,
    policy: { minLength: config.auth.minPasswordLength },
  });
  const admin = createAdministration({ directory: stores.directory, audit: stores.audit, credentials, drive: stores.drive });
  let notifier: Promise<Notifier> | null = null;
  return {
    config,
    db,
    stores,
    blobs,
    blobsWhere: opened.where,
    prepareBlobs: () => opened.prepare(),
    logger,
    metrics,
    authenticator,
    credentials,
    admin,
    secrets,
    notifier() {
      notifier ??= options.notifier
        ? options.notifier()
        : config.databaseUrl
          ? createPgNotifier({ url: config.databaseUrl, logger })
          : Promise.resolve(createMemoryNotifier());
      return notifier;
    },
    async close() {
      if (notifier) await (await notifier).close();
      await opened.close();
      await db.close();
    },
  };
}

/**
 * The key-encryption key from its file, with the previous ones a rotation still needs. A key others on
 * the machine can read protects nothing: such a file is refused, as ssh refuses a private key with
 * loose permissions (an old key too: it still opens what it sealed).
 */
export function loadSecretBox(file: string, previousFiles: readonly string[] = []): SecretBox {
  const read = (path: string, setting: string): Buffer => {
    const text = readPrivateFile(path, setting);
    try {
      return parseSecretKey(text);
    } catch (error) {
      throw new InvalidInputError(`${setting} ${path}: ${(error as Error).message}`);
    }
  };
  return createSecretBox(
    read(file, 'secrets.keyFile'),
    previousFiles.map((path) => read(path, 'secrets.previousKeyFiles')),
  );
}
