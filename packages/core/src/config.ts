import { z } from 'zod';

/**
 * The composed server's configuration. Protocol packages take their own option objects; this schema is
 * what `palabre serve` reads from its config file, environment and flags, validated once at start-up.
 */
const port = z.number().int().min(0).max(65535);

export const ldapConfigSchema = z.object({
  /** `ldap://` or `ldaps://` URL of the ministry's directory. */
  url: z.string().regex(/^ldaps?:\/\//, 'an ldap:// or ldaps:// URL'),
  /** Service account used to find a user's DN; omit to bind anonymously for the search. */
  bindDn: z.string().optional(),
  bindPassword: z.string().optional(),
  /** Where users live, e.g. `ou=people,dc=sante,dc=gouv,dc=tg`. */
  searchBase: z.string(),
  /** `{address}` and `{local}` are replaced, escaped per RFC 4515. */
  searchFilter: z.string().default('(mail={address})'),
  /** Or a DN template (`uid={local},ou=people,dc=…`) to bind directly without searching. */
  userDnTemplate: z.string().optional(),
  startTls: z.boolean().default(false),
  timeoutMs: z.number().int().positive().default(5000),
  /** Accept a self-signed directory certificate: only for testing. */
  tlsInsecure: z.boolean().default(false),
});
export type LdapConfig = z.infer<typeof ldapConfigSchema>;

export const argon2ConfigSchema = z.object({
  /** KiB. OWASP's minimum for argon2id is 19 MiB with 2 iterations. */
  memoryKiB: z.number().int().min(19456).default(19456),
  iterations: z.number().int().min(2).default(2),
  parallelism: z.number().int().min(1).max(16).default(1),
});
export type Argon2Config = z.infer<typeof argon2ConfigSchema>;

export const configSchema = z.object({
  dataDir: z.string().default('./data'),
  /** `postgres://…`: PostgreSQL; absent: SQLite in dataDir. */
  databaseUrl: z.string().optional(),
  /** The public host name clients connect to; also the SMTP greeting name. */
  hostname: z.string().default('localhost'),
  host: z.string().default('127.0.0.1'),
  ports: z
    .object({
      http: port.default(8080),
      smtp: port.default(2525),
      submission: port.default(2587),
      submissions: port.default(0),
      imap: port.default(1143),
      imaps: port.default(0),
    })
    .prefault({}),
  tls: z
    .object({
      certFile: z.string().optional(),
      keyFile: z.string().optional(),
    })
    .prefault({}),
  /** Allow passwords over unencrypted connections from loopback (local development only). */
  allowInsecureAuth: z.boolean().default(false),
  auth: z
    .object({
      argon2: argon2ConfigSchema.prefault({}),
      minPasswordLength: z.number().int().min(8).max(128).default(12),
      /** Failures per account before responses slow down exponentially. */
      accountFreeFailures: z.number().int().min(1).default(5),
      /** Failures per account within the window that lock it for `lockoutMs`. */
      accountLockoutFailures: z.number().int().min(1).default(50),
      lockoutMs: z.number().int().positive().default(15 * 60_000),
      ipFreeFailures: z.number().int().min(1).default(20),
      ipBlockFailures: z.number().int().min(1).default(200),
      failureWindowMs: z.number().int().positive().default(60 * 60_000),
      /** Per domain (A-label) directory binds; other domains use local passwords. */
      ldap: z.record(z.string(), ldapConfigSchema).default({}),
    })
    .prefault({}),
});

export type PalabreConfig = z.infer<typeof configSchema>;
export type PalabreConfigInput = z.input<typeof configSchema>;

export function parseConfig(input: unknown): PalabreConfig {
  return configSchema.parse(input ?? {});
}
