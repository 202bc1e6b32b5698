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

/** SMTP: intake (MX), submission, the outbound queue. Every limit is per node unless said otherwise. */
export const smtpConfigSchema = z.object({
  /** Largest message accepted (SIZE), bytes. */
  maxMessageBytes: z.number().int().min(1024).default(50 * 1024 * 1024),
  maxRecipients: z.number().int().min(1).max(1000).default(100),
  /**
   * Networks (CIDR) whose unauthenticated mail may use a hosted domain as sender (a scanner, an
   * application server). They never get relay rights.
   */
  trustedNetworks: z.array(z.string()).default([]),
  dmarc: z
    .object({
      /** Refuse (550 5.7.1) mail failing DMARC of a domain that publishes p=reject. */
      honorReject: z.boolean().default(true),
      /** Quarantine policy: file in Junk. */
      honorQuarantine: z.boolean().default(true),
      /**
       * Our own domains: we know they sign everything, so unauthenticated mail claiming them from
       * outside is handled with this policy whatever DNS says.
       */
      hostedDomainPolicy: z.enum(['reject', 'quarantine', 'none']).default('reject'),
    })
    .prefault({}),
  limits: z
    .object({
      /** Concurrent connections from one IP address (0: no limit). */
      connectionsPerIp: z.number().int().min(0).default(50),
      /** New connections per IP per minute (0: no limit). */
      connectionRatePerIp: z.number().int().min(0).default(600),
      /** Messages per IP per hour on the MX port (0: no limit). */
      messagesPerIpPerHour: z.number().int().min(0).default(3600),
      /** Messages per user per hour on submission, counted across nodes (0: no limit). */
      messagesPerUserPerHour: z.number().int().min(0).default(500),
      /** Recipients per user per hour on submission, counted across nodes (0: no limit). */
      recipientsPerUserPerHour: z.number().int().min(0).default(2000),
      /** Concurrent SMTP sessions per listener. */
      maxClients: z.number().int().min(1).default(2000),
    })
    .prefault({}),
  outbound: z
    .object({
      /** Deferred mail is bounced after this long (RFC 5321 §4.5.4.1 suggests 4-5 days). */
      maxQueueMs: z.number().int().positive().default(5 * 24 * 3600_000),
      /** Parallel deliveries per node. */
      concurrency: z.number().int().min(1).max(100).default(8),
      /** Destination port of remote MX hosts (25; tests point it elsewhere). */
      port: port.default(25),
      /** Honour MTA-STS (RFC 8461) policies published by recipient domains. */
      mtaSts: z.boolean().default(true),
      /** Selector for keys made by `palabre dkim generate`. */
      dkimSelector: z.string().default('palabre'),
    })
    .prefault({}),
  /** Send every outbound message through this relay (a national gateway) instead of MX lookup. */
  smarthost: z
    .object({
      host: z.string(),
      port: port.default(587),
      /** Implicit TLS (465-style); otherwise STARTTLS, required unless requireTls is false. */
      secure: z.boolean().default(false),
      requireTls: z.boolean().default(true),
      username: z.string().optional(),
      password: z.string().optional(),
      /** Accept a self-signed relay certificate: only for testing. */
      tlsInsecure: z.boolean().default(false),
    })
    .optional(),
});
export type SmtpConfig = z.infer<typeof smtpConfigSchema>;

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
  smtp: smtpConfigSchema.prefault({}),
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
