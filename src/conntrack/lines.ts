/**
 * Splits a stream of text chunks into lines without ever holding more than one chunk plus one
 * partial line: a 100,000-entry dump is parsed as it arrives, never as one string.
 */
export class LineSplitter {
  private rest = '';
  private lineNo = 0;

  /** Feeds one chunk; calls `onLine` for every complete line, with its 1-based number. */
  push(chunk: string, onLine: (line: string, lineNo: number) => void): void {
    let start = 0;
    let nl = chunk.indexOf('\n');
    if (nl < 0) {
      this.rest += chunk;
      return;
    }
    if (this.rest !== '') {
      onLine(this.rest + chunk.slice(0, nl), ++this.lineNo);
      this.rest = '';
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    }
    while (nl >= 0) {
      onLine(chunk.slice(start, nl), ++this.lineNo);
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    }
    this.rest = chunk.slice(start);
  }

  /** Flushes a last line without a newline. */
  end(onLine: (line: string, lineNo: number) => void): void {
    if (this.rest !== '') onLine(this.rest, ++this.lineNo);
    this.rest = '';
  }

  /** Lines seen so far. */
  get lines(): number {
    return this.lineNo;
  }
}
