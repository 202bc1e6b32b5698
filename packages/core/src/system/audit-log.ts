/** Security-relevant events, kept in the database for the administration's security officers. */
export const AUDIT_EVENT_TYPES = [
  'auth.success',
  'auth.failure',
  'auth.throttled',
  'auth.locked',
  'credential.created',
  'credential.revoked',
  'password.changed',
  'account.created',
  'account.updated',
  'account.suspended',
  'account.removed',
  'domain.created',
  'domain.removed',
  'group.changed',
  'alias.changed',
  'mailbox.shared',
  'calendar.shared',
  'calendar.delegated',
  'access.denied',
  'mail.rate-limited',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

export interface AuditEvent {
  readonly type: AuditEventType;
  readonly at: Date;
  /** Who acted: an account address, `cli`, or the login name tried (even if unknown). */
  readonly actor: string | null;
  readonly ip: string | null;
  /** `imap`, `smtp`, `dav`, `cli`… */
  readonly protocol: string | null;
  /** The object acted on (an address, a path, a credential id). */
  readonly target: string | null;
  /** Short machine-readable reason or outcome; never a secret. */
  readonly detail: string | null;
}

export interface AuditQuery {
  since?: Date;
  type?: AuditEventType;
  actor?: string;
  limit?: number;
}

export interface AuditLog {
  record(event: Omit<AuditEvent, 'at'> & { at?: Date }): Promise<void>;
  /** Newest first. */
  list(query?: AuditQuery): Promise<AuditEvent[]>;
}
