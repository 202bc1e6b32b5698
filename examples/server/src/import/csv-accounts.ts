import type { Readable } from 'node:stream';
import {
  isPalabreError,
  parseHostedAddress,
  type AccountUpsert,
  type AuditLog,
  type DirectoryStore,
} from '@palabre/core';
import { createAdministration, type Administration, type AdminActor, type CredentialService } from '@palabre/auth';
import { parseSize } from '../args.js';
import { headerColumns, type Column } from './columns.js';
import { csvRecords, type EncodingChoice, type Separator } from './csv.js';

/**
 * Bulk provisioning from CSV (RFC 4180 as spreadsheets save it: `,` `;` or tab separated, UTF-8 or
 * Windows-1252, header row). Columns, any order, English or French names (columns.ts): email
 * (required), name (or given name + name), department, quota, password, password_hash, groups and
 * aliases (separated by `;` `,` or `|`), status (active|suspended).
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
  /** By default the one the header line uses. */
  separator?: Separator;
  /** By default each line is UTF-8 if it is valid UTF-8, else Windows-1252 (with a warning). */
  encoding?: EncodingChoice;
  /** Called when a warning is found (e.g. a line read as Windows-1252), as it is found. */
  onWarning?: (warning: ImportProblem) => void;
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
  readonly warnings: readonly ImportProblem[];
  readonly groupsCreated: readonly string[];
  readonly separator: Separator;
}

export interface ImportDeps {
  directory: DirectoryStore;
  credentials: CredentialService;
  audit: AuditLog;
  /** The administration functions to provision through (built from the three above when absent). */
  admin?: Administration;
}

interface Row {
  line: number;
  address: string;
  upsert: AccountUpsert;
  password: string | undefined;
}

const MAX_PROBLEMS = 10_000;
/** The import runs from the CLI; its audit events say `by import`. */
const IMPORT_ACTOR: AdminActor = { kind: 'cli', via: 'import' };

function splitList(value: string | undefined): string[] {
  // Group names and addresses hold none of these, so any of them separates.
  return (value ?? '')
    .split(/[;,|]/)
    .map((v) => v.trim())
    .filter(Boolean);
}

const STATUSES: Record<string, 'active' | 'suspended'> = { active: 'active', actif: 'active', suspended: 'suspended', suspendu: 'suspended' };

/** `2G`, and as French spreadsheets write it, `2,5 Go` (octets). */
function quotaFrom(text: string): number | null {
  const french = /^(\d+)(?:,(\d+))?\s*([kmgt]?)o$/i.exec(text.trim());
  return parseSize(french ? `${french[1]}${french[2] ? `.${french[2]}` : ''}${french[3]}` : text.replace(/^(\d+),(\d+)/, '$1.$2'));
}

function rowFrom(cells: string[], columns: (Column | null)[], line: number): Row {
  const extra = cells.slice(columns.length).filter((c) => c.trim() !== '').length;
  if (extra > 0) throw new Error(`${cells.length} fields where the header has ${columns.length}: a separator inside a field that is not quoted?`);
  const get = (name: Column) => {
    const i = columns.indexOf(name);
    const value = i < 0 ? undefined : cells[i]?.trim();
    return value === '' ? undefined : value;
  };
  const email = get('email');
  if (!email) throw new Error('no email address');
  const address = parseHostedAddress(email).address;
  const statusText = get('status');
  const status = statusText === undefined ? undefined : STATUSES[statusText.toLowerCase()];
  if (statusText !== undefined && status === undefined) throw new Error(`status must be active or suspended, not ${JSON.stringify(statusText.slice(0, 20))}`);
  const quota = get('quota');
  const given = get('given_name');
  const password = get('password');
  const passwordHash = get('password_hash');
  if (password !== undefined && passwordHash !== undefined) throw new Error('give a password or a password_hash, not both');
  return {
    line,
    address,
    password,
    upsert: {
      address,
      displayName: given === undefined ? get('name') : [given, get('name')].filter(Boolean).join(' '),
      department: get('department'),
      quotaBytes: quota === undefined ? undefined : quotaFrom(quota),
      status,
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
  const warnings: ImportProblem[] = [];
  const groupsCreated: string[] = [];
  const admin = deps.admin ?? createAdministration(deps);
  const knownGroups = new Set<string>();
  const seen = new Map<string, number>();
  const counts = { rowsRead: 0, created: 0, updated: 0, unchanged: 0, failed: 0, line: 0 };
  const problem = (line: number, message: string) => {
    counts.failed++;
    if (problems.length < MAX_PROBLEMS) problems.push({ line, message });
  };

  let columns: (Column | null)[] | null = null;
  let batch: Row[] = [];

  const ensureGroups = async (row: Row) => {
    for (const name of row.upsert.groups ?? []) {
      if (knownGroups.has(name)) continue;
      if (!(await deps.directory.findGroup(name))) {
        const domain = row.address.slice(row.address.lastIndexOf('@') + 1);
        try {
          await admin.createGroup(IMPORT_ACTOR, { name, domain });
          groupsCreated.push(name);
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
      for (const outcome of await admin.upsertAccounts(IMPORT_ACTOR, clean.map((r) => r.upsert))) counts[outcome]++;
    } catch {
      // One bad row fails its whole batch (a transaction): redo it row by row so the good rows go in.
      for (const row of clean) {
        try {
          for (const outcome of await admin.upsertAccounts(IMPORT_ACTOR, [row.upsert])) counts[outcome]++;
        } catch (error) {
          problem(row.line, describe(error));
        }
      }
    }
    options.onProgress?.({ ...counts });
  };

  const reader = csvRecords(input as AsyncIterable<Uint8Array>, {
    maxLineBytes: options.maxRecordBytes ?? 64 * 1024,
    separator: options.separator,
    encoding: options.encoding,
  });
  for await (const item of reader) {
    counts.line = item.line;
    if ('warning' in item) {
      const warning = { line: item.line, message: item.warning };
      warnings.push(warning);
      options.onWarning?.(warning);
      continue;
    }
    if ('error' in item) {
      if (columns) counts.rowsRead++;
      problem(item.line, `unreadable CSV: ${item.error}`);
      continue;
    }
    const record = item.fields;
    if (!columns) {
      columns = headerColumns(record, item.line);
      continue;
    }
    counts.rowsRead++;
    let row: Row;
    try {
      row = rowFrom(record, columns, item.line);
    } catch (error) {
      // A record over several lines that is wrong may be lines that a stray quote glued together.
      const span = item.lastLine === undefined ? '' : ` (this record runs from line ${item.line} to ${item.lastLine}: check its quotes)`;
      problem(item.line, `${describe(error)}${span}`);
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
  return { ...counts, problems, warnings, groupsCreated, separator: reader.separator ?? ',' };
}

function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 300);
}
