import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { SMTPServer, type SMTPServerAddress, type SMTPServerAuthentication, type SMTPServerSession } from 'smtp-server';
import {
  ConnectionGate,
  guardServer,
  isPalabreError,
  networkMatcher,
  noopMetrics,
  normalizeIp,
  secondsSince,
  silentLogger,
  systemClock,
  type AuditLog,
  type Authenticator,
  type Logger,
  type Principal,
  type RateLimitStore,
  type UsageStore,
} from '@palabre/core';
import type { AcceptedRecipient } from '../delivery/intake.js';
import { createMailPipeline, type MailPipeline, type MailPipelineOptions } from '../delivery/mail-pipeline.js';
import { addChunking, type MessageHandler } from './chunking.js';
import { ConnectionRate } from './connection-limits.js';
import type { SmtpLogEvent } from './log-events.js';
import { MAX_LINE_CHARS, receiveMessage } from './message-receiver.js';
import { logSmtpError, SmtpError, toSmtpError } from './smtp-error.js';
import { smtpMetrics, type SmtpMeasuredCommand } from './smtp-metrics.js';
import { SendRate } from './send-rate.js';

export interface SmtpLimits {
  readonly maxMessageBytes: number;
  readonly maxRecipients: number;
  readonly connectionRatePerIp: number;
  readonly messagesPerIpPerHour: number;
  readonly messagesPerUserPerHour: number;
  readonly recipientsPerUserPerHour: number;
  /** Submissions from every account of one domain together (0: no limit). */
  readonly messagesPerDomainPerHour: number;
  readonly recipientsPerDomainPerHour: number;
  readonly maxClients: number;
  /** Header section kept in memory for parsing (default 256 KiB). */
  readonly maxHeaderBytes?: number;
  /** Failed AUTH attempts in one session before it is closed (default 3). */
  readonly authFailuresPerSession?: number;
  /** A client that sends nothing this long gets 421 and is disconnected (default 5 minutes, RFC 5321 §4.5.3.2). */
  readonly idleTimeoutMs?: number;
  /** BDAT chunks in one message (RFC 3030); past it the connection ends (default 10,000). */
  readonly maxChunks?: number;
}

const DEFAULT_MAX_CHUNKS = 10_000;

export const DEFAULT_SMTP_LIMITS: SmtpLimits = {
  maxMessageBytes: 50 * 1024 * 1024,
  maxRecipients: 100,
  connectionRatePerIp: 600,
  messagesPerIpPerHour: 3600,
  messagesPerUserPerHour: 500,
  recipientsPerUserPerHour: 2000,
  messagesPerDomainPerHour: 50_000,
  recipientsPerDomainPerHour: 200_000,
  maxClients: 2000,
};

/**
 * A listener's options; the MailPipelineOptions (stores, queue, DKIM keys, Sieve, filters, DMARC
 * handling…) build its own pipeline when no shared `pipeline` is given.
 */
export interface SmtpServerOptions extends MailPipelineOptions {
  /** `mx`: mail for hosted addresses from anyone, no relay. `submission`: AUTH required, relays for users. */
  readonly role: 'mx' | 'submission';
  /** 465-style implicit TLS (needs `tls`). */
  readonly implicitTls?: boolean;
  /** Our name: greeting, Received, Authentication-Results authserv-id, Message-ID. */
  readonly hostname: string;
  /** Certificate for STARTTLS / implicit TLS; null: no TLS offered. */
  readonly tls: {
    readonly key: Buffer | string;
    readonly cert: Buffer | string;
    /** A certificate per server name (SNI), for STARTTLS and implicit TLS; without an answer, `key`/`cert`. */
    readonly SNICallback?: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
  } | null;
  /** AUTH before TLS (loopback development only). */
  readonly allowInsecureAuth?: boolean;
  readonly authenticator: Authenticator;
  /** Per-user limits shared by every node (database-backed in the server). */
  readonly rateLimits?: RateLimitStore | null;
  /** Where a sending limit reached is reported (`mail.rate-limited`). */
  readonly audit?: AuditLog | null;
  /** RCPT-time quota check (452 4.2.2 before the client sends DATA). */
  readonly usage?: UsageStore | null;
  readonly limits?: Partial<SmtpLimits>;
  /** CIDRs whose unauthenticated mail may claim a hosted sender (never relay rights). */
  readonly trustedNetworks?: readonly string[];
  /** Where bodies larger than a few hundred KiB wait between DATA and the blob store. */
  readonly spoolDir?: string;
  /**
   * Concurrent connection limits, shared with the process's other listeners (default: a gate of this
   * listener's own with the default limits).
   */
  readonly connections?: ConnectionGate;
  /**
   * The pipeline received messages go through, shared by the process's listeners (createMailPipeline);
   * absent, the listener builds its own from its MailPipelineOptions.
   */
  readonly pipeline?: MailPipeline;
}

export interface SmtpListener {
  readonly role: 'mx' | 'submission';
  /** Resolves with the bound port once listening. */
  listen(port: number, host?: string): Promise<number>;
  /** Stop accepting; sessions get `graceMs` to finish, then 421. */
  close(graceMs?: number): Promise<void>;
  /** The underlying smtp-server instance (for embedding: `server.connect(socket)`). */
  readonly server: SMTPServer;
  /**
   * A new default certificate (renewed on disk): the next STARTTLS or implicit-TLS handshake uses it;
   * sessions already open keep theirs. Throws, changing nothing, if the key and certificate are unusable.
   */
  setSecureContext(tls: { readonly key: Buffer | string; readonly cert: Buffer | string }): void;
}

interface SessionState {
  ip: string;
  recipients: AcceptedRecipient[];
  authFailures: number;
  log: Logger;
}

const MAIL_PARAMS = new Set(['SIZE', 'BODY', 'SMTPUTF8', 'RET', 'ENVID', 'AUTH', 'REQUIRETLS']);
const RCPT_PARAMS = new Set(['NOTIFY', 'ORCPT']);
const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * An SMTP listener on smtp-server: the MX (mail for hosted addresses, never relaying) or submission
 * (587 STARTTLS / 465 implicit TLS, AUTH PLAIN/LOGIN only over TLS). A library: no process.env, no
 * console, nothing listens until listen().
 */
export function createSmtpServer(options: SmtpServerOptions): SmtpListener {
  const role = options.role;
  const limits: SmtpLimits = { ...DEFAULT_SMTP_LIMITS, ...options.limits };
  const clock = options.clock ?? systemClock;
  const log = (options.logger ?? silentLogger).child({ component: 'smtp', role });
  const event = (level: 'debug' | 'info' | 'warn' | 'error', fields: Record<string, unknown>, name: SmtpLogEvent) => log[level](fields, name);
  const trusted = networkMatcher(options.trustedNetworks ?? []);
  const connectionRate = new ConnectionRate(limits.connectionRatePerIp);
  const gate = options.connections ?? new ConnectionGate({ logger: options.logger, metrics: options.metrics });
  const listenerName = options.implicitTls ? 'submissions' : role === 'mx' ? 'smtp' : 'submission';
  const measure = smtpMetrics(options.metrics ?? noopMetrics, role);
  const pipeline = options.pipeline ?? createMailPipeline(options);
  const { intake, queue, resolver } = pipeline;
  const spoolDir = options.spoolDir ?? join(tmpdir(), 'palabre-smtp-spool');
  const sessions = new Map<string, SessionState>();
  const state = (session: SMTPServerSession): SessionState => {
    let s = sessions.get(session.id);
    if (!s) {
      s = { ip: normalizeIp(session.remoteAddress), recipients: [], authFailures: 0, log: log.child({ session: session.id }) };
      sessions.set(session.id, s);
    }
    return s;
  };
  const localRate = options.rateLimits ?? null;
  const ipCounters = new Map<string, { window: number; count: number }>();
  const overIpMessageRate = (ip: string): boolean => {
    if (limits.messagesPerIpPerHour <= 0) return false;
    const window = Math.floor(clock.now().getTime() / 3600_000);
    const c = ipCounters.get(ip);
    const count = c && c.window === window ? c.count + 1 : 1;
    ipCounters.set(ip, { window, count });
    if (ipCounters.size > 50_000) for (const [k, v] of ipCounters) if (v.window < window) ipCounters.delete(k);
    return count > limits.messagesPerIpPerHour;
  };
  const sendRate = new SendRate({ store: localRate, limits, clock, logger: log, audit: options.audit, metrics: options.metrics ?? noopMetrics });

  /** The handler's callback, counting the reply it gives and how long it took. */
  const timed = <A extends unknown[]>(command: SmtpMeasuredCommand, reply: (error?: Error | null, ...rest: A) => void) => {
    const start = performance.now();
    return (error?: Error | null, ...rest: A): void => {
      measure.command(command, error ? ((error as { responseCode?: number }).responseCode ?? 451) : 250, secondsSince(start));
      reply(error, ...rest);
    };
  };

  /** The message of one transaction, whether it came by DATA or by BDAT chunks (RFC 3030): one path for both. */
  const onData: MessageHandler = (stream, session, reply) => {
    const s = state(session);
    // Timed from the end of the data (smtp-server ends the stream at the dot): what the client waits for.
    let callback = reply;
    stream.once('end', () => (callback = timed('data', reply)));
    const run = async (): Promise<string> => {
      const received = await receiveMessage(stream, {
        maxHeaderBytes: limits.maxHeaderBytes ?? 256 * 1024,
        spoolDir,
        memoryBytes: 256 * 1024,
        maxBytes: limits.maxMessageBytes,
      });
      try {
        if (received.tooLarge) throw new SmtpError(552, '5.3.4', `message larger than ${limits.maxMessageBytes} bytes`);
        if (received.bareNewline) throw new SmtpError(550, '5.6.11', 'bare CR or LF in the message: lines must end with CRLF (RFC 5321 §2.3.8)');
        if (received.headerTooLarge) throw new SmtpError(552, '5.3.4', 'header section too large');
        if (received.nul) throw new SmtpError(550, '5.6.0', 'NUL byte in the message (RFC 5322 §2.1)');
        if (received.longLine) throw new SmtpError(550, '5.6.0', `line longer than ${MAX_LINE_CHARS} characters (RFC 5322 §2.1.1)`);
        const envelope = session.envelope;
        const dsn = (envelope as { dsn?: { ret?: string; envid?: string } }).dsn;
        const result = await intake.accept(
          {
            role,
            sender: envelope.mailFrom ? envelope.mailFrom.address : '',
            recipients: s.recipients,
            ip: s.ip,
            helo: session.hostNameAppearsAs,
            secure: session.secure,
            principal: (session.user as Principal | false | undefined) || null,
            trusted: trusted(s.ip),
            envId: dsn?.envid ?? null,
            ret: (dsn?.ret as 'FULL' | 'HDRS' | undefined) ?? null,
            requireTls: (envelope as { requireTLS?: boolean }).requireTLS === true,
          },
          received,
        );
        s.log.info({ id: result.id, size: received.size, delivered: result.delivered, queued: result.queued, deferred: result.deferred }, 'smtp.accepted');
        measure.delivered(result);
        return `Ok: queued as ${result.id}`;
      } finally {
        await received.body.dispose();
      }
    };
    run().then(
      (reply) => callback(null, reply),
      (error: unknown) => {
        stream.resume();
        // A BDAT transaction ended by RSET, a refused chunk or a dropped connection: no reply goes out.
        const aborted = (error as { code?: unknown } | null)?.code === 'EABORTED';
        const e = aborted ? new SmtpError(554, '5.5.1', 'transaction aborted before BDAT LAST') : toSmtpError(error);
        logSmtpError(s.log, e, 'smtp.data-refused');
        callback(e);
      },
    );
  };

  // The MX takes mail for local users only: no AUTH there, so no password guessing on port 25 either.
  const offerAuth = role === 'submission';
  const disabled: string[] = [];
  if (!offerAuth) disabled.push('AUTH');
  if (!options.tls || options.implicitTls) disabled.push('STARTTLS');

  const server = new SMTPServer({
    name: options.hostname,
    banner: 'ESMTP Palabre',
    secure: Boolean(options.implicitTls && options.tls),
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
    ...(options.tls?.SNICallback ? { SNICallback: options.tls.SNICallback } : {}),
    hideSTARTTLS: !options.tls || Boolean(options.implicitTls),
    size: limits.maxMessageBytes,
    rejectOversized: true,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: role === 'mx',
    allowInsecureAuth: options.allowInsecureAuth === true,
    disabledCommands: disabled,
    hideENHANCEDSTATUSCODES: false,
    hideDSN: role === 'mx',
    // RFC 8689: smtp-server offers REQUIRETLS only inside a TLS session and refuses the parameter
    // outside one (530); the flag goes with the queued message (QueueWorker honours it).
    hideREQUIRETLS: !options.tls,
    maxClients: limits.maxClients,
    maxRecipients: limits.maxRecipients,
    socketTimeout: limits.idleTimeoutMs ?? 300_000,
    closeTimeout: 30_000,
    disableReverseLookup: true,
    logger: false,

    onConnect(session, callback) {
      const s = state(session);
      if (connectionRate.exceeded(s.ip)) {
        event('info', { ip: s.ip, reason: 'too many connections per minute' }, 'smtp.connect-refused');
        measure.command('connect', 421);
        return callback(new SmtpError(421, '4.7.0', 'too many connections per minute from your address, try again later'));
      }
      measure.command('connect', 220);
      event('debug', { ip: s.ip, session: session.id }, 'smtp.connect');
      callback();
    },

    onClose(session) {
      sessions.delete(session.id);
      event('debug', { session: session.id }, 'smtp.disconnect');
    },

    onAuth(auth: SMTPServerAuthentication, session, reply) {
      const callback = timed('auth', reply);
      const s = state(session);
      const fail = (error: SmtpError) => {
        s.authFailures++;
        if (s.authFailures >= (limits.authFailuresPerSession ?? 3)) {
          return callback(new SmtpError(421, '4.7.0', 'too many failed authentication attempts, closing'));
        }
        callback(error);
      };
      const mechanism = String(auth.method).toUpperCase();
      if (mechanism !== 'PLAIN' && mechanism !== 'LOGIN') return callback(new SmtpError(504, '5.5.4', 'unsupported authentication mechanism'));
      options.authenticator
        .verifyPassword(auth.username ?? '', auth.password ?? '', {
          protocol: 'smtp',
          ip: s.ip,
          mechanism,
          secure: session.secure || options.allowInsecureAuth === true,
        })
        .then((result) => {
          if (result.ok) {
            s.log.info({ account: result.principal.accountId, method: result.method }, 'smtp.auth-success');
            return callback(null, { user: result.principal });
          }
          s.log.info({ reason: result.reason, ip: s.ip }, 'smtp.auth-failure');
          switch (result.reason) {
            case 'throttled':
              return fail(new SmtpError(454, '4.7.0', `too many failed logins, try again in ${Math.ceil((result.retryAfterMs ?? 60_000) / 1000)} s`));
            case 'insecure-channel':
              return callback(new SmtpError(538, '5.7.11', 'encryption required: use STARTTLS first'));
            case 'unavailable':
              return callback(new SmtpError(454, '4.7.0', 'temporary authentication failure, try again later'));
            default:
              return fail(new SmtpError(535, '5.7.8', 'authentication failed'));
          }
        })
        .catch((error: unknown) => {
          const e = toSmtpError(error);
          logSmtpError(s.log, e, 'smtp.error', { stage: 'auth' });
          callback(new SmtpError(454, '4.7.0', 'temporary authentication failure, try again later'));
        });
    },

    onMailFrom(address: SMTPServerAddress, session, reply) {
      const callback = timed('mail', reply);
      const s = state(session);
      s.recipients = [];
      const run = async (): Promise<void> => {
        for (const key of Object.keys(address.args || {})) {
          if (!MAIL_PARAMS.has(key.toUpperCase())) throw new SmtpError(555, '5.5.4', `unsupported MAIL parameter ${key.slice(0, 20)}`);
        }
        // Defence in depth for RFC 8689 §4.1: smtp-server already refuses REQUIRETLS outside TLS.
        if (address.args && 'REQUIRETLS' in address.args && !session.secure) throw new SmtpError(530, '5.7.10', 'REQUIRETLS needs a TLS session: STARTTLS first');
        const sender = address.address ?? '';
        if (NON_ASCII.test(sender) && !session.envelope.smtpUtf8) throw new SmtpError(553, '5.6.7', 'non-ASCII address needs SMTPUTF8');
        if (role === 'submission') {
          const principal = session.user as Principal | undefined;
          if (!principal) throw new SmtpError(530, '5.7.0', 'authentication required');
          if (!sender) throw new SmtpError(550, '5.7.1', 'the null sender is not allowed on submission');
          if (!(await resolver.maySendAs(principal.accountId, sender))) {
            throw new SmtpError(553, '5.7.1', 'sender address is not yours (use your own address or one of your aliases)');
          }
          const exceeded = await sendRate.hit(principal, 'messages', 1, s.ip);
          if (exceeded) throw new SmtpError(451, '4.7.1', `${exceeded.scope === 'domain' ? 'your domain\'s' : 'your'} message rate limit reached, try again later`);
        } else if (!session.user && overIpMessageRate(s.ip)) {
          throw new SmtpError(451, '4.7.1', 'too many messages from your address, try again later');
        }
      };
      run().then(
        () => callback(),
        (error: unknown) => {
          const e = toSmtpError(error);
          logSmtpError(s.log, e, 'smtp.mail-refused');
          callback(e);
        },
      );
    },

    onRcptTo(address: SMTPServerAddress, session, reply) {
      const callback = timed('rcpt', reply);
      const s = state(session);
      const run = async (): Promise<void> => {
        for (const key of Object.keys(address.args || {})) {
          if (!RCPT_PARAMS.has(key.toUpperCase()) || role === 'mx') throw new SmtpError(555, '5.5.4', `unsupported RCPT parameter ${key.slice(0, 20)}`);
        }
        if (NON_ASCII.test(address.address) && !session.envelope.smtpUtf8) throw new SmtpError(553, '5.6.7', 'non-ASCII address needs SMTPUTF8');
        let resolved;
        try {
          resolved = await resolver.resolve(address.address);
        } catch (error) {
          if (isPalabreError(error, 'invalid')) throw new SmtpError(553, '5.1.3', 'bad recipient address syntax');
          throw error;
        }
        const principal = session.user as Principal | undefined;
        switch (resolved.kind) {
          case 'unknown':
            throw new SmtpError(550, '5.1.1', 'no such user here');
          case 'disabled':
            throw new SmtpError(550, '5.2.1', 'mailbox disabled');
          case 'remote':
            if (role !== 'submission' || !principal) throw new SmtpError(554, '5.7.1', 'relay access denied');
            if (!queue) throw new SmtpError(550, '5.7.1', 'this server does not send mail to other domains');
            break;
          case 'local':
            if (options.usage && resolved.via !== 'group') {
              const account = resolved.accounts[0]!;
              if (account.quotaBytes !== null || account.quotaMessages !== null) {
                const used = await options.usage.get(account.id);
                const full = (account.quotaBytes !== null && used.total >= account.quotaBytes) || (account.quotaMessages !== null && used.messages >= account.quotaMessages);
                if (full) throw new SmtpError(452, '4.2.2', 'mailbox full, try again later');
              }
            }
            break;
        }
        const exceeded = principal && role === 'submission' ? await sendRate.hit(principal, 'recipients', 1, s.ip) : null;
        if (exceeded) throw new SmtpError(451, '4.7.1', `${exceeded.scope === 'domain' ? 'your domain\'s' : 'your'} recipient rate limit reached, try again later`);
        const dsn = (address as { dsn?: { notify?: string[]; orcpt?: string } }).dsn;
        s.recipients = s.recipients.filter((r) => r.resolved.address !== resolved.address);
        s.recipients.push({ resolved, notify: (dsn?.notify as AcceptedRecipient['notify']) ?? null, orcpt: dsn?.orcpt ?? null });
      };
      run().then(
        () => callback(),
        (error: unknown) => {
          const e = toSmtpError(error);
          logSmtpError(s.log, e, 'smtp.rcpt-refused');
          callback(e);
        },
      );
    },

    onData,
  });

  // Our errors carry their own enhanced status code: send them as they are.
  const connect = server.connect.bind(server);
  server.connect = (socket, socketOptions) => {
    connect(socket, socketOptions);
    const connection = [...server.connections].pop() as unknown as
      | { secure: boolean; send(code: number, data: unknown, context?: unknown): void }
      | undefined;
    if (connection) {
      addChunking(connection as never, { maxBytes: limits.maxMessageBytes, maxChunks: limits.maxChunks ?? DEFAULT_MAX_CHUNKS, onMessage: onData });
      const send = connection.send.bind(connection);
      connection.send = (code, data, context) => {
        // RFC 4954 §4 / RFC 3207: no AUTH on offer before TLS unless plaintext passwords are allowed.
        if (code === 250 && Array.isArray(data) && !connection.secure && !options.allowInsecureAuth) {
          data = data.filter((line) => !/^AUTH\b/.test(String(line)));
        }
        // Only EHLO answers 250 with several lines.
        if (code === 250 && Array.isArray(data)) data = [...data, 'CHUNKING'];
        send(code, data, context === undefined && typeof data === 'string' && ENHANCED.test(data) ? false : context);
      };
    }
  };
  server.on('error', (error) => event('warn', { err: (error as Error).message }, 'smtp.error'));
  // Counted when the kernel hands the socket over, before the TLS handshake of an implicit-TLS listener
  // (a client that never finishes one holds a descriptor too). Over the limit: 421 in the clear, or
  // nothing on implicit TLS, where no byte can be sent before the handshake.
  guardServer(server.server, gate, listenerName, (reason) =>
    options.implicitTls
      ? null
      : `421 4.7.0 ${options.hostname} ${reason === 'global' ? 'too many connections' : 'too many concurrent connections from your address'}, try again later\r\n`,
  );

  return {
    role,
    server,
    setSecureContext(tls) {
      if (!options.tls) throw new Error('this SMTP server was created without TLS');
      // smtp-server empties its contexts before building the new one: a bad pair must throw here first.
      createSecureContext({ key: tls.key, cert: tls.cert });
      server.updateSecureContext({ key: tls.key, cert: tls.cert });
    },
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        server.server.once('error', onError);
        server.listen(port, host, () => {
          server.server.off('error', onError);
          const bound = (server.server.address() as AddressInfo).port;
          event('info', { port: bound, host, implicitTls: Boolean(options.implicitTls) }, 'smtp.listening');
          resolve(bound);
        });
      });
    },
    close(graceMs = 10_000) {
      (server as unknown as { options: { closeTimeout: number } }).options.closeTimeout = graceMs;
      return new Promise((resolve) => server.close(() => {
        event('info', {}, 'smtp.closed');
        resolve();
      }));
    },
  };
}
