import { copyMethod, moveMethod } from './copy-move.js';
import { DavError } from './errors.js';
import { lockMethod, unlockMethod } from './lock.js';
import { deleteMethod, getMethod, mkcolMethod, optionsMethod, postMethod, putMethod } from './methods.js';
import { builtinProperties } from './properties.js';
import { propfindMethod } from './propfind.js';
import { proppatchMethod } from './proppatch.js';
import { aclMethod, reportMethod } from './report.js';
import type { DavPlugin } from './plugin.js';
import type { DavContext } from './resource.js';

/**
 * The methods of RFC 4918 (classes 1, 2 and 3), RFC 3744's ACL and RFC 3253's REPORT, with their live
 * properties: a plugin like any other, registered first, so that a later plugin can wrap a method for
 * its own mount and call the built-in one through `next`.
 */
export function rfc4918Plugin(): DavPlugin {
  return {
    name: 'rfc4918',
    setup(host) {
      const methods: Record<string, (ctx: DavContext) => Promise<void>> = {
        OPTIONS: optionsMethod,
        GET: getMethod,
        HEAD: getMethod,
        PUT: putMethod,
        DELETE: deleteMethod,
        MKCOL: mkcolMethod,
        COPY: copyMethod,
        MOVE: moveMethod,
        PROPFIND: propfindMethod,
        PROPPATCH: proppatchMethod,
        LOCK: lockMethod,
        UNLOCK: unlockMethod,
        REPORT: reportMethod,
        ACL: aclMethod,
        POST: postMethod,
      };
      for (const [method, fn] of Object.entries(methods)) host.addMethod(method, (ctx) => fn(ctx));
      for (const def of builtinProperties()) host.addProperty(def);
    },
  };
}

/** The end of every method chain: nobody answered. */
export function unhandled(method: string, allow: string): DavError {
  return new DavError(405, `${method} is not allowed here`, { headers: { allow } });
}
