import { createHash } from 'node:crypto';

/** A download refused: too large, cut short, of the wrong digest, or not there. */
export class DownloadError extends Error {}

/**
 * Fetches a URL into memory, refusing more than `maxBytes`, a body shorter than its Content-Length
 * (a truncated transfer), and, when `sha256` is given, a body of another digest.
 */
export async function download(url: string, opts: { maxBytes: number; sha256?: string; timeoutMs?: number }): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 300_000), redirect: 'follow' });
  } catch (e) {
    throw new DownloadError(`${url}: ${(e as Error).message}${(e as { cause?: Error }).cause ? ` (${(e as { cause: Error }).cause.message})` : ''}`);
  }
  if (!res.ok || !res.body) throw new DownloadError(`${url}: HTTP ${res.status} ${res.statusText}`);
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > opts.maxBytes) throw new DownloadError(`${url}: ${declared} bytes is more than the ${opts.maxBytes} allowed`);
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
      size += part.length;
      if (size > opts.maxBytes) throw new DownloadError(`${url}: more than the ${opts.maxBytes} bytes allowed`);
      parts.push(part);
    }
  } catch (e) {
    if (e instanceof DownloadError) throw e;
    throw new DownloadError(`${url}: the transfer broke off after ${size} bytes (${(e as Error).message})`);
  }
  if (!Number.isNaN(declared) && size !== declared) throw new DownloadError(`${url}: got ${size} bytes of the ${declared} announced`);
  const body = Buffer.concat(parts);
  if (opts.sha256) {
    const digest = createHash('sha256').update(body).digest('hex');
    if (digest !== opts.sha256.toLowerCase()) throw new DownloadError(`${url}: SHA-256 ${digest}, expected ${opts.sha256}`);
  }
  return body;
}
