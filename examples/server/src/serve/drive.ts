import { createHttpAuthenticator } from '@palabre/auth';
import { caldavPlugin, isWellKnownDav, syncDirectoryBooks, wellKnownHandler } from '@palabre/caldav';
import { SqlCalendarStore } from '@palabre/core/storage';
import { collectDriveGarbage, createDavHandler, drivePlugin, principalsPlugin } from '@palabre/webdav';
import { afterSettling, periodicJob } from './periodic.js';
import type { Service } from './service.js';
import { scannerUnavailableCounter, type MalwareScanner } from '@palabre/core';
import type { ServiceSetup } from './services.js';

/** How often the drive's unreferenced blobs are collected (and once at start). */
const GC_INTERVAL_MS = 60 * 60_000;
/** How often each domain's address list (`annuaire`) is brought up to date with the directory (and once at start). */
const DIRECTORY_BOOK_INTERVAL_MS = 15 * 60_000;

/**
 * One DAV engine under `/dav/` on the HTTP port: the drive (homes at `/dav/files/<address>/`, group
 * folders at `/dav/files/<group>/`), principals at `/dav/principals/`, calendars at
 * `/dav/calendars/<address>/` and address books at `/dav/addressbooks/<address>/`;
 * `/.well-known/caldav` and `/.well-known/carddav` lead there from the bare host. The drive's bytes live
 * in a blob store of their own (`<data>/blobs/drive`) so that its garbage collection never looks at
 * mail's blobs (`<data>/blobs/mail`); calendar objects and cards are kept in the database.
 */
export async function mountDrive(setup: ServiceSetup, malware: { readonly scanner: MalwareScanner; readonly failMode: 'open' | 'closed' } | null = null): Promise<Service[]> {
  const { ctx, http, tls, insecureAuth } = setup;
  const logger = ctx.logger.child({ service: 'dav' });
  const blobs = ctx.blobs.drive;
  const notifier = await ctx.notifier();
  const calendars = new SqlCalendarStore(ctx.db, { notifier, logger: ctx.logger });
  const drive = drivePlugin({ store: ctx.stores.drive, blobs, directory: ctx.stores.directory, ...(malware ? { malware: countedScans(malware, scannerUnavailableCounter(ctx.metrics)) } : {}) });
  const handler = createDavHandler({
    notifier,
    basePath: '/dav',
    authenticator: createHttpAuthenticator(ctx.authenticator),
    locks: ctx.stores.locks,
    logger,
    isSecure: () => tls !== null || insecureAuth,
    // The Windows mini-redirector probes OPTIONS (and PROPFIND) on "/" before it mounts anything.
    serverRoot: true,
    plugins: [
      principalsPlugin({ directory: ctx.stores.directory }),
      drive,
      caldavPlugin({ store: calendars, directory: ctx.stores.directory, usage: ctx.stores.usage, drive: drive.backend }),
    ],
  });
  http.mount(
    '/dav/',
    handler,
    (user) => [
      `files:     ${http.origin}/dav/files/${user ?? '<your address>'}/ (WebDAV: Windows, Finder, GNOME Files, davfs2, rclone)`,
      `calendars: ${http.origin}/ (CalDAV and CardDAV: the server address is enough; or ${http.origin}/dav/calendars/${user ?? '<your address>'}/)`,
    ],
    (path, method) => handler.handles(path, method),
    { answersContinue: true },
  );

  const wellKnown = wellKnownHandler('/dav/');
  http.mount('/.well-known/caldav', wellKnown, undefined, (path) => isWellKnownDav(path));
  http.mount('/.well-known/carddav', wellKnown, undefined, (path) => isWellKnownDav(path));

  return [
    periodicJob('drive-gc', GC_INTERVAL_MS, { background: setup.background, leadership: ctx.db, again: afterSettling }, () => collectDriveGarbage({ store: ctx.stores.drive, blobs, logger })),
    periodicJob('directory-books', DIRECTORY_BOOK_INTERVAL_MS, { background: setup.background, leadership: ctx.db }, () =>
      syncDirectoryBooks({ directory: ctx.stores.directory, store: calendars, logger }).catch((error: unknown) => {
        logger.warn({ err: (error as Error).message }, 'carddav.directory-sync-failed');
      }),
    ),
  ];
}

/** The drive's clamd, each scan that could not be made counted (`palabre_scanner_unavailable_total`, use `drive`). */
function countedScans(
  malware: { readonly scanner: MalwareScanner; readonly failMode: 'open' | 'closed' },
  counted: ReturnType<typeof scannerUnavailableCounter>,
): { readonly scanner: MalwareScanner; readonly failMode: 'open' | 'closed' } {
  const { scanner, failMode } = malware;
  return {
    failMode,
    scanner: {
      async scan(content) {
        try {
          return await scanner.scan(content);
        } catch (error) {
          counted('clamd', 'drive', failMode);
          throw error;
        }
      },
    },
  };
}
