/**
 * Splits a stream of byte chunks into lines without ever holding more than one chunk plus one
 * partial line: a 100,000-entry dump is handled as it arrives, never as one string. Lines are
 * handed over as views into the chunk (no copy), so callers can look at bytes before paying for a
 * string (see fingerprint.ts).
 */
export class LineSplitter {
  private rest: Buffer | null = null;
  private lineNo = 0;

  /** Feeds one chunk; calls `onLine` for every complete line, with its 1-based number. */
  push(chunk: Buffer, onLine: (line: Buffer, lineNo: number) => void): void {
    let start = 0;
    let nl = chunk.indexOf(10);
    if (nl < 0) {
      this.rest = this.rest === null ? Buffer.from(chunk) : Buffer.concat([this.rest, chunk]);
      return;
    }
    if (this.rest !== null) {
      const first = Buffer.concat([this.rest, chunk.subarray(0, nl)]);
      this.rest = null;
      onLine(first, ++this.lineNo);
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    while (nl >= 0) {
      onLine(chunk.subarray(start, nl), ++this.lineNo);
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    // Copied: the chunk's memory may be reused by the stream.
    this.rest = start < chunk.length ? Buffer.from(chunk.subarray(start)) : null;
  }

  /** Flushes a last line without a newline. */
  end(onLine: (line: Buffer, lineNo: number) => void): void {
    if (this.rest !== null && this.rest.length > 0) onLine(this.rest, ++this.lineNo);
    this.rest = null;
  }

  /** Lines seen so far. */
  get lines(): number {
    return this.lineNo;
  }
}
