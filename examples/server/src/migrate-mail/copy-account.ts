import { ImapFlow } from 'imapflow';
import {
  isPalabreError,
  parseFlags,
  type BlobStore,
  type UidSet,
  type DirectoryStore,
  type MailMigrationStore,
  type MailStore,
  type Mailbox,
} from '@palabre/core';
import { newMessageOf, putAnalysed } from '@palabre/mail';
import { planFolders, type LegacyFolder, type PlannedFolder } from './folder-map.js';
import type { LegacySource } from './legacy-source.js';

/** One CSV row: the Palabre account and how to sign in to the legacy server as that agent. */
export interface LegacyLogin {
  readonly address: string;
  readonly login: string;
  readonly password: string;
  /** The CSV line, for the report. */
  readonly line?: number;
}

export interface MailMigrationDeps {
  readonly directory: DirectoryStore;
  readonly mail: MailStore;
  readonly migrations: MailMigrationStore;
  readonly blobs: BlobStore;
}

export interface CopyOptions {
  readonly source: LegacySource;
  /** Messages above this are not copied (reported); also the largest literal accepted from the server. */
  readonly maxMessageBytes: number;
  /** Extra CA certificates (PEM) to trust for the legacy server. */
  readonly ca?: string | Buffer;
  /** Seconds of silence before a legacy connection counts as dead. */
  readonly socketTimeoutMs?: number;
  /** Called after every message stored or skipped (progress bars, tests). */
  readonly onMessage?: (address: string, event: 'copied' | 'skipped') => void;
  readonly signal?: AbortSignal;
  /** UIDs whose details are read and copied before the next ones are asked for (default 1000). */
  readonly window?: number;
}

export interface FolderReport {
  readonly legacy: string;
  readonly target: string;
  copied: number;
  /** Already in the target (found by the cursor or by dedupe). */
  skipped: number;
  /** Messages copied by an earlier run whose flags changed on the legacy side since, brought over. */
  flagsUpdated: number;
  error?: string;
}

export interface AccountReport {
  readonly address: string;
  readonly line?: number;
  status: 'ok' | 'failed';
  folders: FolderReport[];
  /** Legacy folders not copied on purpose (virtual ones). */
  notCopied: { legacy: string; reason: string }[];
  copied: number;
  skipped: number;
  flagsUpdated: number;
  /** Message-level problems that do not stop the account (too large, refused by our store). */
  messageErrors: string[];
  /** Why the account failed: login refused, connection lost, a folder refused. */
  errors: string[];
}

/** How many messages one FETCH of bodies asks for, and how many announced bytes. */
const BATCH_MESSAGES = 50;
const BATCH_BYTES = 8 * 1024 * 1024;
/** UIDs whose details (size, flags, date) are read and copied before the next ones are asked for. */
const WINDOW = 1000;
const MAX_REPORTED_MESSAGE_ERRORS = 100;

/** A message as the dedupe index knows it: the content hash (our blob id) and internal date. */
const dedupeKey = (blobId: string, internalDate: Date) => `${blobId}:${Math.floor(internalDate.getTime() / 1000)}`;

const describe = (error: unknown): string => {
  const e = error as { message?: string; responseText?: string; authenticationFailed?: boolean; code?: string };
  if (e?.authenticationFailed) return 'the legacy server refused the login (wrong password or user)';
  const text = e?.responseText || e?.message || String(error);
  return text.split('\n')[0]!.slice(0, 300);
};

/** Flags the legacy server reported that we can store; `\Recent` and unknown `\X` flags are session or server things. */
function storableFlags(flags: Iterable<string> | undefined): string[] {
  const out: string[] = [];
  for (const f of flags ?? []) {
    try {
      parseFlags([f]);
      out.push(f);
    } catch {
      // dropped: not a flag a message can carry here
    }
  }
  return out;
}

export function emptyReport(address: string, line?: number): AccountReport {
  return { address, line, status: 'ok', folders: [], notCopied: [], copied: 0, skipped: 0, flagsUpdated: 0, messageErrors: [], errors: [] };
}

/**
 * Copy one agent's mailboxes from the legacy server: every folder (special uses mapped onto ours),
 * subscriptions, then messages with flags, keywords and internal dates. Resumable: a cursor per folder
 * names the last legacy UID copied, and messages above it that are already in the target (a run that
 * died between APPEND and cursor write, a UIDVALIDITY change) are recognised by content hash and
 * internal date. Never throws for a problem of this account: it is in the report.
 */
export async function copyAccount(deps: MailMigrationDeps, who: LegacyLogin, options: CopyOptions): Promise<AccountReport> {
  const report = emptyReport(who.address, who.line);
  const fail = (why: string) => {
    report.status = 'failed';
    report.errors.push(why);
    return report;
  };
  const account = await deps.directory.findAccount(who.address);
  if (!account) return fail(`no Palabre account ${who.address}: create it first (palabre user add or palabre user import)`);

  const client = new ImapFlow({
    host: options.source.host,
    port: options.source.port,
    secure: options.source.implicitTls,
    doSTARTTLS: options.source.implicitTls ? undefined : true,
    auth: { user: who.login, pass: who.password },
    tls: { ...(options.ca ? { ca: options.ca } : {}), servername: /^[\d.:]+$/.test(options.source.host) ? undefined : options.source.host },
    logger: false,
    disableAutoIdle: true,
    socketTimeout: options.socketTimeoutMs ?? 120_000,
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    // A hostile or broken legacy server cannot make us buffer more than one allowed message.
    maxLiteralSize: options.maxMessageBytes,
    maxLineLength: 16 * 1024 * 1024,
    maxResponseSize: options.maxMessageBytes + 1024 * 1024,
  });
  let lost: string | null = null;
  client.on('error', (error: unknown) => {
    lost = describe(error);
  });
  client.on('close', () => {
    lost ??= 'the legacy server closed the connection';
  });
  const onAbort = () => void client.close();
  options.signal?.addEventListener('abort', onAbort);
  try {
    try {
      await client.connect();
    } catch (error) {
      return fail(describe(error));
    }
    const listed = await client.list();
    const plan = planFolders(
      listed.map((l): LegacyFolder => ({
        path: l.path,
        delimiter: l.delimiter ?? null,
        flags: l.flags,
        specialUse: l.specialUseSource === 'name' ? null : (l.specialUse ?? null),
        subscribed: l.subscribed,
      })),
    );
    report.notCopied.push(...plan.skipped);
    const mailboxes = new Map((await deps.mail.ensureMailboxes(account.id)).map((m) => [m.name, m]));
    const subscriptions = new Set(await deps.mail.listSubscriptions(account.id));
    for (const folder of plan.folders) {
      const folderReport: FolderReport = { legacy: folder.legacy, target: folder.target, copied: 0, skipped: 0, flagsUpdated: 0 };
      report.folders.push(folderReport);
      try {
        let target = mailboxes.get(folder.target) ?? (await deps.mail.getMailbox(account.id, folder.target));
        if (!target) {
          target = await deps.mail.createMailbox(account.id, folder.target);
        }
        mailboxes.set(target.name, target);
        if (folder.subscribed && !subscriptions.has(target.name)) {
          await deps.mail.subscribe(account.id, target.name);
          subscriptions.add(target.name);
        }
        if (!folder.selectable) continue;
        await copyFolder(deps, client, account.id, folder, target, folderReport, report, options);
      } catch (error) {
        if (isPalabreError(error, 'quota')) {
          folderReport.error = 'the account is over its Palabre quota';
          return fail(`${folder.legacy}: ${folderReport.error}`);
        }
        folderReport.error = lost ?? describe(error);
        fail(`${folder.legacy}: ${folderReport.error}`);
        // A dead connection fails the rest of the account; a refused folder only itself.
        if (lost || !client.usable) return report;
      }
    }
    return report;
  } catch (error) {
    return fail(lost ?? describe(error));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (client.usable) await client.logout().catch(() => client.close());
    else client.close();
  }
}

async function copyFolder(
  deps: MailMigrationDeps,
  client: ImapFlow,
  accountId: string,
  folder: PlannedFolder,
  target: Mailbox,
  folderReport: FolderReport,
  report: AccountReport,
  options: CopyOptions,
): Promise<void> {
  const source = options.source.id;
  const opened = await client.mailboxOpen(folder.legacy, { readOnly: true });
  const uidValidity = Number(opened.uidValidity);
  const cursor = await deps.migrations.getCursor(accountId, source, folder.legacy);
  const resume = cursor !== null && cursor.uidValidity === uidValidity && cursor.mailboxId === target.id;
  let lastUid = resume ? cursor.lastUid : 0;
  let lastTargetUid = resume ? cursor.lastTargetUid : 0;
  let copiedTotal = resume ? cursor.copied : 0;
  const save = () =>
    deps.migrations.saveCursor({
      accountId,
      source,
      folder: folder.legacy,
      uidValidity,
      lastUid,
      mailboxId: target.id,
      lastTargetUid,
      copied: copiedTotal,
    });
  if (!resume) await deps.migrations.clearCopies(accountId, source, folder.legacy);
  else if (lastUid > 0 && opened.exists > 0)
    await syncFlags(deps, client, accountId, source, folder, target, lastUid, folderReport, report);
  if (opened.exists === 0 || opened.uidNext <= lastUid + 1) {
    if (!resume) await save();
    return;
  }
  // The UIDs above the cursor, one number each (`n:*` also answers the last message when every UID
  // is below n, RFC 9051 §6.4.8); their details are read a window at a time.
  const found = await client.search({ uid: `${lastUid + 1}:*` }, { uid: true });
  const above = [...new Set(found || [])].filter((u) => u > lastUid).sort((a, b) => a - b);
  if (above.length === 0) return;

  // Target messages that a previous run may have appended without recording it in the cursor.
  const already = new Map<string, number[]>();
  for await (const r of deps.mail.fetch(target.id, accountId, [[lastTargetUid + 1, 0xffffffff]])) {
    const k = dedupeKey(r.blobId, r.internalDate);
    const list = already.get(k);
    if (list) list.push(r.uid);
    else already.set(k, [r.uid]);
  }

  const messageError = (text: string) => {
    if (report.messageErrors.length < MAX_REPORTED_MESSAGE_ERRORS) report.messageErrors.push(`${folder.legacy} UID ${text}`);
  };
  const window = Math.max(1, options.window ?? WINDOW);
  for (let w = 0; w < above.length; w += window) {
    // UID, size, flags, date of this window (no bodies yet).
    const pending: { uid: number; size: number; flags: string[]; internalDate: Date }[] = [];
    for await (const m of client.fetch(
      uidSetText(above.slice(w, w + window)),
      { uid: true, size: true, flags: true, internalDate: true },
      { uid: true },
    )) {
      if (m.uid <= lastUid) continue;
      pending.push({ uid: m.uid, size: m.size ?? 0, flags: storableFlags(m.flags), internalDate: new Date(m.internalDate ?? Date.now()) });
    }
    pending.sort((a, b) => a.uid - b.uid);
    await copyWindow(pending);
  }

  async function copyWindow(pending: { uid: number; size: number; flags: string[]; internalDate: Date }[]): Promise<void> {
    for (let i = 0; i < pending.length;) {
      const copies: { legacyUid: number; targetUid: number }[] = [];
      const batch: typeof pending = [];
      let bytes = 0;
      while (i < pending.length && batch.length < BATCH_MESSAGES && (batch.length === 0 || bytes + pending[i]!.size <= BATCH_BYTES)) {
        const m = pending[i++]!;
        if (m.size > options.maxMessageBytes) {
          messageError(`${m.uid}: ${m.size} bytes, above the ${options.maxMessageBytes}-byte limit: not copied`);
          continue;
        }
        batch.push(m);
        bytes += m.size;
      }
      if (batch.length > 0) {
        const byUid = new Map(batch.map((m) => [m.uid, m]));
        const bodies = new Map<number, Buffer>();
        for await (const m of client.fetch(batch.map((m) => m.uid).join(','), { uid: true, source: true }, { uid: true })) {
          if (byUid.has(m.uid) && m.source) bodies.set(m.uid, m.source);
        }
        for (const m of batch) {
          const body = bodies.get(m.uid);
          // Listed but not sent (a response we could not read, or expunged since): this folder stops
          // here, unfinished, and the next run asks again.
          if (!body) throw new Error(`the legacy server did not send message UID ${m.uid}`);
          if (body.length === 0) {
            messageError(`${m.uid}: empty message, not copied`);
            continue;
          }
          let stored;
          try {
            stored = await putAnalysed(deps.blobs, [body], { maxBytes: options.maxMessageBytes });
          } catch (error) {
            if (!isPalabreError(error, 'too-large')) throw error;
            messageError(`${m.uid}: larger than the ${options.maxMessageBytes}-byte limit: not copied`);
            continue;
          }
          const twin = already.get(dedupeKey(stored.blob.id, m.internalDate))?.shift();
          if (twin !== undefined) {
            lastTargetUid = Math.max(lastTargetUid, twin);
            copies.push({ legacyUid: m.uid, targetUid: twin });
            folderReport.skipped++;
            report.skipped++;
            options.onMessage?.(report.address, 'skipped');
            continue;
          }
          try {
            const result = await deps.mail.append(
              target.id,
              newMessageOf(stored, { internalDate: m.internalDate, flags: m.flags }),
              accountId,
            );
            lastTargetUid = Math.max(lastTargetUid, result.uid);
            copies.push({ legacyUid: m.uid, targetUid: result.uid });
          } catch (error) {
            if (!isPalabreError(error, 'invalid') && !isPalabreError(error, 'too-large')) throw error;
            messageError(`${m.uid}: refused (${error.message})`);
            continue;
          }
          folderReport.copied++;
          report.copied++;
          copiedTotal++;
          options.onMessage?.(report.address, 'copied');
        }
      }
      // Everything up to here is in the target (or reported): the next run starts after it.
      lastUid = pending[i - 1]!.uid;
      await deps.migrations.recordCopies(accountId, source, folder.legacy, copies);
      await save();
    }
  }
}

const flagKey = (flags: readonly string[]) =>
  flags
    .map((f) => f.toLowerCase())
    .sort()
    .join(' ');

/** A UID set in IMAP syntax (`1:50,52`) for ascending UIDs. */
function uidSetText(uids: number[]): string {
  return rangesOf(uids)
    .map(([a, b]) => (a === b ? String(a) : `${a}:${b}`))
    .join(',');
}

/** Consecutive UIDs as ranges, for one STORE per flag set. */
function rangesOf(uids: number[]): UidSet {
  const sorted = [...uids].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const u of sorted) {
    const last = out.at(-1);
    if (last && last[1] + 1 === u) last[1] = u;
    else out.push([u, u]);
  }
  return out;
}

/**
 * Bring over flags changed on the legacy side since an earlier run copied the messages (agents keep
 * reading mail until the cutover): one FETCH FLAGS of the copied UIDs, compared with ours, one STORE
 * per distinct flag set. Messages expunged on the legacy side stay here.
 */
async function syncFlags(
  deps: MailMigrationDeps,
  client: ImapFlow,
  accountId: string,
  source: string,
  folder: PlannedFolder,
  target: Mailbox,
  lastUid: number,
  folderReport: FolderReport,
  report: AccountReport,
): Promise<void> {
  const copies = await deps.migrations.listCopies(accountId, source, folder.legacy);
  if (copies.length === 0) return;
  const legacy = new Map<number, string[]>();
  for await (const m of client.fetch(`1:${lastUid}`, { uid: true, flags: true }, { uid: true })) {
    if (m.uid <= lastUid) legacy.set(m.uid, storableFlags(m.flags));
  }
  const ours = new Map<number, readonly string[]>();
  for await (const r of deps.mail.fetch(target.id, accountId, [[1, 0xffffffff]])) ours.set(r.uid, r.flags);
  const changes = new Map<string, { flags: string[]; uids: number[] }>();
  for (const c of copies) {
    const theirs = legacy.get(c.legacyUid);
    const mine = ours.get(c.targetUid);
    if (!theirs || !mine || flagKey(theirs) === flagKey(mine)) continue;
    const k = flagKey(theirs);
    const group = changes.get(k) ?? { flags: theirs, uids: [] };
    group.uids.push(c.targetUid);
    changes.set(k, group);
  }
  for (const { flags, uids } of changes.values()) {
    const result = await deps.mail.storeFlags(target.id, accountId, rangesOf(uids), 'replace', flags);
    folderReport.flagsUpdated += result.updated.length;
    report.flagsUpdated += result.updated.length;
  }
}
