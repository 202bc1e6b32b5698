import type { Readable } from 'node:stream';
import {
  isPalabreError,
  parseHostedAddress,
  type AccountUpsert,
  type AuditLog,
  type DirectoryStore,
} from '@palabre/core';
import type { CredentialService } from '@palabre/auth';
import { parseSize } from '../args.js';
import { csvRecords } from './csv.js';

/**
 * Bulk provisioning from CSV (RFC 4180, UTF-8, header row). Columns, any order and case:
 *   email (required; also `address`, `mail`), name, department (also `ministry`, `service`), quota,
 *   password, password_hash, groups and aliases (separated by `;`), status (active|suspended).
 * Each batch is one transaction, so an interrupted import leaves whole batches and a re-run finishes
 * the job: rows are upserts. Passwords in the file apply to accounts the import creates; existing
 * passwords (which staff may have changed) are replaced only with `updatePasswords`.
 */

export interface CsvImportOptions {
  batchSize?: number;
  updatePasswords?: boolean;
  /** Called after each batch with the totals so far. */
  onProgress?: (progress: ImportProgress) => void;
  /** Longest accepted record, in bytes. */
  maxRecordBytes?: number;
  /** Parallel password hashes (argon2 runs on libuv's thread pool). */
  hashConcurrency?: number;
}

export interface ImportProgress {
  readonly rowsRead: number;
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly failed: number;
  readonly line: number;
}

export interface ImportProblem {
  readonly line: number;
  readonly message: string;
}

export interface ImportReport extends ImportProgress {
  readonly problems: readonly ImportProblem[];
  readonly groupsCreated: readonly string[];
}

export interface ImportDeps {
  directory: DirectoryStore;
  credentials: CredentialService;
  audit: AuditLog;
}

const COLUMN_NAMES: Record<string, string> = {
  email: 'email',
  address: 'email',
  mail: 'email',
  'e-mail': 'email',
  name: 'name',
  display_name: 'name',
  displayname: 'name',
  'display name': 'name',
  department: 'department',
  ministry: 'department',
  service: 'department',
  quota: 'quota',
  password: 'password',
  password_hash: 'password_hash',
  groups: 'groups',
  aliases: 'aliases',
  status: 'status',
};

interface Row {
  line: number;
  address: string;
  upsert: AccountUpsert;
  password: string | undefined;
}

const MAX_PROBLEMS = 10_000;

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(/[;|]/)
    .map((v) => v.trim())
    .filter(Boolean);
}

function rowFrom(cells: string[], columns: (string | null)[], line: number): Row {
  const get = (name: string) => {
    const i = columns.indexOf(name);
    const value = i < 0 ? undefined : cells[i]?.trim();
    return value === '' ? undefined : value;
  };
  const email = get('email');
  if (!email) throw new Error('no email address');
  const address = parseHostedAddress(email).address;
  const status = get('status');
  if (status !== undefined && status !== 'active' && status !== 'suspended') throw new Error(`status must be active or suspended, not ${JSON.stringify(status.slice(0, 20))}`);
  const quota = get('quota');
  const password = get('password');
  const passwordHash = get('password_hash');
  if (password !== undefined && passwordHash !== undefined) throw new Error('give a password or a password_hash, not both');
  return {
    line,
    address,
    password,
    upsert: {
      address,
      displayName: get('name'),
      department: get('department'),
      quotaBytes: quota === undefined ? undefined : parseSize(quota),
      status: status as 'active' | 'suspended' | undefined,
      passwordHash: passwordHash ?? null,
      aliases: splitList(get('aliases')),
      groups: splitList(get('groups')).map((g) => g.toLowerCase()),
    },
  };
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

export async function importAccountsCsv(deps: ImportDeps, input: Readable, options: CsvImportOptions = {}): Promise<ImportReport> {
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 500, 5000));
  const problems: ImportProblem[] = [];
  const groupsCreated: string[] = [];
  const knownGroups = new Set<string>();
  const seen = new Map<string, number>();
  const counts = { rowsRead: 0, created: 0, updated: 0, unchanged: 0, failed: 0, line: 0 };
  const problem = (line: number, message: string) => {
    counts.failed++;
    if (problems.length < MAX_PROBLEMS) problems.push({ line, message });
  };

  let columns: (string | null)[] | null = null;
  let batch: Row[] = [];

  const ensureGroups = async (row: Row) => {
    for (const name of row.upsert.groups ?? []) {
      if (knownGroups.has(name)) continue;
      if (!(await deps.directory.findGroup(name))) {
        const domain = row.address.slice(row.address.lastIndexOf('@') + 1);
        try {
          await deps.directory.createGroup({ name, domain });
          groupsCreated.push(name);
          await deps.audit.record({ type: 'group.changed', actor: 'cli', ip: null, protocol: 'cli', target: name, detail: 'created by import' });
        } catch (error) {
          // Another row or importer may have created it meanwhile; anything else is this row's problem.
          if (!isPalabreError(error, 'conflict')) throw error;
        }
      }
      knownGroups.add(name);
    }
  };

  const flush = async () => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    // Groups and passwords are checked per row: a row that fails is reported, the others go on.
    const ready = new Set<Row>();
    await mapLimit(rows, options.hashConcurrency ?? 4, async (row) => {
      try {
        await ensureGroups(row);
        if (row.password !== undefined && (options.updatePasswords || !(await deps.directory.findAccount(row.address)))) {
          row.upsert.passwordHash = await deps.credentials.hashNewPassword(row.password, row.address);
        }
        ready.add(row);
      } catch (error) {
        problem(row.line, describe(error));
      }
    });
    const clean = rows.filter((r) => ready.has(r));
    try {
      for (const outcome of await deps.directory.upsertAccounts(clean.map((r) => r.upsert))) counts[outcome]++;
    } catch {
      // One bad row fails its whole batch (a transaction): redo it row by row so the good rows go in.
      for (const row of clean) {
        try {
          for (const outcome of await deps.directory.upsertAccounts([row.upsert])) counts[outcome]++;
        } catch (error) {
          problem(row.line, describe(error));
        }
      }
    }
    options.onProgress?.({ ...counts });
  };

  for await (const item of csvRecords(input as AsyncIterable<Uint8Array>, { maxLineBytes: options.maxRecordBytes ?? 64 * 1024 })) {
    counts.line = item.line;
    if ('error' in item) {
      if (columns) counts.rowsRead++;
      problem(item.line, `unreadable CSV: ${item.error}`);
      continue;
    }
    const record = item.fields;
    if (!columns) {
      columns = record.map((h) => COLUMN_NAMES[h.trim().toLowerCase()] ?? null);
      if (!columns.includes('email')) throw new Error(`line ${item.line}: the header must name an email column (found: ${record.slice(0, 10).join(', ').slice(0, 200)})`);
      continue;
    }
    counts.rowsRead++;
    let row: Row;
    try {
      row = rowFrom(record, columns, item.line);
    } catch (error) {
      problem(item.line, describe(error));
      continue;
    }
    const first = seen.get(row.address);
    if (first !== undefined) {
      problem(item.line, `${row.address} already appears on line ${first}`);
      continue;
    }
    seen.set(row.address, item.line);
    batch.push(row);
    if (batch.length >= batchSize) await flush();
  }
  if (!columns) throw new Error('the file is empty: expected a header row naming an email column');
  await flush();
  problems.sort((a, b) => a.line - b.line);
  return { ...counts, problems, groupsCreated };
}

function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 300);
}
