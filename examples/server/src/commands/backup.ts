import { resolve } from 'node:path';
import { formatSize, noMorePositionals, parse, requirePositional, UsageError } from '../args.js';
import { createBackup } from '../backup/create.js';
import { isSnapshotId, listSnapshots } from '../backup/layout.js';
import { restoreBackup } from '../backup/restore.js';
import { verifyBackup } from '../backup/verify.js';
import { loadConfig } from '../config.js';
import { describeDatabase } from '../context.js';
import { table, type Output } from '../output.js';
import { BACKUP_USAGE, RESTORE_USAGE } from './usage.js';

export interface BackupCommandSetup {
  readonly data?: string;
  readonly configFile?: string;
  readonly env: NodeJS.ProcessEnv;
  readonly io: Output;
}

const snapshotOption = (value: string | undefined): string | undefined => {
  if (value !== undefined && !isSnapshotId(value)) throw new UsageError(`--snapshot takes a snapshot name such as 20250301T020000Z (see palabre backup list)`);
  return value;
};

/**
 * `palabre backup` and `palabre restore`. They open no command context: a backup reads a running
 * server's database without migrating it, verify and list need no database at all, and a restore must
 * find its target empty (a context would migrate it first).
 */
export async function backupCommand(command: 'backup' | 'restore', argv: string[], setup: BackupCommandSetup): Promise<number> {
  const { io } = setup;
  const config = () => loadConfig({ data: setup.data, config: setup.configFile, env: setup.env });
  if (command === 'restore') {
    const { values, positionals } = parse(argv, { snapshot: { type: 'string' }, force: { type: 'boolean' } }, RESTORE_USAGE);
    const src = resolve(requirePositional(positionals, 0, 'the backup folder SRC', RESTORE_USAGE));
    noMorePositionals(positionals, 1, RESTORE_USAGE);
    if (setup.data === undefined && !setup.env.PALABRE_DATA) throw new UsageError(`say where to restore with --data DIR (a new, empty folder)\nusage: ${RESTORE_USAGE}`);
    const target = config();
    const result = await restoreBackup({ config: target, src, snapshot: snapshotOption(values.snapshot), force: values.force, progress: (l) => io.err(l) });
    io.out(`restored snapshot ${result.manifest.id} (${result.manifest.startedAt}) into ${describeDatabase(target)} and ${target.dataDir}: ${result.blobs} blobs, ${formatSize(result.bytes)}`);
    for (const p of result.problems) io.err(`not restored: ${p}`);
    io.out(`start it with: palabre serve --data ${target.dataDir}${target.databaseUrl ? ' (with the same DATABASE_URL)' : ''}`);
    return result.problems.length ? 1 : 0;
  }

  const [sub, ...rest] = argv;
  if (sub === 'verify') {
    const { values, positionals } = parse(rest, { snapshot: { type: 'string' } }, BACKUP_USAGE);
    const dest = resolve(requirePositional(positionals, 0, 'the backup folder DEST', BACKUP_USAGE));
    noMorePositionals(positionals, 1, BACKUP_USAGE);
    const report = await verifyBackup(dest, snapshotOption(values.snapshot), (l) => io.err(l));
    let bad = 0;
    for (const s of report.snapshots) {
      if (s.problems.length === 0) {
        io.out(`${s.id}: ok (database and ${s.blobs} blobs, ${formatSize(s.manifest!.blobs.bytes)}, every SHA-256 checked)`);
        continue;
      }
      bad++;
      io.out(`${s.id}: ${s.problems.length} problem(s)`);
      for (const p of s.problems.slice(0, 50)) io.out(`  ${p}`);
      if (s.problems.length > 50) io.out(`  … and ${s.problems.length - 50} more`);
    }
    for (const id of report.incomplete) io.out(`${id}: incomplete (a backup that did not finish), ignored`);
    if (bad) io.err(`palabre: ${bad} snapshot(s) damaged; a damaged blob removed from ${dest}/blobs is copied again by the next backup if the server still has it`);
    return bad ? 1 : 0;
  }
  if (sub === 'list') {
    const { positionals } = parse(rest, {}, BACKUP_USAGE);
    const dest = resolve(requirePositional(positionals, 0, 'the backup folder DEST', BACKUP_USAGE));
    noMorePositionals(positionals, 1, BACKUP_USAGE);
    const rows = (await listSnapshots(dest)).map((s) =>
      s.manifest
        ? [s.id, s.manifest.startedAt, s.manifest.database.dialect, formatSize(s.manifest.database.size), String(s.manifest.blobs.count), formatSize(s.manifest.blobs.bytes), s.manifest.unavailable.length ? `${s.manifest.unavailable.length} blob(s) unavailable at backup time` : 'complete']
        : [s.id, '', '', '', '', '', s.problem ? `manifest unreadable: ${s.problem}` : 'incomplete, ignored'],
    );
    if (rows.length === 0) {
      io.out(`no snapshot in ${dest}`);
      return 0;
    }
    for (const line of table(rows, ['SNAPSHOT', 'STARTED', 'DATABASE', 'DB SIZE', 'BLOBS', 'BLOB BYTES', 'STATE'])) io.out(line);
    return 0;
  }

  const { values, positionals } = parse(argv, { keep: { type: 'string' } }, BACKUP_USAGE);
  const dest = resolve(requirePositional(positionals, 0, 'the backup folder DEST', BACKUP_USAGE));
  noMorePositionals(positionals, 1, BACKUP_USAGE);
  const keep = values.keep === undefined ? undefined : Number(values.keep);
  if (keep !== undefined && (!Number.isInteger(keep) || keep < 1)) throw new UsageError('--keep takes a number of snapshots, 1 or more');
  const source = config();
  const result = await createBackup({ config: source, dest, keep, progress: (l) => io.err(l) });
  const m = result.manifest;
  io.out(
    `backup ${m.id} of ${describeDatabase(source)} written to ${dest}: database ${formatSize(m.database.size)}, ${m.blobs.count} blobs (${formatSize(m.blobs.bytes)}); ` +
      `${m.copied.count} copied (${formatSize(m.copied.bytes)}), ${m.blobs.count - m.copied.count} already there`,
  );
  if (result.pruned?.removedSnapshots.length) {
    io.out(`removed ${result.pruned.removedSnapshots.length} old snapshot(s) (${result.pruned.removedSnapshots.join(', ')}) and ${result.pruned.removedBlobs} blobs no kept snapshot uses (${formatSize(result.pruned.freedBytes)})`);
  }
  if (m.unavailable.length) {
    for (const u of m.unavailable.slice(0, 20)) io.err(`not in the backup: ${u.feature} blob ${u.id} is ${u.reason} in ${source.dataDir}`);
    io.err(`palabre: ${m.unavailable.length} blob(s) the database refers to were ${m.unavailable.every((u) => u.reason === 'missing') ? 'missing' : 'missing or damaged'} on the server; the rest is backed up`);
    return 1;
  }
  return 0;
}
