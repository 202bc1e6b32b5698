import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { noMorePositionals, parse, requirePositional, UsageError } from '../args.js';
import type { Context } from '../context.js';
import { importAccountsCsv } from '../import/csv-accounts.js';
import type { EncodingChoice, Separator } from '../import/csv.js';
import { progressReporter } from '../import/progress.js';
import type { Output } from '../output.js';

const USAGE = 'palabre user import FILE.csv [--batch N] [--update-passwords] [--separator , | ; | tab] [--encoding utf-8 | windows-1252]';

const SEPARATORS: Record<string, Separator> = { ',': ',', ';': ';', tab: '\t', '\t': '\t' };
const ENCODINGS: Record<string, EncodingChoice> = {
  'utf-8': 'utf-8',
  utf8: 'utf-8',
  'windows-1252': 'windows-1252',
  cp1252: 'windows-1252',
  auto: 'auto',
};

async function countLines(path: string): Promise<number> {
  let lines = 0;
  for await (const chunk of createReadStream(path)) {
    for (let i = (chunk as Buffer).indexOf(10); i !== -1; i = (chunk as Buffer).indexOf(10, i + 1)) lines++;
  }
  return Math.max(0, lines - 1);
}

export async function importCommand(ctx: Context, argv: string[], io: Output): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { batch: { type: 'string' }, 'update-passwords': { type: 'boolean' }, separator: { type: 'string' }, encoding: { type: 'string' } },
    USAGE,
  );
  const file = requirePositional(positionals, 0, 'CSV file', USAGE);
  noMorePositionals(positionals, 1, USAGE);
  const batchSize = values.batch === undefined ? 500 : Number(values.batch);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 5000) throw new UsageError('--batch must be between 1 and 5000');
  const chosenSeparator = values.separator === undefined ? undefined : SEPARATORS[values.separator.toLowerCase()];
  if (values.separator !== undefined && chosenSeparator === undefined)
    throw new UsageError(`--separator takes , or ; or tab, not ${JSON.stringify(values.separator)}`);
  const encoding = values.encoding === undefined ? undefined : ENCODINGS[values.encoding.toLowerCase()];
  if (values.encoding !== undefined && encoding === undefined)
    throw new UsageError(`--encoding takes utf-8 or windows-1252, not ${JSON.stringify(values.encoding)}`);
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) throw new UsageError(`cannot read ${file}`);
  const total = await countLines(file);
  const tty = Boolean(process.stderr.isTTY);
  const draw = progressReporter(total, (t) => process.stderr.write(t), tty);
  const report = await importAccountsCsv(
    { directory: ctx.stores.directory, credentials: ctx.credentials, audit: ctx.stores.audit },
    createReadStream(file),
    {
      batchSize,
      updatePasswords: values['update-passwords'],
      separator: chosenSeparator,
      encoding,
      onProgress: draw,
      // Said at once (over the progress bar), so that a wrong encoding can be stopped early.
      onWarning: (w) => {
        if (tty) process.stderr.write('\r\u001b[K');
        io.err(`line ${w.line}: warning: ${w.message}`);
      },
    },
  );
  if (tty) process.stderr.write('\n');
  for (const p of report.problems) io.err(`line ${p.line}: ${p.message}`);
  if (report.failed > report.problems.length) io.err(`… and ${report.failed - report.problems.length} more refused lines`);
  for (const g of report.groupsCreated) io.out(`group ${g} created`);
  const separator = report.separator === '\t' ? 'tab' : `"${report.separator}"`;
  const text = encoding === 'windows-1252' ? ', Windows-1252' : report.warnings.length > 0 ? ', Windows-1252 where not UTF-8' : '';
  const format = `separator ${separator}${text}`;
  io.out(
    `imported ${file} (${format}): ${report.created} created, ${report.updated} updated, ${report.unchanged} unchanged, ${report.failed} refused (of ${report.rowsRead} rows)`,
  );
  return report.failed > 0 ? 1 : 0;
}
