export { analyzeMessage, MimeAnalyzer, MAX_MIME_DEPTH, MAX_MIME_PARTS, MAX_PART_HEADER_BYTES } from './mime/analyze.js';
export type { AnalyzedMessage, AnalyzeOptions, MessageSource } from './mime/analyze.js';
export type { AnalysisData, PartNode } from './mime/types.js';
