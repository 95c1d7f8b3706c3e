/**
 * Fencing of changelog writers (zombie processors). A processor frozen longer than its session timeout (GC
 * pause, VM freeze) loses its partitions without knowing it; thawed, it may still write the output of the
 * batch it had in flight to the changelog, after the new owner restored from it. Those late values must
 * never win at a later restore (a flow state older than the one exported since would export its deltas
 * again).
 *
 * Every owner of changelog partition p first **claims** it: a record under OWNER_KEY whose epoch is the
 * partition's end offset before the claim (so a later claim never has a lower epoch), plus a random owner
 * id that breaks ties. Each record the owner writes afterwards carries its claim in the OWNER_HEADER header.
 * A restore folds the changelog in offset order through an {@link OwnerFence}: a claim counts only when
 * its epoch is above the current one, and a record written by an older owner after a newer claim is stale:
 * it is left out. The writers check offsets too (see processor.ts): a write that does not land right after
 * the owner's previous one means someone else wrote; the owner then exports nothing more from its state.
 *
 * Records without the header (written before ctflow had fencing) are always taken, so a rolling upgrade
 * keeps every state.
 */
import { CtflowError } from '../errors.js';

/** Changelog key of owner claims (never a flow key: no `|`; never a node key: no leading `@`). */
export const OWNER_KEY = '#ctflow-owner';

/** Record header naming the claim its writer held: "<epoch>:<owner id>". */
export const OWNER_HEADER = 'ctflow-owner';

/** Who owns a changelog partition from a point of the log on. */
export interface OwnerClaim {
  /** The partition's end offset when the claim was made (higher claims come later). */
  epoch: number;
  /** Random per processor: tells two claims made at the same end offset apart. */
  owner: string;
}

/** True when a changelog key is an owner claim. */
export function isOwnerKey(key: string): boolean {
  return key === OWNER_KEY;
}

/** The OWNER_HEADER value of a claim. */
export function claimHeader(claim: OwnerClaim): string {
  return `${claim.epoch}:${claim.owner}`;
}

/** The claim record's value: JSON, readable with kafka-console-consumer (the header is what counts). */
export function encodeClaim(claim: OwnerClaim): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, ...claim }));
}

/** Parses an OWNER_HEADER value; throws CODEC_DECODE naming the record when it is not one. */
export function parseClaimHeader(value: Buffer, where: string): OwnerClaim {
  const text = value.toString('latin1');
  const colon = text.indexOf(':');
  const epoch = colon > 0 ? Number(text.slice(0, colon)) : Number.NaN;
  const owner = text.slice(colon + 1);
  if (!Number.isSafeInteger(epoch) || epoch < 0 || owner.length === 0) {
    throw new CtflowError('CODEC_DECODE', `${where}: header ${OWNER_HEADER} = ${JSON.stringify(text)}`, {
      details: { where, header: OWNER_HEADER, value: text, expected: '<epoch>:<owner id>' },
    });
  }
  return { epoch, owner };
}

/** Same claim? */
export function sameClaim(a: OwnerClaim | undefined, b: OwnerClaim | undefined): boolean {
  return a !== undefined && b !== undefined && a.epoch === b.epoch && a.owner === b.owner;
}

/**
 * The fold's view of ownership, record by record in offset order: which claim is current, and whether a
 * record's writer still held the partition when it wrote.
 */
export class OwnerFence {
  #current: OwnerClaim | undefined;
  /** The current claim's header bytes: most records carry exactly these (compared without parsing). */
  #currentBytes: Buffer | undefined;
  /** Claims and records left out as stale. */
  staleClaims = 0;
  staleRecords = 0;

  /** The newest claim that counted, if any. */
  get current(): OwnerClaim | undefined {
    return this.#current;
  }

  /**
   * The current claim's OWNER_HEADER value as bytes: a record carrying exactly these counts (readers may
   * compare in place, without a Buffer per record, and call accepts() only for other values).
   */
  get currentHeader(): Buffer | undefined {
    return this.#currentBytes;
  }

  /**
   * An owner claim record (its OWNER_HEADER value): it becomes the current claim when its epoch is above
   * the current one. Returns whether it did.
   */
  claim(header: Buffer | null, where: string): boolean {
    if (header === null) return false;
    const c = parseClaimHeader(header, where);
    if (this.#current !== undefined && c.epoch <= this.#current.epoch) {
      this.staleClaims++;
      return false;
    }
    this.#current = c;
    this.#currentBytes = Buffer.from(header);
    return true;
  }

  /**
   * Whether a record (its OWNER_HEADER value, null when it has none) counts. It does when it has no header
   * (an old writer), when its writer holds the current claim, or when its epoch is above the current
   * claim's (a newer owner whose claim record was compacted away). It is stale when written under an older
   * claim, or under another owner's claim of the same epoch, after the current claim.
   */
  accepts(header: Buffer | null, where: string): boolean {
    if (header === null || this.#current === undefined) return true;
    if (this.#currentBytes !== undefined && header.equals(this.#currentBytes)) return true;
    const c = parseClaimHeader(header, where);
    if (c.epoch > this.#current.epoch) return true;
    this.staleRecords++;
    return false;
  }
}
