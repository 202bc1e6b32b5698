import * as v from 'valibot';
import { s3BucketProblem, s3EndpointProblem, s3RegionProblem } from './s3-location.js';

/**
 * The composed server's configuration. Protocol packages take their own option objects; this schema is
 * what `palabre serve` reads from its config file, environment and flags, validated once at start-up.
 * (valibot rather than zod: a tenth of the resident memory, which a server with a 150 MiB budget notices.)
 */
function int(min: number, max?: number) {
  return max === undefined
    ? v.pipe(v.number(), v.integer(), v.minValue(min))
    : v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
}
const port = int(0, 65535);
const positive = v.pipe(v.number(), v.integer(), v.minValue(1));
const withDefault = <T extends v.GenericSchema>(schema: T, value: v.InferOutput<T>) => v.optional(schema, value as never);
/** A nested section whose own defaults apply when it is left out. */
const section = <T extends v.ObjectEntries>(entries: T) => v.optional(v.strictObject(entries), {} as never);

export const ldapConfigSchema = v.strictObject({
  /** `ldap://` or `ldaps://` URL of the ministry's directory. */
  url: v.pipe(v.string(), v.regex(/^ldaps?:\/\//, 'an ldap:// or ldaps:// URL')),
  /** Service account used to find a user's DN; omit to bind anonymously for the search. */
  bindDn: v.optional(v.string()),
  bindPassword: v.optional(v.string()),
  /** Where users live, e.g. `ou=people,dc=sante,dc=gouv,dc=tg`. */
  searchBase: v.string(),
  /** `{address}` and `{local}` are replaced, escaped per RFC 4515. */
  searchFilter: withDefault(v.string(), '(mail={address})'),
  /** Or a DN template (`uid={local},ou=people,dc=…`) to bind directly without searching. */
  userDnTemplate: v.optional(v.string()),
  startTls: withDefault(v.boolean(), false),
  timeoutMs: withDefault(positive, 5000),
  /** Accept a self-signed directory certificate: only for testing. */
  tlsInsecure: withDefault(v.boolean(), false),
});
export type LdapConfig = v.InferOutput<typeof ldapConfigSchema>;

export const argon2ConfigSchema = v.strictObject({
  /** KiB. OWASP's minimum for argon2id is 19 MiB with 2 iterations. */
  memoryKiB: withDefault(int(19456), 19456),
  iterations: withDefault(int(2), 2),
  parallelism: withDefault(int(1, 16), 1),
});
export type Argon2Config = v.InferOutput<typeof argon2ConfigSchema>;

/** SMTP: intake (MX), submission, the outbound queue. Every limit is per node unless said otherwise. */
export const smtpConfigSchema = v.strictObject({
  /** Largest message accepted (SIZE), bytes. */
  maxMessageBytes: withDefault(int(1024), 50 * 1024 * 1024),
  maxRecipients: withDefault(int(1, 1000), 100),
  /**
   * Networks (CIDR) whose unauthenticated mail may use a hosted domain as sender (a scanner, an
   * application server). They never get relay rights.
   */
  trustedNetworks: withDefault(v.array(v.string()), []),
  dmarc: section({
    /** Refuse (550 5.7.1) mail failing DMARC of a domain that publishes p=reject. */
    honorReject: withDefault(v.boolean(), true),
    /** Quarantine policy: file in Junk. */
    honorQuarantine: withDefault(v.boolean(), true),
    /**
     * Our own domains: we know they sign everything, so unauthenticated mail claiming them from
     * outside is handled with this policy whatever DNS says.
     */
    hostedDomainPolicy: withDefault(v.picklist(['reject', 'quarantine', 'none']), 'reject'),
  }),
  limits: section({
    /** New connections per IP per minute (0: no limit). */
    connectionRatePerIp: withDefault(int(0), 600),
    /** Messages per IP per hour on the MX port (0: no limit). */
    messagesPerIpPerHour: withDefault(int(0), 3600),
    /** Messages per user per hour on submission, counted across nodes (0: no limit). */
    messagesPerUserPerHour: withDefault(int(0), 500),
    /** Recipients per user per hour on submission, counted across nodes (0: no limit). */
    recipientsPerUserPerHour: withDefault(int(0), 2000),
    /**
     * Messages and recipients per hour from all the accounts of one domain together, counted across
     * nodes (0: no limit): the ceiling that holds when many accounts are compromised at once.
     */
    messagesPerDomainPerHour: withDefault(int(0), 50_000),
    recipientsPerDomainPerHour: withDefault(int(0), 200_000),
    /** Concurrent SMTP sessions per listener. */
    maxClients: withDefault(int(1), 2000),
    /** BDAT chunks in one message (RFC 3030); past it the session ends with 552 5.3.4. */
    maxChunks: withDefault(int(1), 10_000),
  }),
  /** A session whose client sends nothing this long gets 421 and is closed (RFC 5321 §4.5.3.2: 5 minutes). */
  idleTimeoutMs: withDefault(positive, 5 * 60_000),
  outbound: section({
    /** Deferred mail is bounced after this long (RFC 5321 §4.5.4.1 suggests 4-5 days). */
    maxQueueMs: withDefault(positive, 5 * 24 * 3600_000),
    /** Parallel deliveries per node. */
    concurrency: withDefault(int(1, 100), 8),
    /** Destination port of remote MX hosts (25; tests point it elsewhere). */
    port: withDefault(port, 25),
    /** Honour MTA-STS (RFC 8461) policies published by recipient domains. */
    mtaSts: withDefault(v.boolean(), true),
    /** A policy fetch (connection to last byte) that takes longer fails (RFC 8461 §3.3). */
    mtaStsTimeoutMs: withDefault(positive, 20_000),
    /** A policy file larger than this is refused. */
    mtaStsMaxBytes: withDefault(int(1024, 1024 * 1024), 64 * 1024),
    /** Count outbound TLS sessions and send the daily RFC 8460 reports to domains that ask for them. */
    tlsReports: withDefault(v.boolean(), true),
    /**
     * A validating DNS resolver (`127.0.0.1:53`: unbound or BIND on this host or a trusted link) for
     * SMTP DANE (RFC 7672): MX, address and TLSA lookups of delivery go to it and its AD bit decides
     * what is DNSSEC-secure. Absent: no DANE.
     */
    dnssecResolver: v.optional(v.pipe(v.string(), v.regex(/^(?:\[[0-9A-Fa-f:.]+\]|[0-9]{1,3}(?:\.[0-9]{1,3}){3})(?::[0-9]{1,5})?$/, 'must be an IP address and port, as 127.0.0.1:53'))),
    /** One DNSSEC query (UDP and the TCP retry of a truncated answer). */
    dnssecTimeoutMs: withDefault(positive, 5_000),
    /**
     * Domains delivered to only under DANE (`ministere.example`, or `.example` for every subdomain):
     * without usable TLSA records on a DNSSEC-validated MX, their mail waits in the queue. Needs
     * `dnssecResolver`.
     */
    daneRequired: withDefault(v.array(v.pipe(v.string(), v.regex(/^\.?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, 'must be a domain name, or .domain for its subdomains'))), []),
    /** Selector for keys made by `palabre dkim generate`. */
    dkimSelector: withDefault(v.string(), 'palabre'),
  }),
  /** Send every outbound message through this relay (a national gateway) instead of MX lookup. */
  smarthost: v.optional(
    v.strictObject({
      host: v.string(),
      port: withDefault(port, 587),
      /** Implicit TLS (465-style); otherwise STARTTLS, required unless requireTls is false. */
      secure: withDefault(v.boolean(), false),
      requireTls: withDefault(v.boolean(), true),
      username: v.optional(v.string()),
      password: v.optional(v.string()),
      /** Accept a self-signed relay certificate: only for testing. */
      tlsInsecure: withDefault(v.boolean(), false),
    }),
  ),
});
export type SmtpConfig = v.InferOutput<typeof smtpConfigSchema>;

/** A check written once (core's S3 rules) as a valibot step: its message is the problem it names. */
const rule = (problem: (value: unknown) => string | null) => v.rawCheck<string>(({ dataset, addIssue }) => {
  if (dataset.typed) {
    const message = problem(dataset.value);
    if (message) addIssue({ message });
  }
});

export const s3ConfigSchema = v.strictObject({
  /** The object store's origin (`https://s3.example.gouv.tg`); absent: AWS for the region. */
  endpoint: v.optional(v.pipe(v.string(), rule(s3EndpointProblem))),
  bucket: v.pipe(v.string(), rule(s3BucketProblem)),
  region: withDefault(v.pipe(v.string(), rule(s3RegionProblem)), 'us-east-1'),
  accessKeyId: v.pipe(v.string(), v.minLength(1, 'an access key id')),
  /**
   * The secret key itself, or (better) `secretAccessKeyFile`, or the environment variable
   * PALABRE_S3_SECRET_ACCESS_KEY: never in a config file that is shared or backed up.
   */
  secretAccessKey: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** A file holding the secret key (mode 0600; a file others can read is refused). */
  secretAccessKeyFile: v.optional(v.string()),
  /** `https://host/bucket/key` (Swift, MinIO, Ceph) rather than `https://bucket.host/key`. */
  forcePathStyle: withDefault(v.boolean(), true),
  /** Server-side encryption asked on every write. */
  sse: v.optional(v.strictObject({ algorithm: v.picklist(['AES256', 'aws:kms']), kmsKeyId: v.optional(v.string()) })),
  /** Bytes per part of a streamed upload (memory per upload is two parts). */
  partBytes: withDefault(int(5 * 1024 * 1024, 1024 * 1024 * 1024), 8 * 1024 * 1024),
  /** Attempts per request, with exponential back-off on 5xx and network errors. */
  maxAttempts: withDefault(int(1, 20), 5),
});
export type S3Config = v.InferOutput<typeof s3ConfigSchema>;

export const configSchema = v.strictObject({
  dataDir: withDefault(v.string(), './data'),
  /** `postgres://…`: PostgreSQL; absent: SQLite in dataDir. */
  databaseUrl: v.optional(v.string()),
  /** The public host name clients connect to; also the SMTP greeting name. */
  hostname: withDefault(v.string(), 'localhost'),
  host: withDefault(v.string(), '127.0.0.1'),
  /** Processes serving the listeners (they share the ports); 0 = one per CPU. */
  workers: withDefault(int(0, 64), 1),
  ports: section({
    http: withDefault(port, 8080),
    smtp: withDefault(port, 2525),
    submission: withDefault(port, 2587),
    submissions: withDefault(port, 0),
    imap: withDefault(port, 1143),
    imaps: withDefault(port, 0),
    /** ManageSieve (RFC 5804), started with IMAP; 0: off. */
    sieve: withDefault(port, 4190),
    /**
     * Plain HTTP that only answers `308` to the HTTPS listener (and serves ACME HTTP-01 challenges from
     * `tls.acmeWebroot`); started when HTTPS is on. 0: off; 80 in production.
     */
    httpRedirect: withDefault(port, 0),
  }),
  /**
   * Where the bytes of messages and files live: `fs`, folders in dataDir (`blobs/mail`, `blobs/drive`);
   * `s3`, one bucket of an S3-compatible object store, a prefix per feature (`mail/`, `drive/`).
   */
  blobs: v.optional(
    v.pipe(
      v.strictObject({
        kind: withDefault(v.picklist(['fs', 's3']), 'fs'),
        s3: v.optional(s3ConfigSchema),
      }),
      v.check((b) => b.kind !== 's3' || b.s3 !== undefined, 'kind "s3" needs the s3 section (endpoint, bucket, region, accessKeyId)'),
    ),
    { kind: 'fs' } as never,
  ),
  secrets: section({
    /**
     * The key that seals secrets kept in the database (DKIM private keys): a file holding 32 random
     * bytes as base64 or hex (`openssl rand -base64 32 > /etc/palabre/secret.key`, mode 0600), outside
     * the data folder and its backups. Absent: those secrets are stored in clear (`palabre doctor` warns).
     */
    keyFile: v.optional(v.string()),
    /**
     * Key files being replaced: they only open what they sealed, never seal. To change the key, put the
     * new file in `keyFile` and the old one here on every node, run `palabre dkim seal` (it seals every
     * secret again under the new key), then drop the old file (`palabre doctor` says when it is unused).
     */
    previousKeyFiles: withDefault(v.array(v.string()), []),
  }),
  tls: section({
    /** The default certificate (PEM, the chain after the leaf), for clients that name no host or an unknown one. */
    certFile: v.optional(v.string()),
    keyFile: v.optional(v.string()),
    /**
     * More certificates, chosen by the host name a client asks for (SNI): each serves the DNS names of
     * its subjectAltName (wildcards one label deep), the first listed winning a name two share. Every
     * file is read again on SIGHUP and when it changes on disk; a pair that does not load is refused
     * and the previous one kept.
     */
    certificates: withDefault(v.array(v.strictObject({ certFile: v.string(), keyFile: v.string() })), []),
    /**
     * certbot's `--webroot -w DIR`: `/.well-known/acme-challenge/TOKEN` on the redirect listener is
     * served from `DIR/.well-known/acme-challenge/TOKEN` instead of redirected.
     */
    acmeWebroot: v.optional(v.string()),
    /**
     * `Strict-Transport-Security: max-age=…` on every HTTPS answer of the HTTP listener (RFC 6797): browsers then refuse plain
     * HTTP and certificate warnings for this host. Seconds; 0: not sent.
     */
    hstsMaxAgeSeconds: withDefault(int(0), 31_536_000),
  }),
  smtp: v.optional(smtpConfigSchema, {} as never),
  imap: section({
    /** Offer COMPRESS=DEFLATE (RFC 4978): for phones on slow links; a LAN-only site may turn it off. */
    compress: withDefault(v.boolean(), true),
    /** A connection that has not logged in and sends nothing this long gets BYE and is closed. */
    preAuthTimeoutMs: withDefault(positive, 60_000),
    /** Idle time of a logged-in connection outside IDLE before BYE (RFC 9051 §5.4: at least 30 minutes). */
    authTimeoutMs: withDefault(int(30 * 60_000), 30 * 60_000),
  }),
  /**
   * Concurrent connections, shared by every listener of a process (HTTP, SMTP, submission, IMAP, admin):
   * descriptors are one pool. Over the limit, a connection is refused at once (SMTP 421, IMAP BYE, HTTP
   * 503), one line is logged per minute and palabre_connections_refused_total counts them.
   */
  connections: section({
    /** From one IPv4 address or IPv6 /64; 0: no limit. Loopback is not exempt. */
    perAddress: withDefault(int(0), 200),
    /** In all; 0: no limit (the open-files limit then decides, badly). */
    global: withDefault(int(0), 20_000),
    /** Networks (CIDR) without the per-address limit: a ministry's NAT, a load balancer, a proxy. */
    exempt: withDefault(v.array(v.string()), []),
  }),
  /** HTTP listener timeouts: a connection timed out is closed and its descriptor released. */
  http: section({
    /** Whole request header section within this long of the connection or the previous request. */
    headersTimeoutMs: withDefault(positive, 60_000),
    /** Whole request, body included, within this long; 0: none (uploads of large files stream for long). */
    requestTimeoutMs: withDefault(int(0), 0),
    /** An idle keep-alive connection is closed after this long. */
    keepAliveTimeoutMs: withDefault(positive, 65_000),
    /** A connection with no byte either way this long is closed, even mid-request (a stalled upload). */
    idleTimeoutMs: withDefault(positive, 5 * 60_000),
  }),
  /**
   * The operations listener: /metrics (Prometheus), /healthz, /readyz. On loopback by default: metrics
   * say much about the site. Port 0 turns it off.
   */
  admin: section({
    host: withDefault(v.string(), '127.0.0.1'),
    port: withDefault(port, 9465),
  }),
  /** Spam filtering of every message, inbound and submitted (absent: no scanning, said in the banner). */
  spam: section({
    rspamd: v.optional(
      v.strictObject({
        /** rspamd's normal worker, e.g. `http://127.0.0.1:11333`. */
        url: v.pipe(v.string(), v.regex(/^https?:\/\//, 'an http:// or https:// URL')),
        /** Its controller worker, for learning from what users move into and out of Junk. */
        controllerUrl: v.optional(v.pipe(v.string(), v.regex(/^https?:\/\//, 'an http:// or https:// URL'))),
        password: v.optional(v.string()),
        timeoutMs: withDefault(positive, 15_000),
        /** rspamd unreachable or silent: `open` lets mail through (marked), `closed` answers 451. */
        failMode: withDefault(v.picklist(['open', 'closed']), 'open'),
        /** What each rspamd action does: reject (550), defer (451), junk (file in Junk), accept. */
        actions: withDefault(v.record(v.string(), v.picklist(['reject', 'defer', 'junk', 'accept'])), {}),
      }),
    ),
  }),
  /** Malware scanning of mail and drive uploads with ClamAV's clamd. */
  antivirus: section({
    clamd: v.optional(
      v.strictObject({
        /** clamd's LocalSocket, or `host` and `port` (TCPSocket). */
        socket: v.optional(v.string()),
        host: v.optional(v.string()),
        port: v.optional(port),
        timeoutMs: withDefault(positive, 30_000),
        /** Bytes scanned at most (clamd's StreamMaxLength); larger content passes marked as not scanned. */
        maxBytes: withDefault(positive, 25 * 1024 * 1024),
        /** clamd unreachable: `closed` answers 451 / refuses the upload, `open` lets it through. */
        failMode: withDefault(v.picklist(['open', 'closed']), 'closed'),
      }),
    ),
  }),
  /** Allow passwords over unencrypted connections from loopback (local development only). */
  allowInsecureAuth: withDefault(v.boolean(), false),
  auth: section({
    argon2: v.optional(argon2ConfigSchema, {} as never),
    minPasswordLength: withDefault(int(8, 128), 12),
    /**
     * Failures of one account from one address before answers there slow down exponentially; counted
     * over all addresses, before devices the account never signed in from slow down.
     */
    accountFreeFailures: withDefault(int(1), 5),
    /**
     * Failures of one account from one address within the window that lock that address out of it for
     * `lockoutMs`; counted over all addresses, that lock out every device the account never signed in
     * from (its known devices and app passwords keep working).
     */
    accountLockoutFailures: withDefault(int(1), 50),
    lockoutMs: withDefault(positive, 15 * 60_000),
    ipFreeFailures: withDefault(int(1), 20),
    ipBlockFailures: withDefault(int(1), 200),
    failureWindowMs: withDefault(positive, 60 * 60_000),
    /** A client address (IPv6: its /64) where an account signed in within this long is a known device. */
    knownDeviceMs: withDefault(positive, 30 * 24 * 3600_000),
    /** Per domain (A-label) directory binds; other domains use local passwords. */
    ldap: withDefault(v.record(v.string(), ldapConfigSchema), {}),
  }),
});

export type PalabreConfig = v.InferOutput<typeof configSchema>;
export type PalabreConfigInput = v.InferInput<typeof configSchema>;

export type ConfigResult = { success: true; config: PalabreConfig } | { success: false; problems: string[] };

/** Validate a configuration; problems are `path: message` lines for people. */
export function checkConfig(input: unknown): ConfigResult {
  const result = v.safeParse(configSchema, input ?? {});
  if (result.success) return { success: true, config: result.output };
  // Unknown keys are refused, not dropped: a misspelt limit would otherwise leave its default in force
  // while the operator believes it set.
  const message = (i: (typeof result.issues)[number]) => (i.type === 'strict_object' ? 'unknown setting (misspelt, or not in this version?)' : i.message);
  return { success: false, problems: result.issues.map((i) => `${v.getDotPath(i) ?? 'config'}: ${message(i)}`) };
}

export function parseConfig(input: unknown): PalabreConfig {
  const result = checkConfig(input);
  if (!result.success) throw new Error(`invalid configuration: ${result.problems.join('; ')}`);
  return result.config;
}
