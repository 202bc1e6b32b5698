import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { noMorePositionals, parse, requirePositional, UsageError } from '../args.js';
import type { Context } from '../context.js';
import { importAccountsCsv } from '../import/csv-accounts.js';
import { progressReporter } from '../import/progress.js';
import type { Output } from '../output.js';

const USAGE = 'palabre user import FILE.csv [--batch N] [--update-passwords]';

async function countLines(path: string): Promise<number> {
  let lines = 0;
  for await (const chunk of createReadStream(path)) {
    for (let i = (chunk as Buffer).indexOf(10); i !== -1; i = (chunk as Buffer).indexOf(10, i + 1)) lines++;
  }
  return Math.max(0, lines - 1);
}

export async function importCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  const { values, positionals } = parse(argv, { batch: { type: 'string' }, 'update-passwords': { type: 'boolean' } }, USAGE);
  const file = requirePositional(positionals, 0, 'CSV file', USAGE);
  noMorePositionals(positionals, 1, USAGE);
  const batchSize = values.batch === undefined ? 500 : Number(values.batch);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 5000) throw new UsageError('--batch must be between 1 and 5000');
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) throw new UsageError(`cannot read ${file}`);
  const total = await countLines(file);
  const draw = progressReporter(total, (t) => process.stderr.write(t), Boolean(process.stderr.isTTY));
  const report = await importAccountsCsv(
    { directory: ctx.stores.directory, credentials: ctx.credentials, audit: ctx.stores.audit },
    createReadStream(file),
    { batchSize, updatePasswords: values['update-passwords'], onProgress: draw },
  );
  if (process.stderr.isTTY) process.stderr.write('\n');
  for (const p of report.problems) io.err(`line ${p.line}: ${p.message}`);
  if (report.failed > report.problems.length) io.err(`… and ${report.failed - report.problems.length} more refused lines`);
  for (const g of report.groupsCreated) io.out(`group ${g} created`);
  io.out(
    `imported ${file}: ${report.created} created, ${report.updated} updated, ${report.unchanged} unchanged, ${report.failed} refused (of ${report.rowsRead} rows)`,
  );
  return report.failed > 0 ? 1 : 0;
}
