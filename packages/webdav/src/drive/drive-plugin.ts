import type { DavPlugin, DavPluginHost } from '../plugin.js';
import { nameOf } from '../href.js';
import type { DavResource } from '../resource.js';
import { DriveBackend, FILES, type DriveBackendOptions, type DriveData } from './drive-backend.js';
import { isJunkName } from './junk.js';

export const OC = 'http://owncloud.org/ns';
export const NC = 'http://nextcloud.org/ns';

export interface DrivePluginOptions extends DriveBackendOptions {
  /** Hide desktop junk (`._*`, `.DS_Store`, `Thumbs.db`, `desktop.ini`…) from listings. Default true. */
  hideJunk?: boolean;
}

export interface DrivePlugin extends DavPlugin {
  readonly backend: DriveBackend;
}

/**
 * The file drive on the DAV engine: mounts `files`, adds the ownCloud/Nextcloud properties sync clients
 * read (oc:fileid stable across renames, oc:permissions, oc:size, oc:checksums) and hides client junk.
 */
export function drivePlugin(options: DrivePluginOptions): DrivePlugin {
  const backend = new DriveBackend(options);
  const hideJunk = options.hideJunk ?? true;
  return {
    name: 'drive',
    backend,
    setup(host: DavPluginHost) {
      host.mount(FILES, backend);
      host.addNamespace('oc', OC);
      host.addNamespace('nc', NC);
      const node = (r: DavResource) => (r.backend === backend ? (r.data as DriveData).node : null);
      const appliesTo = (r: DavResource) => r.backend === backend;
      // Each a function of the resource object alone: rendered once per object of a cached listing.
      host.addProperty({ name: `{${OC}}fileid`, appliesTo, stable: true, get: (_c, r) => node(r)?.id });
      host.addProperty({ name: `{${OC}}id`, appliesTo, stable: true, get: (_c, r) => node(r)?.id });
      host.addProperty({ name: `{${OC}}size`, appliesTo, stable: true, get: (_c, r) => node(r)?.size.toString() });
      host.addProperty({
        name: `{${OC}}permissions`,
        appliesTo,
        stable: true,
        get: (_c, r) => {
          if (!node(r)) return undefined;
          if (!r.privileges.has('write-content')) return 'G';
          return r.collection ? 'GDNVCK' : 'GDNVW';
        },
      });
      host.addProperty({
        name: `{${OC}}checksums`,
        appliesTo,
        stable: true,
        get: (_c, r) => {
          const blob = node(r)?.blobId;
          return blob ? { xml: `<oc:checksum>SHA256:${blob}</oc:checksum>` } : undefined;
        },
      });
      if (hideJunk) {
        // A listing the backend hands out again (the same array) is filtered once.
        const shown = new WeakMap<readonly DavResource[], DavResource[]>();
        host.on('filterMembers', (_ctx, collection, members) => {
          if (collection.backend !== backend || collection.path.segments[0] !== FILES) return members;
          let kept = shown.get(members);
          if (!kept) shown.set(members, (kept = members.filter((m) => !isJunkName(nameOf(m.path)))));
          return kept;
        });
      }
    },
  };
}
