/** Public API of the conntrack source: read the kernel table, produce Observations and Watermarks. */
export { type ClockUs, wallClockUs } from './clock.js';
export type { ConntrackEntry, ConntrackEvent, ConntrackEventKind } from './entry.js';
export { checkKernelSupport, type KernelSupport, readBootId } from './kernel.js';
export { parseEventLine, parseExtendedLine } from './parse-extended-line.js';
export { parseXmlDumpLine } from './parse-xml-dump.js';
export { ConntrackSource, type SourceHandlers, type SourceOptions, type SourceStats } from './source.js';
export { IPS } from './status.js';
export { ConntrackTable, type TableContext, type TableStats } from './table.js';
export { type NetlinkLine, parseNetlinkLine } from './parse-netlink-line.js';
export { conntrackToolsReader, ctnetlinkReader, type Reader, type ReaderKind } from './reader.js';
