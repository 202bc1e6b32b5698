import type { LockManager } from './lock.js';
import type { PrivilegeDefinition } from './properties.js';
import type { DavBackend, DavHooks, DavServices, MethodHandler, PostHandler, PrincipalExtension, PrincipalUrls, PropertyDefinition, ReportDefinition } from './resource.js';

/** What a plugin may add to the engine. */
export interface DavPluginHost {
  /** Serve a backend under a top-level segment (`files`, `principals`, `calendars`…). */
  mount(segment: string, backend: DavBackend): void;
  /** A live property; `appliesTo` keeps it to the resources that have it (a plugin's own mount). */
  addProperty<P>(definition: PropertyDefinition<P>): void;
  /**
   * A method (MKCALENDAR…) or a wrap of one: for every mount, or with `mount` for that mount's paths
   * only. The handler's `next` runs the one registered before (the built-in method, for RFC 4918's).
   */
  addMethod(method: string, handler: MethodHandler, options?: { mount?: string }): void;
  addReport(definition: ReportDefinition): void;
  /** A POST handler, chosen by the body's root element or its content type. */
  addPost(handler: PostHandler): void;
  /** A privilege a plugin checks (CALDAV:read-free-busy…), shown in supported-privilege-set and grantable by ACL. */
  addPrivilege(definition: PrivilegeDefinition): void;
  addNamespace(prefix: string, ns: string): void;
  /** A compliance class for the DAV header (`calendar-access`…), on every mount or on one. */
  addCompliance(token: string, options?: { mount?: string }): void;
  on<K extends keyof DavHooks>(hook: K, fn: DavHooks[K]): void;
  /** Where principals live (the principals plugin sets it; every other plugin reads dav.principals). */
  setPrincipalUrls(urls: PrincipalUrls): void;
  /** Child principals and searchable principal properties of a plugin (calendar-proxy…). */
  addPrincipalExtension(extension: PrincipalExtension): void;
  readonly locks: LockManager;
  readonly dav: DavServices;
}

export interface DavPlugin {
  readonly name: string;
  setup(host: DavPluginHost): void;
}
