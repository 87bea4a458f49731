export { type EvtxRecord, parseChunk, type RenderMode } from './chunk.js';
export { type EvtxDiagnostic, EvtxFormatError, formatDiagnostic } from './errors.js';
export { type EventNode, type EventObject } from './json-sink.js';
export { chunkSlots, type EvtxFileHeader, type EvtxFileSummary, type EvtxReadOptions, readEvtxFile } from './reader.js';
export { type EventValue } from './values.js';
