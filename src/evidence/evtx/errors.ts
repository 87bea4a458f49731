/** A structural problem in EVTX data; the reader turns it into a diagnostic with file, chunk and offset. */
export class EvtxFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvtxFormatError';
  }
}

/** Where a problem was found and what it was; reported, never thrown past the reader. */
export interface EvtxDiagnostic {
  file: string;
  /** Chunk index within the file, or -1 for the file header. */
  chunk: number;
  /** Byte offset within the file. */
  offset: number;
  /** 'warning': data read anyway (e.g. checksum mismatch); 'error': that piece was skipped. */
  severity: 'warning' | 'error';
  message: string;
}

export function formatDiagnostic(d: EvtxDiagnostic): string {
  const where = d.chunk < 0 ? 'file header' : `chunk ${d.chunk}`;
  return `${d.file}: ${where}, offset 0x${d.offset.toString(16)}: ${d.severity}: ${d.message}`;
}
