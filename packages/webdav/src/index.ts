export { createDavHandler, DavEngine } from './engine.js';
export type { DavHandler, DavHandlerOptions, DavPlugin, DavPluginHost, DavHooks, DavLimits } from './engine.js';
export { DavError, toDavError, DAV } from './errors.js';
export type { DavErrorOptions } from './errors.js';
export { DAV_LOG_EVENTS } from './log-events.js';
export type { DavLogEvent } from './log-events.js';
export { LockManager } from './lock.js';
export type { LockOptions } from './lock.js';
export { davPath, hrefOf, encodeSegment, parseTarget, canonicalAddress, MAX_PATH_BYTES, MAX_PATH_DEPTH } from './href.js';
export type { DavPath } from './href.js';
export { parseXml, serializeElement, element, escapeText, escapeAttr, XML_NS } from './xml-codec.js';
export type { XmlElement, XmlNode, XmlAttribute, XmlLimits } from './xml-codec.js';
export { parseIfHeader, evaluateIf, submittedTokens } from './if-header.js';
export type { IfList, IfCondition } from './if-header.js';
export { READ_ONLY, READ_WRITE, ALL_PRIVILEGES, NO_PRIVILEGES } from './resource.js';
export type {
  DavBackend,
  DavContext,
  DavLookup,
  DavResource,
  Privilege,
  PropertyDefinition,
  PropertyValue,
  MethodHandler,
  ReportHandler,
  WriteRequest,
  TransferRequest,
  Ace,
} from './resource.js';
export { hrefXml, statusXml, XmlStream, Namespaces } from './multistatus.js';
export { principalsPlugin, PrincipalsBackend, findVisibleAccount, findVisibleGroup } from './principals.js';
export { drivePlugin, OC, NC } from './drive/drive-plugin.js';
export type { DrivePlugin, DrivePluginOptions } from './drive/drive-plugin.js';
export { DriveBackend, etagOf, parseMtime } from './drive/drive-backend.js';
export type { DriveBackendOptions, DriveData } from './drive/drive-backend.js';
export { collectDriveGarbage } from './drive/gc.js';
export type { DriveGcOptions, DriveGcResult } from './drive/gc.js';
export { isJunkName } from './drive/junk.js';
