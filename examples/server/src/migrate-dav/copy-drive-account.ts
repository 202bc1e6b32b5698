import { isPalabreError, type DirectoryStore, type DriveNode, type DriveSpace, type Logger } from '@palabre/core';
import { DavError, MAX_PATH_DEPTH, writeDriveFile, type DriveWriteOptions } from '@palabre/webdav';
import type { LegacyLogin } from '../migrate-mail/copy-account.js';
import { basicAuth, LegacyError, legacyStream, type LegacyHttpOptions } from './legacy-http.js';
import { listMembers, type LegacyMember } from './propfind-members.js';

export interface DriveMigrationDeps extends DriveWriteOptions {
  readonly directory: DirectoryStore;
  readonly logger: Logger;
}

export interface DriveCopyOptions {
  /**
   * The legacy tree of each agent: a URL where `{login}` and `{address}` stand for the CSV's columns
   * (`https://files.example/webdav/{login}/`).
   */
  readonly from: string;
  /** Largest PROPFIND answer read (one folder's listing). */
  readonly maxResponseBytes: number;
  /** Folders and files copied per account at most (a tree that never ends is refused). */
  readonly maxEntries?: number;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly onFile?: (address: string, event: 'copied' | 'updated' | 'skipped', bytes: number) => void;
}

export interface DriveAccountReport {
  readonly address: string;
  readonly line?: number;
  status: 'ok' | 'failed';
  folders: number;
  copied: number;
  updated: number;
  skipped: number;
  bytes: number;
  /** Files or folders not copied (refused by Palabre or the legacy server): the account is not finished. */
  itemErrors: string[];
  errors: string[];
}

const MAX_REPORTED_ITEM_ERRORS = 100;

export function emptyDriveReport(address: string, line?: number): DriveAccountReport {
  return { address, line, status: 'ok', folders: 0, copied: 0, updated: 0, skipped: 0, bytes: 0, itemErrors: [], errors: [] };
}

/** The agent's legacy tree: the template with the CSV's columns put in (each percent-encoded). */
export function treeUrl(template: string, who: LegacyLogin): URL {
  const url = new URL(template.replace(/\{login\}/g, encodeURIComponent(who.login)).replace(/\{address\}/g, encodeURIComponent(who.address)));
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** Legacy mtimes have a second's resolution (HTTP dates): compared at that. */
const sameSecond = (a: Date, b: Date) => Math.floor(a.getTime() / 1000) === Math.floor(b.getTime() / 1000);

/**
 * Copy one agent's drive tree from a legacy WebDAV server into their Palabre home: walked a folder at
 * a time (PROPFIND Depth 1, never infinity), folders made, files streamed from the GET into the drive's
 * own write path (quota, size limit, malware scan) with their modification times. Resumable: a file
 * whose size and mtime match is skipped, any other is written again; nothing is ever written twice
 * under one name. Never throws for a problem of this account: it is in the report.
 */
export async function copyDriveAccount(deps: DriveMigrationDeps, who: LegacyLogin, options: DriveCopyOptions): Promise<DriveAccountReport> {
  const report = emptyDriveReport(who.address, who.line);
  const fail = (why: string) => {
    report.status = 'failed';
    if (!report.errors.includes(why)) report.errors.push(why);
    return report;
  };
  const itemError = (text: string) => {
    report.status = 'failed';
    if (report.itemErrors.length < MAX_REPORTED_ITEM_ERRORS) report.itemErrors.push(text);
  };
  const account = await deps.directory.findAccount(who.address);
  if (!account) return fail(`no Palabre account ${who.address}: create it first (palabre user add or palabre user import)`);
  let root: URL;
  try {
    root = treeUrl(options.from, who);
  } catch {
    return fail(`--from ${options.from} does not make a URL for ${who.address}`);
  }
  const http: LegacyHttpOptions = { origin: new URL(root.origin), maxResponseBytes: options.maxResponseBytes, timeoutMs: options.timeoutMs, signal: options.signal };
  const login = { user: who.login, password: who.password };
  const space: DriveSpace = await deps.store.ensureHome({ id: account.id, address: account.address });
  const top = await deps.store.getNode(space.rootId);
  if (!top) return fail('the Palabre home has no root folder');
  const maxEntries = options.maxEntries ?? 1_000_000;
  let entries = 0;

  // Breadth first, one level at a time: the queue holds folders to list, never their contents.
  const queue: { url: URL; node: DriveNode; path: string; depth: number }[] = [{ url: root, node: top, path: '/', depth: 0 }];
  const folderTimes: { node: DriveNode; at: Date }[] = [];
  try {
    while (queue.length) {
      const folder = queue.shift()!;
      let members: LegacyMember[];
      try {
        const listed = await listMembers(http, folder.url, login);
        for (const href of listed.outside) itemError(`${folder.path}: the legacy server listed ${JSON.stringify(href)} outside the folder: not followed`);
        members = listed.members;
      } catch (error) {
        if (error instanceof LegacyError && error.reason === 'refused' && folder.depth > 0) {
          itemError(`${folder.path}: ${error.message}`);
          continue;
        }
        throw error;
      }
      const here = new Map((await deps.store.children(folder.node.id)).map((n) => [n.name, n]));
      for (const m of members) {
        if (++entries > maxEntries) return fail(`more than ${maxEntries} files and folders: stopped (--max-entries)`);
        const path = `${folder.path}${m.name}${m.collection ? '/' : ''}`;
        const existing = here.get(m.name) ?? null;
        if (m.collection) {
          if (folder.depth + 1 >= MAX_PATH_DEPTH) {
            itemError(`${path}: deeper than ${MAX_PATH_DEPTH} folders: not copied`);
            continue;
          }
          let node = existing;
          if (node && node.kind !== 'dir') {
            itemError(`${path}: a Palabre file has this name`);
            continue;
          }
          if (!node) {
            try {
              node = await deps.store.createFolder(folder.node.id, m.name, m.modifiedAt ? { at: m.modifiedAt } : {});
            } catch (error) {
              if (!isPalabreError(error, 'invalid') && !isPalabreError(error, 'conflict')) throw error;
              itemError(`${path}: refused by Palabre (${(error as Error).message})`);
              continue;
            }
            report.folders++;
          }
          if (m.modifiedAt) folderTimes.push({ node, at: m.modifiedAt });
          queue.push({ url: m.url, node, path, depth: folder.depth + 1 });
          continue;
        }
        if (existing && existing.kind !== 'file') {
          itemError(`${path}: a Palabre folder has this name`);
          continue;
        }
        if (existing && m.size !== null && existing.size === m.size && m.modifiedAt && sameSecond(existing.modifiedAt, m.modifiedAt)) {
          report.skipped++;
          options.onFile?.(report.address, 'skipped', 0);
          continue;
        }
        await copyFile(deps, http, login, space, folder.node, m, existing, path, report, options, itemError);
      }
    }
    // Made folders took the time of their making and of each member bound since: the legacy times last.
    for (const { node, at } of folderTimes.reverse()) {
      const now = await deps.store.getNode(node.id);
      if (now && !sameSecond(now.modifiedAt, at)) await deps.store.setModified(node.id, at);
    }
  } catch (error) {
    if (isPalabreError(error, 'quota')) return fail('the account is over its Palabre quota');
    return fail(error instanceof LegacyError ? error.message : ((error as Error).message ?? String(error)).split('\n')[0]!);
  }
  return report;
}

async function copyFile(
  deps: DriveMigrationDeps,
  http: LegacyHttpOptions,
  login: { user: string; password: string },
  space: DriveSpace,
  folder: DriveNode,
  m: LegacyMember,
  existing: DriveNode | null,
  path: string,
  report: DriveAccountReport,
  options: DriveCopyOptions,
  itemError: (text: string) => void,
): Promise<void> {
  let got;
  try {
    got = await legacyStream(http, m.url, { headers: { authorization: basicAuth(login.user, login.password), 'accept-encoding': 'identity' } });
  } catch (error) {
    if (error instanceof LegacyError && (error.reason === 'refused' || error.reason === 'status')) {
      itemError(`${path}: ${error.message}`);
      return;
    }
    throw error;
  }
  const length = Number(got.response.headers.get('content-length') ?? NaN);
  try {
    const out = await writeDriveFile(
      deps,
      space,
      folder,
      m.name,
      {
        body: got.body,
        expectedLength: Number.isSafeInteger(length) && length >= 0 ? length : null,
        contentType: got.response.headers.get('content-type'),
        modifiedAt: m.modifiedAt,
        existing,
        // Written by name: a re-run replaces what an earlier one left, never adds a second file.
        expect: existing ? { version: existing.version } : { presence: 'absent' },
      },
      { log: deps.logger },
    );
    const event = existing ? 'updated' : 'copied';
    report[event]++;
    report.bytes += out.node.size;
    options.onFile?.(report.address, event, out.node.size);
  } catch (error) {
    if (error instanceof LegacyError) throw error;
    if (error instanceof DavError && error.status === 507) throw new Error('the account is over its Palabre drive quota');
    if (error instanceof DavError) {
      if (error.status === 400 && got) throw new LegacyError(`the connection to the legacy server was lost during ${path} (${error.message})`, 'lost');
      itemError(`${path}: refused by Palabre (${error.message})`);
      return;
    }
    if (isPalabreError(error, 'invalid') || isPalabreError(error, 'conflict')) {
      itemError(`${path}: refused by Palabre (${error.message})`);
      return;
    }
    throw error;
  }
}
