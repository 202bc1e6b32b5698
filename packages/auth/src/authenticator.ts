import { createHash } from 'node:crypto';
import {
  type Account,
  type Principal,
  type Argon2Config,
  type AuditLog,
  type AuthContext,
  type AuthFailureReason,
  type AuthResult,
  type Authenticator,
  type Clock,
  type DirectoryStore,
  type LdapConfig,
  type Logger,
  type Metrics,
  type ThrottleStore,
  normalizeDomain,
  parseAddress,
  silentLogger,
  systemClock,
  toPrincipal,
} from '@palabre/core';
import { authMeasures } from './auth-metrics.js';
import { CredentialCache, ExpiringSet } from './credential-cache.js';
import { LdapPasswordSource } from './ldap.js';
import type { AuthLogEvent } from './log-events.js';
import { DEFAULT_ARGON2, MAX_PASSWORD_BYTES, burnVerification, hashPassword, needsRehash, verifyPasswordHash } from './password-hash.js';
import { canonicalAppPassword, secretHash, TOKEN_PATTERN } from './secrets.js';
import { DEFAULT_THROTTLE_POLICY, LoginThrottle, clientNetwork, type LoginAttempt, type ThrottlePolicy } from './throttle.js';

export interface AuthenticatorOptions {
  directory: DirectoryStore;
  throttle: ThrottleStore;
  audit: AuditLog;
  clock?: Clock;
  logger?: Logger;
  /** Refusals and lockouts (palabre_auth_failures_total, palabre_auth_lockouts_total). */
  metrics?: Metrics;
  argon2?: Argon2Config;
  throttlePolicy?: Partial<ThrottlePolicy>;
  /** Per-domain directory binds (keys: domain names, any form). Other domains use local hashes. */
  ldap?: Record<string, LdapConfig>;
  /** Cache successful verifications this long (0 disables). Default 5 minutes. */
  cacheTtlMs?: number;
  /**
   * Reuse a whole successful decision (no database access at all) for this long: a password change,
   * a suspension or a revoked app password reaches clients that are already signed in within this
   * delay. Default 30 s; 0 disables.
   */
  decisionTtlMs?: number;
}

const MAX_USERNAME_BYTES = 320;

type SuccessMethod = 'password' | 'app-password' | 'ldap' | 'token';

/**
 * The one Authenticator: local argon2id hashes, per-device app passwords and bearer tokens, LDAP for
 * domains that keep their passwords in a ministry directory; throttled per client address, per name
 * and address, and per name for unknown devices (see LoginThrottle); every decision audited.
 * Refusals, their sequence and their time do not say whether the account exists.
 */
export class PalabreAuthenticator implements Authenticator {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly argon2: Argon2Config;
  readonly throttle: LoginThrottle;
  private readonly cache: CredentialCache;
  /** Successes already recorded recently, per account, address, protocol and method. */
  private readonly recentSuccesses: ExpiringSet;
  /**
   * Recent successful decisions by a hash of (login, secret, client network): DAV clients authenticate
   * every request. The network is part of the key so that a throttled address never gets a password
   * checked through another device's decision.
   */
  private readonly decisions = new Map<string, { principal: Principal; method: SuccessMethod; until: number }>();
  private readonly decisionTtlMs: number;
  private readonly ldap = new Map<string, LdapPasswordSource>();
  private readonly measures: ReturnType<typeof authMeasures>;

  constructor(private readonly options: AuthenticatorOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger).child({ component: 'auth' });
    this.argon2 = options.argon2 ?? DEFAULT_ARGON2;
    this.throttle = new LoginThrottle(options.throttle, { ...DEFAULT_THROTTLE_POLICY, ...options.throttlePolicy });
    this.cache = new CredentialCache(options.cacheTtlMs ?? 5 * 60_000);
    this.recentSuccesses = new ExpiringSet(options.cacheTtlMs ?? 5 * 60_000);
    this.decisionTtlMs = options.decisionTtlMs ?? 30_000;
    this.measures = authMeasures(options.metrics);
    for (const [domain, config] of Object.entries(options.ldap ?? {})) this.ldap.set(normalizeDomain(domain), new LdapPasswordSource(config));
  }

  private event(level: 'info' | 'warn', event: AuthLogEvent, fields: Record<string, unknown>): void {
    this.log[level](fields, event);
  }

  private async audit(
    type: 'auth.success' | 'auth.failure' | 'auth.throttled' | 'auth.locked',
    actor: string,
    context: AuthContext,
    detail: string,
  ): Promise<void> {
    try {
      await this.options.audit.record({
        type,
        actor,
        ip: context.ip ?? null,
        protocol: context.protocol,
        target: null,
        detail: context.mechanism ? `${detail} (${context.mechanism})` : detail,
      });
    } catch (error) {
      // An audit-store outage must not turn into an authentication bypass or an outage of logins.
      this.log.warn({ err: (error as Error).message }, 'auth.error' satisfies AuthLogEvent);
    }
  }

  private async refuse(
    reason: AuthFailureReason,
    actor: string,
    attempt: LoginAttempt | null,
    context: AuthContext,
    countFailure: boolean,
  ): Promise<AuthResult> {
    const now = this.clock.now();
    if (countFailure) {
      const { justLocked } = await this.throttle.failure(attempt ?? { name: null, ip: context.ip ?? null }, now);
      if (justLocked) {
        this.measures.lockout(context.protocol);
        this.event('warn', 'auth.locked', { protocol: context.protocol, ip: context.ip });
        await this.audit('auth.locked', actor, context, `locked for ${Math.round(this.throttle.policy.lockoutMs / 60000)} min`);
      }
    }
    this.measures.failure(context.protocol, reason);
    this.event('info', 'auth.failure', { protocol: context.protocol, ip: context.ip, reason });
    await this.audit('auth.failure', actor, context, reason);
    return { ok: false, reason };
  }

  /**
   * The name the throttle counts a login under when no account has it: normalised exactly as
   * findAccount resolves names (case, Unicode, domain aliases), so that no spelling of a name shares
   * a counter with another only when an account exists.
   */
  private async unknownName(username: string): Promise<string> {
    let parsed;
    try {
      parsed = parseAddress(username);
    } catch {
      // Never an account: counted under a digest, so that no control character reaches the store.
      return `?${createHash('sha256').update(username.trim().toLowerCase()).digest('base64url')}`;
    }
    const domain = await this.options.directory.findDomain(parsed.domain).catch(() => null);
    return `${parsed.local}@${domain?.name ?? parsed.domain}`;
  }

  async verifyPassword(username: string, password: string, context: AuthContext): Promise<AuthResult> {
    const actor = typeof username === 'string' ? username.slice(0, MAX_USERNAME_BYTES) : '';
    if (!context.secure) return this.refuse('insecure-channel', actor, null, context, false);
    if (
      typeof username !== 'string' ||
      typeof password !== 'string' ||
      username.length === 0 ||
      password.length === 0 ||
      Buffer.byteLength(username) > MAX_USERNAME_BYTES ||
      Buffer.byteLength(password) > MAX_PASSWORD_BYTES
    ) {
      return this.refuse('invalid-credentials', actor, null, context, true);
    }
    const now = this.clock.now();
    const ip = context.ip ?? null;
    const decisionKey =
      this.decisionTtlMs > 0
        ? createHash('sha256').update(username.toLowerCase()).update('\0').update(password).update('\0').update(ip ? clientNetwork(ip) : '').digest('base64')
        : '';
    const decided = decisionKey ? this.decisions.get(decisionKey) : undefined;
    if (decided && decided.until > now.getTime()) {
      // A success is a success, cached or not: it clears this address's failures for the account.
      await this.throttle.success({ name: decided.principal.address, ip }, now).catch(() => undefined);
      await this.recordSuccess(decided.principal, decided.method, context, now);
      return { ok: true, principal: decided.principal, method: decided.method };
    }
    const account = await this.options.directory.findAccount(username).catch(() => null);
    const attempt: LoginAttempt = { name: account?.address ?? (await this.unknownName(username)), ip };
    // An app password is looked up once, the same way whether or not the account exists.
    const appPassword = canonicalAppPassword(password);
    let appCredential: Promise<boolean> | null = null;
    const isOwnAppPassword = () =>
      (appCredential ??= appPassword
        ? this.options.directory
            .findCredentialBySecretHash(secretHash(appPassword))
            .then(async (found) => {
              if (!found || !account || found.credential.kind !== 'app-password' || found.account.id !== account.id || expired(found.credential.expiresAt, now)) return false;
              await this.options.directory.touchCredential(found.credential.id, now).catch(() => undefined);
              return true;
            })
            .catch(() => false)
        : Promise.resolve(false));
    // The owner's app password (100 bits: nothing to guess) passes the lock meant for guessers.
    const verdict = await this.throttle.check(attempt, now, isOwnAppPassword);
    if (!verdict.allowed) {
      this.measures.failure(context.protocol, 'throttled');
      this.event('info', 'auth.throttled', { protocol: context.protocol, ip: context.ip, key: verdict.key });
      await this.audit('auth.throttled', actor, context, `${verdict.key} ${verdict.locked ? 'locked' : 'back-off'} ${Math.ceil(verdict.retryAfterMs / 1000)} s`);
      return { ok: false, reason: 'throttled', retryAfterMs: verdict.retryAfterMs };
    }
    if (!account) {
      await isOwnAppPassword();
      await burnVerification(password, this.argon2);
      return this.refuse('invalid-credentials', actor, attempt, context, true);
    }

    let method: 'password' | 'app-password' | 'ldap' | null = (await isOwnAppPassword()) ? 'app-password' : null;
    if (!method) {
      const domain = account.address.slice(account.address.lastIndexOf('@') + 1);
      const ldap = this.ldap.get(domain);
      if (ldap) {
        const result = await ldap.verify(account.address, password);
        if (result === 'unavailable') {
          this.event('warn', 'auth.ldap-unavailable', { domain });
          return this.refuse('unavailable', actor, attempt, context, false);
        }
        if (result === 'ok') method = 'ldap';
      } else {
        const hash = await this.options.directory.getPasswordHash(account.id);
        if (!hash) {
          await burnVerification(password, this.argon2);
        } else if (this.cache.has(account.id, hash, password, now.getTime())) {
          method = 'password';
        } else if (await verifyPasswordHash(hash, password)) {
          method = 'password';
          this.cache.remember(account.id, hash, password, now.getTime());
          if (needsRehash(hash, this.argon2)) {
            // Upgrade old hashes transparently while we hold the plaintext.
            await this.options.directory.setPasswordHash(account.id, await hashPassword(password, this.argon2)).catch(() => undefined);
            this.event('info', 'auth.rehash', {});
          }
        }
      }
    }
    if (!method) return this.refuse('invalid-credentials', actor, attempt, context, true);
    // Status is told only to someone who proved the password: it reveals nothing to a guesser.
    if (account.status !== 'active') return this.refuse('account-suspended', actor, attempt, context, false);
    const result = await this.succeed(account, method, context, now, verdict.deviceFailures);
    if (decisionKey && result.ok) {
      if (this.decisions.size >= 50_000) this.decisions.clear();
      this.decisions.set(decisionKey, { principal: result.principal, method: result.method as SuccessMethod, until: now.getTime() + this.decisionTtlMs });
    }
    return result;
  }

  /** `deviceFailures`: this address's failures for the account, when the throttle check read them. */
  private async succeed(
    account: Account,
    method: SuccessMethod,
    context: AuthContext,
    now: Date,
    deviceFailures?: number,
  ): Promise<AuthResult> {
    await this.throttle.success({ name: account.address, ip: context.ip ?? null }, now, deviceFailures).catch(() => undefined);
    const principal = toPrincipal(account);
    await this.recordSuccess(principal, method, context, now);
    return { ok: true, principal, method };
  }

  /**
   * A success is written down (audit event, last login, known device) once per account, client
   * address, protocol and method within the cache period: DAV clients authenticate every request and
   * mail clients reconnect all day, and one audit row per request would bury the events that matter.
   * A new address or protocol is always recorded; every failure always is.
   */
  private async recordSuccess(principal: Principal, method: SuccessMethod, context: AuthContext, now: Date): Promise<void> {
    const key = `${principal.accountId}|${context.ip ?? ''}|${context.protocol}|${method}`;
    if (this.recentSuccesses.seen(key, now.getTime())) return;
    await this.throttle.rememberDevice({ name: principal.address, ip: context.ip ?? null }, now).catch(() => undefined);
    await this.options.directory.recordLogin(principal.accountId, now).catch(() => undefined);
    this.event('info', 'auth.success', { protocol: context.protocol, ip: context.ip, method, accountId: principal.accountId });
    await this.audit('auth.success', principal.address, context, method);
  }

  async verifyBearer(token: string, context: AuthContext): Promise<AuthResult> {
    if (!context.secure) return this.refuse('insecure-channel', 'bearer', null, context, false);
    const now = this.clock.now();
    const verdict = await this.throttle.check({ name: null, ip: context.ip ?? null }, now);
    if (!verdict.allowed) {
      this.measures.failure(context.protocol, 'throttled');
      await this.audit('auth.throttled', 'bearer', context, `ip back-off ${Math.ceil(verdict.retryAfterMs / 1000)} s`);
      return { ok: false, reason: 'throttled', retryAfterMs: verdict.retryAfterMs };
    }
    if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) return this.refuse('invalid-credentials', 'bearer', null, context, true);
    const found = await this.options.directory.findCredentialBySecretHash(secretHash(token));
    if (!found || found.credential.kind !== 'token' || expired(found.credential.expiresAt, now)) {
      return this.refuse('invalid-credentials', 'bearer', null, context, true);
    }
    if (found.account.status !== 'active') return this.refuse('account-suspended', found.account.address, null, context, false);
    await this.options.directory.touchCredential(found.credential.id, now).catch(() => undefined);
    return this.succeed(found.account, 'token', context, now);
  }
}

function expired(expiresAt: Date | null, now: Date): boolean {
  return expiresAt !== null && expiresAt.getTime() <= now.getTime();
}

export function createAuthenticator(options: AuthenticatorOptions): PalabreAuthenticator {
  return new PalabreAuthenticator(options);
}
