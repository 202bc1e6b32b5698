import { createHttpAuthenticator } from '@palabre/auth';
import { collectDriveGarbage, createDavHandler, drivePlugin, principalsPlugin } from '@palabre/webdav';
import { periodicJob } from './periodic.js';
import type { Service } from './service.js';
import type { ServiceSetup } from './services.js';

/** How often the drive's unreferenced blobs are collected (and once at start). */
const GC_INTERVAL_MS = 60 * 60_000;

/**
 * The drive (issue 3): the DAV engine under `/dav/` on the HTTP port, homes at `/dav/files/<address>/`,
 * group folders at `/dav/files/<group>/`, principals at `/dav/principals/`. `/.well-known` stays free.
 * The drive's bytes live in a blob store of their own (`<data>/blobs/drive`) so that its garbage
 * collection never looks at mail's blobs (`<data>/blobs/mail`).
 */
export function mountDrive(setup: ServiceSetup): Service {
  const { ctx, http, tls, insecureAuth } = setup;
  const logger = ctx.logger.child({ service: 'dav' });
  const blobs = ctx.blobs.drive;
  const handler = createDavHandler({
    basePath: '/dav',
    authenticator: createHttpAuthenticator(ctx.authenticator),
    locks: ctx.stores.locks,
    logger,
    isSecure: () => tls !== null || insecureAuth,
    // The Windows mini-redirector probes OPTIONS (and PROPFIND) on "/" before it mounts anything.
    serverRoot: true,
    plugins: [
      principalsPlugin({ directory: ctx.stores.directory }),
      drivePlugin({ store: ctx.stores.drive, blobs, directory: ctx.stores.directory }),
    ],
  });
  http.mount(
    '/dav/',
    handler,
    (user) => [`files:     ${http.origin}/dav/files/${user ?? '<your address>'}/ (WebDAV: Windows, Finder, GNOME Files, davfs2, rclone)`],
    (path, method) => handler.handles(path, method),
    { answersContinue: true },
  );

  return periodicJob('drive', GC_INTERVAL_MS, setup.background, () => collectDriveGarbage({ store: ctx.stores.drive, blobs, logger }));
}
