import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import { silentLogger, systemClock, type Clock, type Logger, type MtaStsPolicy, type MtaStsPolicyStore } from '@palabre/core';
import type { DnsResolver } from '../auth-results/dns-resolver.js';
import { resolverLookup } from './dns-lookup.js';

/**
 * RFC 8461 (MTA-STS) for outbound delivery: the `_mta-sts` TXT record through our resolver, the policy
 * fetched over HTTPS from `mta-sts.<domain>` with a verified certificate, no redirect, a size limit and
 * a deadline, parsed to the letter of §3.2, and kept in the database (`MtaStsPolicyStore`) for its
 * max_age so that every node applies what any node learnt, and a policy host knocked offline later
 * changes nothing until the policy expires (§5.1).
 */

export interface MtaStsVerdict {
  /** Hosts we may use (all of them unless an enforced policy excludes some). */
  readonly allowed: (host: string) => boolean;
  /** Enforced policy: TLS with a valid certificate for the MX name is required. */
  readonly requireTls: boolean;
  readonly mode: 'enforce' | 'testing' | 'none';
  /** Whether the policy lists this host (true without a policy); in testing mode a miss is only reported. */
  readonly matches: (host: string) => boolean;
  /** The policy in force, when there is one (TLS-RPT names it). */
  readonly policy: MtaStsPolicy | null;
}

export interface StsFetchOptions {
  /** Port of the policy host (443; tests point elsewhere). */
  readonly port?: number;
  /** The whole fetch, connection to last byte (default 20 s; RFC 8461 §3.3 asks for a timeout). */
  readonly timeoutMs?: number;
  /** Largest policy file read (default 64 KiB). */
  readonly maxBytes?: number;
  /** Trusted roots besides the system's (a private PKI, tests). */
  readonly ca?: readonly (string | Buffer)[];
}

export const DEFAULT_STS_MAX_BYTES = 64 * 1024;
export const DEFAULT_STS_TIMEOUT_MS = 20_000;
const MAX_AGE_LIMIT = 31_557_600;

const NONE: MtaStsVerdict = { allowed: () => true, matches: () => true, requireTls: false, mode: 'none', policy: null };

/** Why a policy could not be had (TLS-RPT §4.3 result types for the fetch failures). */
export type StsFetchFailure = 'sts-policy-fetch-error' | 'sts-policy-invalid' | 'sts-webpki-invalid';

export class StsFetchError extends Error {
  constructor(
    readonly failure: StsFetchFailure,
    message: string,
  ) {
    super(message);
    this.name = 'StsFetchError';
  }
}

const TXT_EXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const TXT_EXT_VALUE = /^[\x21-\x3a\x3c\x3e-\x7e]+$/;

/**
 * RFC 8461 §3.1: of the TXT records at `_mta-sts.<domain>`, those starting with `v=STSv1` count; anything
 * but exactly one, or one that breaks the grammar, means the domain has no policy available.
 */
export function parseStsRecord(answers: readonly (readonly string[] | string)[]): { id: string } | null {
  const texts = answers.map((a) => (Array.isArray(a) ? a.join('') : String(a))).filter((t) => /^v=STSv1(?:[ \t]*;|$)/.test(t));
  if (texts.length !== 1) return null;
  const fields = texts[0]!.split(';').map((f) => f.replace(/^[ \t]+|[ \t]+$/g, ''));
  if (fields[fields.length - 1] === '') fields.pop(); // a trailing delimiter is allowed
  if (fields[0] !== 'v=STSv1' || fields.length < 2) return null;
  let id: string | null = null;
  for (const field of fields.slice(1)) {
    const eq = field.indexOf('=');
    if (eq <= 0) return null;
    const name = field.slice(0, eq);
    const value = field.slice(eq + 1);
    if (name === 'id') {
      if (id !== null || !/^[A-Za-z0-9]{1,32}$/.test(value)) return null;
      id = value;
    } else if (!TXT_EXT_NAME.test(name) || !TXT_EXT_VALUE.test(value)) {
      return null;
    }
  }
  return id ? { id } : null;
}

const LDH_DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
const POLICY_EXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;

/**
 * RFC 8461 §3.2, strictly: `key: value` lines ended by LF or CRLF, `version: STSv1`, `mode`, `max_age`
 * (at most one year) once each, `mx:` patterns (needed unless mode is none), other well-formed
 * extension keys ignored. Anything else (a bare CR, a line without a colon, a blank line inside, a
 * value with spaces, a repeated key) makes the whole policy invalid: never guess at a security policy.
 */
export function parseStsPolicy(text: string): { mode: MtaStsPolicy['mode']; mx: string[]; maxAge: number } | null {
  const lines = text.split('\n');
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) return null;
  let version: string | null = null;
  let mode: string | null = null;
  let maxAge: number | null = null;
  const mx: string[] = [];
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.includes('\r')) return null;
    const m = /^([A-Za-z0-9_.-]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (!m) return null;
    const [, key, value] = m as unknown as [string, string, string];
    switch (key) {
      case 'version':
        if (version !== null) return null;
        version = value;
        break;
      case 'mode':
        if (mode !== null) return null;
        mode = value;
        break;
      case 'max_age':
        if (maxAge !== null || !/^[0-9]{1,10}$/.test(value)) return null;
        maxAge = Number(value);
        break;
      case 'mx': {
        const host = value.startsWith('*.') ? value.slice(2) : value;
        if (!LDH_DOMAIN.test(host)) return null;
        mx.push(value.toLowerCase());
        break;
      }
      default:
        if (!POLICY_EXT_NAME.test(key) || !/^[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*$/.test(value)) return null;
    }
  }
  if (version !== 'STSv1' || maxAge === null || maxAge > MAX_AGE_LIMIT) return null;
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none') return null;
  if (mode !== 'none' && mx.length === 0) return null;
  if (mx.length > 64) return null;
  return { mode, mx, maxAge };
}

/** RFC 8461 §4.1: an exact name, or `*.` matching exactly one more label on the left. */
export function mxMatches(pattern: string, host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  const p = pattern.toLowerCase();
  if (!p.startsWith('*.')) return h === p;
  const rest = p.slice(1); // ".example.org"
  return h.endsWith(rest) && h.length > rest.length && !h.slice(0, h.length - rest.length).includes('.');
}

/**
 * GET https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 §3.3): the host name resolved
 * through our resolver, its certificate verified for that name, 200 with text/plain only (a redirect is
 * not followed), at most `maxBytes`, all within `timeoutMs`.
 */
export function fetchStsPolicy(domain: string, resolver: DnsResolver, options: StsFetchOptions = {}): Promise<string> {
  const host = `mta-sts.${domain}`;
  const maxBytes = options.maxBytes ?? DEFAULT_STS_MAX_BYTES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_STS_TIMEOUT_MS;
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | null, text?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        req.destroy();
        reject(error);
      } else resolve(text!);
    };
    const req = request(
      {
        host,
        port: options.port ?? 443,
        path: '/.well-known/mta-sts.txt',
        method: 'GET',
        servername: host,
        lookup: resolverLookup(resolver) as never,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        ...(options.ca?.length ? { ca: [...rootCertificates, ...options.ca] } : {}),
        headers: { 'user-agent': 'Palabre MTA-STS', accept: 'text/plain' },
        agent: false,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          res.resume();
          return finish(new StsFetchError('sts-policy-fetch-error', status >= 300 && status < 400 ? `redirect (${status}) not followed` : `HTTP ${status}`));
        }
        const type = String(res.headers['content-type'] ?? '').toLowerCase();
        if (!/^text\/plain\s*(;|$)/.test(type)) {
          res.resume();
          return finish(new StsFetchError('sts-policy-invalid', `content type ${type.slice(0, 60) || 'missing'}, not text/plain`));
        }
        const declared = Number(res.headers['content-length'] ?? 0);
        if (declared > maxBytes) return finish(new StsFetchError('sts-policy-invalid', `policy larger than ${maxBytes} bytes`));
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) return finish(new StsFetchError('sts-policy-invalid', `policy larger than ${maxBytes} bytes`));
          chunks.push(chunk);
        });
        res.on('end', () => finish(null, Buffer.concat(chunks).toString('utf8')));
        res.on('error', (error) => finish(new StsFetchError('sts-policy-fetch-error', error.message)));
      },
    );
    const timer = setTimeout(() => finish(new StsFetchError('sts-policy-fetch-error', `no policy within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (error: Error & { code?: string }) => {
      const tls = /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_VERIFY|ERR_TLS/i.test(error.code ?? '') || /certificate/i.test(error.message);
      finish(new StsFetchError(tls ? 'sts-webpki-invalid' : 'sts-policy-fetch-error', error.message));
    });
    req.end();
  });
}

export interface MtaStsOptions {
  readonly store: MtaStsPolicyStore;
  readonly resolver: DnsResolver;
  readonly fetch?: StsFetchOptions;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Told about every failed fetch (TLS-RPT counts them). */
  readonly onFetchFailure?: (domain: string, failure: StsFetchFailure, reason: string) => void;
}

/** The RFC 8461 §5.1 control flow over the shared policy store. */
export class MtaSts {
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly options: MtaStsOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger).child({ component: 'mta-sts' });
  }

  async verdict(domain: string): Promise<MtaStsVerdict> {
    const now = this.clock.now().getTime();
    const stored = await this.options.store.get(domain).catch(() => null);
    const cached = stored && stored.fetchedAt.getTime() + stored.maxAge * 1000 > now ? stored : null;
    let record: { id: string } | null = null;
    try {
      record = parseStsRecord((await this.options.resolver(`_mta-sts.${domain}`, 'TXT')) as string[][]);
    } catch {
      // No record, or DNS trouble: a policy still in force stays in force (§5.1).
    }
    if (!record || (cached && cached.id === record.id)) return toVerdict(cached);
    try {
      const parsed = parseStsPolicy(await fetchStsPolicy(domain, this.options.resolver, this.options.fetch));
      if (!parsed) throw new StsFetchError('sts-policy-invalid', 'the policy file does not follow RFC 8461 §3.2');
      const policy: MtaStsPolicy = { domain, id: record.id, ...parsed, fetchedAt: new Date(now) };
      await this.options.store.put(policy);
      this.log.info({ domain, id: record.id, mode: policy.mode, maxAge: policy.maxAge }, 'mta-sts.policy-fetched');
      return toVerdict(policy);
    } catch (error) {
      const failure = error instanceof StsFetchError ? error.failure : 'sts-policy-fetch-error';
      const reason = (error as Error).message;
      this.log.warn({ domain, failure, reason, cached: Boolean(cached) }, 'mta-sts.policy-failed');
      this.options.onFetchFailure?.(domain, failure, reason);
      return toVerdict(cached);
    }
  }
}

function toVerdict(policy: MtaStsPolicy | null): MtaStsVerdict {
  if (!policy || policy.mode === 'none') return { ...NONE, policy };
  const matches = (host: string) => policy.mx.some((p) => mxMatches(p, host));
  if (policy.mode === 'testing') return { allowed: () => true, matches, requireTls: false, mode: 'testing', policy };
  return { allowed: matches, matches, requireTls: true, mode: 'enforce', policy };
}
