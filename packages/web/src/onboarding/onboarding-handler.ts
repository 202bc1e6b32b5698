import type { IncomingMessage, ServerResponse } from 'node:http';
import { lazyChild, silentLogger, type HttpAuthenticator, type Logger } from '@palabre/core';
import { toWebError, WebError } from '../errors.js';
import { dropUnreadBody, readSmallBody } from '../http-body.js';
import { WEB_LOG_EVENTS } from '../log-events.js';
import { autoconfigXml } from './autoconfig.js';
import { AutodiscoverError, autodiscoverErrorXml, autodiscoverJson, autodiscoverXml, MAX_AUTODISCOVER_BODY, parseAutodiscoverRequest } from './autodiscover.js';
import type { CmsSigner } from './cms-signature.js';
import type { OnboardingEndpoints } from './endpoints.js';
import { mobileconfigPlist } from './mobileconfig.js';
import { domainOfHost, hostedDomain, requestedAddress, type DomainDirectory } from './requested-address.js';

export interface OnboardingHandlerOptions {
  /** The listeners as configured; a function when they are known only once bound. */
  readonly endpoints: OnboardingEndpoints | (() => OnboardingEndpoints);
  /** Which domains (and domain aliases) are hosted: answers exist for those only. */
  readonly directory: DomainDirectory;
  /** HTTP Basic/Bearer, for the configuration profile (which names the user). */
  readonly authenticator: HttpAuthenticator;
  /** Signs configuration profiles (the server certificate); null sends them unsigned. */
  readonly signer?: CmsSigner | null;
  /** HTTPS, or loopback development allowed by configuration: passwords may be checked. */
  readonly isSecure: (req: IncomingMessage) => boolean;
  /** Shown in mail apps and on the profile, e.g. "Gouvernement". */
  readonly organization?: string;
  readonly logger?: Logger;
}

export interface OnboardingHandler {
  (req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** True for the paths this handler answers, so a host router can send them here. */
  handles(path: string): boolean;
}

/** Where an Apple device downloads its configuration profile. */
export const MOBILECONFIG_PATH = '/onboarding/palabre.mobileconfig';

const AUTOCONFIG = /^\/(\.well-known\/autoconfig\/)?mail\/config-v1\.1\.xml$/;
const AUTODISCOVER_XML = /^\/autodiscover\/autodiscover\.xml$/i;
const AUTODISCOVER_JSON = /^\/autodiscover\/autodiscover\.json(?:\/v1\.0\/([^/]*))?$/i;

type Route = 'autoconfig' | 'autodiscover' | 'autodiscover-json' | 'mobileconfig';

function routeOf(path: string): Route | null {
  if (AUTOCONFIG.test(path)) return 'autoconfig';
  if (AUTODISCOVER_XML.test(path)) return 'autodiscover';
  if (AUTODISCOVER_JSON.test(path)) return 'autodiscover-json';
  if (path === MOBILECONFIG_PATH) return 'mobileconfig';
  return null;
}

const METHODS: Record<Route, readonly string[]> = {
  autoconfig: ['GET', 'HEAD'],
  autodiscover: ['POST'],
  'autodiscover-json': ['GET', 'HEAD'],
  mobileconfig: ['GET', 'HEAD'],
};

/** One query parameter, given at most once (a repeated one is a 400, not a guess at which to use). */
function single(query: URLSearchParams, name: string): string | null {
  const all = [...query.entries()].filter(([key]) => key.toLowerCase() === name.toLowerCase());
  if (all.length > 1) throw new WebError(400, `${name} given more than once`);
  return all[0]?.[1] ?? null;
}

function remoteAddress(req: IncomingMessage): string | null {
  return req.socket?.remoteAddress ?? null;
}

/**
 * Client onboarding on the main HTTP listener: Thunderbird autoconfig, Outlook autodiscover (POX and
 * v2 JSON) and the Apple configuration profile. The first three are public, as their protocols need
 * (a client asks before it has a password) and describe only the domain asked about; the profile
 * names the user, so it is given to that user only, after HTTP authentication.
 */
export function createOnboardingHandler(options: OnboardingHandlerOptions): OnboardingHandler {
  const organization = options.organization ?? 'Palabre';
  const log = options.logger ?? silentLogger;
  const endpoints = () => (typeof options.endpoints === 'function' ? options.endpoints() : options.endpoints);

  const send = (req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}) => {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    dropUnreadBody(req, res);
    res.writeHead(status, {
      'content-type': type,
      'content-length': String(bytes.length),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers,
    });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  };

  const domainAsked = (req: IncomingMessage, query: URLSearchParams): string => {
    const raw = single(query, 'emailaddress');
    if (raw !== null) return requestedAddress(raw).domain;
    const fromHost = domainOfHost(req);
    if (!fromHost) throw new WebError(400, 'an emailaddress parameter is required');
    return fromHost;
  };

  async function answer(route: Route, req: IncomingMessage, res: ServerResponse, url: URL): Promise<string | undefined> {
    switch (route) {
      case 'autoconfig': {
        const domain = await hostedDomain(options.directory, domainAsked(req, url.searchParams));
        send(req, res, 200, 'application/xml; charset=utf-8', autoconfigXml(endpoints(), domain, organization));
        return domain;
      }
      case 'autodiscover': {
        let request;
        try {
          request = parseAutodiscoverRequest(await readSmallBody(req, MAX_AUTODISCOVER_BODY));
        } catch (error) {
          // Malformed XML (or an unanswerable request) gets the protocol's own error document.
          const e = toWebError(error);
          if (e.status !== 400 && !(error instanceof AutodiscoverError)) throw e;
          send(req, res, 400, 'text/xml; charset=utf-8', autodiscoverErrorXml(new Date()));
          return undefined;
        }
        const address = requestedAddress(request.emailAddress);
        await hostedDomain(options.directory, address.domain);
        send(req, res, 200, 'text/xml; charset=utf-8', autodiscoverXml(endpoints(), address.address));
        return address.domain;
      }
      case 'autodiscover-json': {
        const match = AUTODISCOVER_JSON.exec(url.pathname)!;
        let raw: string | null;
        try {
          raw = match[1] !== undefined ? decodeURIComponent(match[1]) : single(url.searchParams, 'email');
        } catch {
          throw new WebError(400, 'malformed percent-encoding');
        }
        const address = requestedAddress(raw);
        await hostedDomain(options.directory, address.domain);
        const { status, body } = autodiscoverJson(endpoints(), single(url.searchParams, 'protocol'));
        send(req, res, status, 'application/json; charset=utf-8', JSON.stringify(body));
        return address.domain;
      }
      case 'mobileconfig': {
        const outcome = await options.authenticator.authenticate({
          authorization: req.headers.authorization,
          ip: remoteAddress(req),
          secure: options.isSecure(req),
        });
        if (!outcome.ok) {
          const headers: Record<string, string | readonly string[]> = {};
          if (outcome.status === 401) headers['www-authenticate'] = options.authenticator.challenges();
          if (outcome.status === 429) headers['retry-after'] = String(Math.max(1, Math.ceil((outcome.retryAfterMs ?? 1000) / 1000)));
          const message = { 401: 'sign in with your address and password', 403: 'use HTTPS to sign in', 429: 'too many failed sign-ins; try again later', 503: 'the directory cannot be reached' }[outcome.status];
          throw new WebError(outcome.status, message, { headers });
        }
        const principal = outcome.principal;
        const plist = Buffer.from(mobileconfigPlist(endpoints(), { address: principal.address, displayName: principal.displayName }, { organization }), 'utf8');
        const body = options.signer ? await options.signer.sign(plist) : plist;
        send(req, res, 200, 'application/x-apple-aspen-config', body, { 'content-disposition': 'attachment; filename="palabre.mobileconfig"' });
        return principal.address.slice(principal.address.lastIndexOf('@') + 1);
      }
    }
  }

  const handler = (async (req: IncomingMessage, res: ServerResponse) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://onboarding.invalid');
    } catch {
      url = new URL('http://onboarding.invalid/');
    }
    const route = routeOf(url.pathname);
    const method = req.method ?? 'GET';
    const requestLog = lazyChild(log, { route, method });
    let domain: string | undefined;
    try {
      if (!route) throw new WebError(404, 'not found');
      if (!METHODS[route].includes(method)) throw new WebError(405, `${METHODS[route].join(', ')} only`, { headers: { allow: METHODS[route].join(', ') } });
      domain = await answer(route, req, res, url);
      requestLog.info({ status: res.statusCode, domain }, WEB_LOG_EVENTS.onboarding);
    } catch (error) {
      const e = toWebError(error);
      if (e.status >= 500) requestLog.error({ status: e.status, err: (e.cause as Error | undefined)?.message }, WEB_LOG_EVENTS.error);
      else requestLog.info({ status: e.status, reason: e.message }, WEB_LOG_EVENTS.onboarding);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      send(req, res, e.status, 'text/plain; charset=utf-8', `${e.message}\n`, e.headers as Record<string, string>);
    }
  }) as OnboardingHandler;
  handler.handles = (path: string) => routeOf(path) !== null;
  return handler;
}
