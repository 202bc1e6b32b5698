import { AUDIT_EVENT_TYPES, type AuditEvent } from './audit-log.js';
import type { Clock } from '../ports/clock.js';
import { InvalidInputError } from '../errors.js';

const TYPES: ReadonlySet<string> = new Set(AUDIT_EVENT_TYPES);

// Attacker-controlled strings (a login name tried, a path) end up here: bound them and strip controls.
function clip(value: string | null | undefined, max: number): string | null {
  if (value === null || value === undefined) return null;
  return String(value).replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, max);
}

/** Normalise an audit event the same way in every AuditLog implementation. */
export function auditRow(event: Omit<AuditEvent, 'at'> & { at?: Date }, clock: Clock): AuditEvent {
  if (!TYPES.has(event.type)) throw new InvalidInputError(`unknown audit event type ${String(event.type).slice(0, 40)}`);
  return {
    type: event.type,
    at: event.at ?? clock.now(),
    actor: clip(event.actor, 320),
    ip: clip(event.ip, 64),
    protocol: clip(event.protocol, 16),
    target: clip(event.target, 512),
    detail: clip(event.detail, 512),
  };
}
