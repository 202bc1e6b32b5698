/**
 * Every event name this package logs, a closed set (DESIGN.md: logging). Fields never hold Authorization
 * headers, passwords, lock owners' free text or file contents.
 */
export const DAV_LOG_EVENTS = [
  /** A request was answered: method, status, ms, bytes in/out (info for writes, debug for reads). */
  'dav.request',
  /** Authentication refused (status 401/403/429/503 and the reason, never the credentials). */
  'dav.auth.refused',
  /** An expected client error (4xx) with its reason. */
  'dav.request.rejected',
  /** An unexpected failure (500) with its cause chain. */
  'dav.request.failed',
  /** The client went away before the response completed (upload aborted, download cut). */
  'dav.request.aborted',
  'dav.lock.acquired',
  'dav.lock.refreshed',
  'dav.lock.released',
  /** A drive write: kind (put, mkcol, delete, move, copy, proppatch), path, size. */
  'drive.changed',
  /** An upload refused because the malware scanner found something (signature, blob). */
  'drive.malware-refused',
  /** The malware scanner could not answer for an upload (refused or let through by the fail mode). */
  'drive.scan-unavailable',
  /** Garbage collection of blobs no node references any more. */
  'drive.gc.done',
  'drive.gc.failed',
  /** A home was created on first use. */
  'drive.home.created',
] as const;

export type DavLogEvent = (typeof DAV_LOG_EVENTS)[number];
