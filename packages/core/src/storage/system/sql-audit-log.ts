import type { AuditEvent, AuditEventType, AuditLog, AuditQuery } from '../../system/audit-log.js';
import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import type { Database } from '../database.js';
import { AuditEventEntity, type AuditEventRow } from './entities.js';
import { auditRow } from '../../system/audit-rules.js';

export class SqlAuditLog implements AuditLog {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock = systemClock,
  ) {}

  async record(event: Omit<AuditEvent, 'at'> & { at?: Date }): Promise<void> {
    const row = auditRow(event, this.clock);
    await this.db.run((m) => m.insert(AuditEventEntity, { ...row, at: row.at.getTime() }), 'recording an audit event');
  }

  async list(query: AuditQuery = {}): Promise<AuditEvent[]> {
    const limit = Math.max(1, Math.min(query.limit ?? 100, 10_000));
    return this.db.run(async (m) => {
      const qb = m.createQueryBuilder(AuditEventEntity, 'e').orderBy('e.at', 'DESC').addOrderBy('e.id', 'DESC').take(limit);
      if (query.since) qb.andWhere('e.at >= :since', { since: query.since.getTime() });
      if (query.type) qb.andWhere('e.type = :type', { type: query.type });
      if (query.actor) qb.andWhere('e.actor = :actor', { actor: query.actor });
      const rows: AuditEventRow[] = await qb.getMany();
      return rows.map((r) => ({
        type: r.type as AuditEventType,
        at: new Date(Number(r.at)),
        actor: r.actor,
        ip: r.ip,
        protocol: r.protocol,
        target: r.target,
        detail: r.detail,
      }));
    }, 'listing audit events');
  }
}
