/** Every event name the IMAP server logs: a closed set, so operators can alert on them. */
export const IMAP_LOG_EVENTS = [
  'imap.listening',
  'imap.closed',
  'imap.connect',
  'imap.client-id',
  'imap.disconnect',
  'imap.starttls',
  'imap.starttls-failed',
  'imap.compress',
  'imap.login',
  'imap.login-failed',
  'imap.acl-changed',
  'imap.command-failed',
  'imap.server-bug',
  'imap.protocol-error',
  'imap.limit',
  'imap.timeout',
  'imap.idle-notify-failed',
  'imap.notify-failed',
  'imap.socket-error',
  'imap.junk-training-dropped',
  'imap.junk-training-failed',
] as const;

export type ImapLogEvent = (typeof IMAP_LOG_EVENTS)[number];
