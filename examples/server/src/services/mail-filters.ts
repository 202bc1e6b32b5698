import { scannerUnavailableCounter, type Logger, type MalwareScanner, type Metrics, type PalabreConfig } from '@palabre/core';
import { ClamdFilter, DEFAULT_SPAM_POLICY, RspamdClient, RspamdFilter, type MessageFilter } from '@palabre/mail';

export interface MailFilters {
  readonly list: MessageFilter[];
  /** Banner lines: what scans mail, or that nothing does. */
  readonly banner: string[];
}

/** The configured scanners (config `spam`, `antivirus`), shared by the MX and submission listeners. */
export function mailFilters(
  config: PalabreConfig,
  logger: Logger,
  malware: { readonly scanner: MalwareScanner; readonly failMode: 'open' | 'closed' } | null,
  metrics: Metrics,
): MailFilters {
  const list: MessageFilter[] = [];
  const banner: string[] = [];
  const log = logger.child({ service: 'mail-filters' });
  const counted = scannerUnavailableCounter(metrics);
  const unavailable = (filter: 'rspamd' | 'clamd', mode: 'open' | 'closed') => (error: Error) => {
    log.warn({ filter, mode, err: error.message }, 'filter.unavailable');
    counted(filter, 'mail', mode);
  };
  const spam = config.spam.rspamd;
  const rspamd = spamClient(config);
  if (spam && rspamd) {
    list.push(new RspamdFilter(rspamd, { ...DEFAULT_SPAM_POLICY, ...spam.actions }, unavailable('rspamd', spam.failMode)));
    banner.push(`spam:      rspamd at ${spam.url} (fail-${spam.failMode}${spam.controllerUrl ? '; learns from Junk moves' : ''})`);
  } else banner.push('spam:      no scanning (give spam.rspamd in the config)');
  const av = config.antivirus.clamd;
  if (av && malware) {
    list.push(new ClamdFilter(malware.scanner, malware.failMode, unavailable('clamd', malware.failMode)));
    banner.push(`malware:   clamd at ${av.socket ?? `${av.host}:${av.port}`} (fail-${malware.failMode}; mail and drive uploads)`);
  } else banner.push('malware:   no scanning (give antivirus.clamd in the config)');
  return { list, banner };
}

/** The rspamd client of config `spam.rspamd`, or null. */
export function spamClient(config: PalabreConfig): RspamdClient | null {
  const spam = config.spam.rspamd;
  if (!spam) return null;
  return new RspamdClient({
    url: spam.url,
    controllerUrl: spam.controllerUrl,
    password: spam.password,
    timeoutMs: spam.timeoutMs,
    failMode: spam.failMode,
    hostname: config.hostname,
  });
}
