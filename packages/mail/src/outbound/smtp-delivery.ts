import type { Readable } from 'node:stream';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { TlsaRecord } from '../dns/dnssec-resolver.js';
import { peerChain, verifyDane } from './dane.js';

export interface RemoteTarget {
  /** The server's name: what its certificate must carry (the MX host name). */
  readonly host: string;
  /** Where to connect when already resolved (default: `host`). */
  readonly address?: string;
  /** Certificate authorities trusted besides the system's (a private PKI, tests). */
  readonly ca?: readonly (string | Buffer)[];
  readonly port: number;
  /** Implicit TLS (465-style). */
  readonly secure?: boolean;
  /** Refuse to send without TLS (MTA-STS enforce, a smarthost). */
  readonly requireTls: boolean;
  /** Check the certificate against `host` (MTA-STS enforce, a smarthost unless told otherwise). */
  readonly verifyCertificate: boolean;
  readonly auth?: { readonly user: string; readonly pass: string } | null;
  /**
   * RFC 7672: the host's DNSSEC-validated usable TLSA records and the names a DANE-TA chain may carry.
   * TLS is then required and the certificate is checked against them alone (not against the WebPKI).
   */
  readonly dane?: { readonly records: readonly TlsaRecord[]; readonly names: readonly string[] } | null;
}

export interface RecipientReply {
  readonly address: string;
  readonly status: 'delivered' | 'failed' | 'pending';
  readonly code: number | null;
  readonly enhanced: string | null;
  readonly diagnostic: string;
}

export type AttemptResult =
  /** The transaction ran: one reply per recipient. */
  | {
      readonly kind: 'replies';
      readonly replies: readonly RecipientReply[];
      readonly tls: boolean;
      /** Why the server's certificate would not have been accepted, when TLS ran unverified (TLS-RPT). */
      readonly certificateError?: string | null;
    }
  /** Nothing was sent to this host (connection, TLS, 4xx/5xx on MAIL or DATA). */
  | {
      readonly kind: 'failed';
      readonly permanent: boolean;
      readonly code: number | null;
      readonly enhanced: string | null;
      readonly diagnostic: string;
      /** No TLS session with a certificate we accept could be set up (RFC 8689 and MTA-STS need one). */
      readonly tlsFailure?: boolean;
      /** The session's certificate matched none of the host's TLSA records (RFC 8460 `tlsa-invalid`). */
      readonly daneMismatch?: boolean;
    };

export interface AttemptOptions {
  readonly hostname: string;
  readonly sender: string;
  readonly recipients: readonly { readonly address: string; readonly notify?: readonly string[] | null; readonly orcpt?: string | null }[];
  readonly size: number;
  readonly envId?: string | null;
  readonly ret?: string | null;
  readonly open: () => Promise<Readable>;
  readonly timeoutMs?: number;
  /** RFC 8689: MAIL FROM … REQUIRETLS; a server that does not offer REQUIRETLS gets nothing. */
  readonly requireTlsExtension?: boolean;
}

const enhancedOf = (text: string | undefined) => /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(text ?? '')?.[1] ?? null;
const oneLine = (text: string | undefined) => (text ?? '').replace(/\s+/g, ' ').trim().slice(0, 900);

/**
 * One SMTP transaction with one host (nodemailer's SMTPConnection): opportunistic STARTTLS (required
 * when told), AUTH for a smarthost, DSN parameters passed on, per-recipient replies kept.
 */
export async function attemptDelivery(target: RemoteTarget, options: AttemptOptions): Promise<AttemptResult> {
  const timeout = options.timeoutMs ?? 300_000;
  const dane = target.dane ?? null;
  const requireTls = target.requireTls || dane !== null;
  const connection = new SMTPConnection({
    host: target.address ?? target.host,
    port: target.port,
    secure: target.secure ?? false,
    requireTLS: requireTls,
    opportunisticTLS: !requireTls,
    name: options.hostname,
    connectionTimeout: 60_000,
    greetingTimeout: 60_000,
    socketTimeout: timeout,
    tls: {
      // Under DANE the TLSA records are the trust anchors: the chain is checked after the handshake.
      rejectUnauthorized: target.verifyCertificate && dane === null,
      // RFC 6066: no IP literal as server name (a smarthost given by address). RFC 7672 §8.1: SNI is sent under DANE.
      servername: isIP(target.host) ? undefined : target.host,
      minVersion: 'TLSv1.2',
      ...(target.ca?.length ? { ca: [...rootCertificates, ...target.ca] } : {}),
    },
    logger: false,
  });
  let tls = false;
  const fail = (error: unknown): AttemptResult => {
    const e = error as { responseCode?: number; response?: string; message?: string; code?: string; command?: string };
    const code = typeof e.responseCode === 'number' ? e.responseCode : null;
    // Only the destination's verdict on this message is final; a refused login or TLS is ours to fix.
    const aboutMessage = /^(MAIL FROM|RCPT TO|DATA)/i.test(e.command ?? '');
    // RFC 8689 §5: the next hop does not offer REQUIRETLS: that is its answer, and it is final.
    if (e.code === 'EREQUIRETLS') return { kind: 'failed', permanent: true, code: 550, enhanced: '5.7.30', diagnostic: `550 5.7.30 REQUIRETLS support required: ${oneLine(e.message)}` };
    return {
      tlsFailure: e.code === 'ETLS' || (requireTls && !tls && e.code !== 'ECONNECTION' && e.code !== 'ETIMEDOUT' && /certificate|self[- ]signed|altname|TLS|SSL/i.test(e.message ?? '')),
      kind: 'failed',
      permanent: aboutMessage && code !== null && code >= 500,
      code,
      enhanced: enhancedOf(e.response),
      diagnostic: oneLine(e.response ?? `${e.code ?? 'error'}: ${e.message ?? String(error)}`),
    };
  };
  try {
    await new Promise<void>((resolve, reject) => {
      connection.once('error', reject);
      connection.connect(() => {
        connection.removeListener('error', reject);
        resolve();
      });
    });
    connection.on('error', () => undefined);
    tls = Boolean((connection as unknown as { secure?: boolean }).secure);
    const socket = (connection as unknown as { _socket?: { authorized?: boolean; authorizationError?: unknown; getPeerCertificate?: (detailed: boolean) => unknown } })._socket;
    if (dane) {
      // Checked before MAIL FROM: nothing of the message reaches a server the TLSA records do not vouch for.
      const verdict = tls && socket?.getPeerCertificate ? verifyDane(peerChain(socket.getPeerCertificate(true) as never), dane.records, dane.names) : { ok: false as const, reason: 'no TLS session' };
      if (!verdict.ok) {
        return { kind: 'failed', permanent: false, code: null, enhanced: '4.7.5', diagnostic: `DANE: the certificate of ${target.host} does not match its TLSA records (${verdict.reason})`, tlsFailure: true, daneMismatch: true };
      }
    }
    if (target.auth) {
      await new Promise<void>((resolve, reject) => connection.login({ user: target.auth!.user, pass: target.auth!.pass }, (err) => (err ? reject(err) : resolve())));
    }
    const stream = await options.open();
    const info = await new Promise<{ accepted: string[]; rejected: string[]; rejectedErrors?: { recipient?: string; responseCode?: number; response?: string }[]; response: string }>(
      (resolve, reject) =>
        connection.send(
          {
            from: options.sender,
            to: options.recipients.map((r) => r.address),
            size: options.size,
            requireTLSExtensionEnabled: options.requireTlsExtension === true,
            dsn: {
              ret: options.ret ?? undefined,
              envid: options.envId ?? undefined,
              notify: options.recipients[0]?.notify ? [...options.recipients[0].notify] : undefined,
              orcpt: options.recipients[0]?.orcpt ?? undefined,
            },
          } as never,
          stream,
          (err, result) => (err ? reject(err) : resolve(result as never)),
        ),
    );
    const rejected = new Map((info.rejectedErrors ?? []).map((e) => [String(e.recipient ?? '').toLowerCase(), e]));
    const replies: RecipientReply[] = options.recipients.map((r) => {
      const e = rejected.get(r.address.toLowerCase());
      if (e) {
        const code = e.responseCode ?? 450;
        return { address: r.address, status: code >= 500 ? 'failed' : 'pending', code, enhanced: enhancedOf(e.response), diagnostic: oneLine(e.response) };
      }
      return { address: r.address, status: 'delivered', code: 250, enhanced: enhancedOf(info.response), diagnostic: oneLine(info.response) };
    });
    // Unverified TLS still checks the chain and the name (Node sets authorizationError): what a policy
    // in testing mode reports. A DANE-verified session has no WebPKI error to report.
    const certificateError = !dane && tls && socket && socket.authorized === false ? String(socket.authorizationError ?? 'unverified') : null;
    return { kind: 'replies', replies, tls, certificateError };
  } catch (error) {
    const e = error as { code?: string; rejectedErrors?: { recipient?: string; responseCode?: number; response?: string }[] };
    // Every recipient refused at RCPT: per-recipient replies, not a host failure.
    if (e.code === 'EENVELOPE' && e.rejectedErrors?.length) {
      const rejected = new Map(e.rejectedErrors.map((x) => [String(x.recipient ?? '').toLowerCase(), x]));
      return {
        kind: 'replies',
        tls,
        replies: options.recipients.map((r) => {
          const x = rejected.get(r.address.toLowerCase());
          const code = x?.responseCode ?? 450;
          return { address: r.address, status: code >= 500 ? 'failed' : 'pending', code, enhanced: enhancedOf(x?.response), diagnostic: oneLine(x?.response) };
        }),
      };
    }
    return fail(error);
  } finally {
    try {
      connection.quit();
    } catch {
      connection.close();
    }
  }
}
