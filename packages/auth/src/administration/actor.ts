import { ForbiddenError, InvalidInputError, normalizeDomain, parseAddress, type AuditEventType, type AuditLog } from '@palabre/core';

/**
 * Who asks for an administrative change. `cli` is whoever runs `palabre` on the server: they can read
 * the database anyway, so they may do everything. A principal (someone signed in to the portal) must be
 * an administrator of the domain the change touches; the directory has no such role yet, so the
 * answer comes from the `isDomainAdministrator` hook and, without one, is always no.
 */
export type AdminActor =
  | { readonly kind: 'cli'; /** What ran the change inside the CLI (`import`), said in the audit detail. */ readonly via?: string }
  | { readonly kind: 'principal'; readonly address: string; readonly ip?: string | null; readonly protocol?: string };

export const CLI_ACTOR: AdminActor = { kind: 'cli' };

/** Is `address` an administrator of `domain` (ASCII, lower case)? */
export type DomainAdministratorCheck = (address: string, domain: string) => Promise<boolean>;

export interface ActorAudit {
  readonly actor: string;
  readonly ip: string | null;
  readonly protocol: string;
}

export function auditFieldsOf(actor: AdminActor): ActorAudit {
  if (actor.kind === 'cli') return { actor: 'cli', ip: null, protocol: 'cli' };
  return { actor: actor.address, ip: actor.ip ?? null, protocol: actor.protocol ?? 'web' };
}

function checkActor(actor: AdminActor): void {
  if (actor?.kind === 'cli') return;
  if (actor?.kind !== 'principal' || typeof actor.address !== 'string' || actor.address.length === 0 || actor.address.length > 320) {
    throw new InvalidInputError('an administrative change needs an actor: cli or a signed-in principal');
  }
}

/**
 * The one place where administration decides who may do what. A refusal is an `access.denied`
 * audit event before the ForbiddenError, so the security officers see the attempt.
 */
export class AdminGate {
  constructor(
    private readonly audit: AuditLog,
    private readonly isDomainAdministrator: DomainAdministratorCheck | undefined,
  ) {}

  /** `domain` null: a change of the whole installation (creating a domain), reserved to the CLI. */
  async authorize(actor: AdminActor, domain: string | null, action: string, target: string): Promise<void> {
    checkActor(actor);
    if (actor.kind === 'cli') return;
    const ascii = domain === null ? null : normalizeDomain(domain);
    if (ascii !== null && this.isDomainAdministrator && (await this.isDomainAdministrator(actor.address, ascii))) return;
    await this.audit.record({ type: 'access.denied', ...auditFieldsOf(actor), target, detail: `administration: ${action}` });
    throw new ForbiddenError(ascii === null ? `only the server's administrator may ${action}` : `${actor.address} is not an administrator of ${ascii}`);
  }

  async record(actor: AdminActor, type: AuditEventType, target: string, detail: string | null = null): Promise<void> {
    const via = actor.kind === 'cli' && actor.via ? ` by ${actor.via}` : '';
    await this.audit.record({ type, ...auditFieldsOf(actor), target, detail: detail === null ? (via ? via.trim() : null) : `${detail}${via}` });
  }
}

/** The domain an address belongs to, for the authorisation question; a malformed address is refused here. */
export function domainOf(address: string): string {
  return parseAddress(address).domain;
}
