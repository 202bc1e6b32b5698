import { createHttpAuthenticator } from '@palabre/auth';
import { CmsSigner, createOnboardingHandler, MOBILECONFIG_PATH, type MailListener, type OnboardingEndpoints } from '@palabre/web';
import type { PalabreConfig } from '@palabre/core';
import type { ServiceSetup } from './services.js';

/** The listeners as this configuration opens them: what every onboarding answer describes. */
export function onboardingEndpoints(config: PalabreConfig, httpTls: boolean, httpPort: number): OnboardingEndpoints {
  const mail = (pairs: [number, MailListener['socket']][]): MailListener[] =>
    pairs.filter(([port]) => port !== 0).map(([port, socket]) => ({ port, socket }));
  return {
    hostname: config.hostname,
    // IMAP and submission always offer STARTTLS on their plain ports (see services/imap.ts, smtp.ts).
    imap: mail([
      [config.ports.imaps, 'SSL'],
      [config.ports.imap, 'STARTTLS'],
    ]),
    submission: mail([
      [config.ports.submissions, 'SSL'],
      [config.ports.submission, 'STARTTLS'],
    ]),
    http: httpPort === 0 ? null : { port: httpPort, tls: httpTls },
    davPath: '/dav/',
  };
}

/**
 * Thunderbird autoconfig, Outlook autodiscover and the Apple profile on the HTTP port. The profile is
 * signed with the HTTP certificate when HTTPS is on; unsigned (and so shown "Not Verified") otherwise.
 */
export async function mountOnboarding(setup: ServiceSetup): Promise<void> {
  const { ctx, http, tls, insecureAuth } = setup;
  const logger = ctx.logger.child({ service: 'onboarding' });
  let signer: CmsSigner | null = null;
  if (tls) {
    try {
      signer = await CmsSigner.create({ cert: tls.cert, key: tls.key });
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'web.error');
    }
  }
  const handler = createOnboardingHandler({
    endpoints: () => onboardingEndpoints(ctx.config, tls !== null, http.port),
    directory: ctx.stores.directory,
    authenticator: createHttpAuthenticator(ctx.authenticator),
    signer,
    isSecure: () => tls !== null || insecureAuth,
    logger,
  });
  const claims = (path: string) => handler.handles(path);
  for (const prefix of ['/.well-known/autoconfig/', '/mail/config-v1.1.xml', '/autodiscover/', '/Autodiscover/']) {
    http.mount(prefix, handler, undefined, claims);
  }
  http.mount(
    '/onboarding/',
    handler,
    (user) => [
      `onboarding: ${http.origin}${MOBILECONFIG_PATH} (Apple profile${signer ? ', signed' : ''}; sign in as ${user ?? '<your address>'})`,
    ],
    claims,
  );
}
