/**
 * The first thing a new user can meet: `ctflow run` on a host where nothing makes the kernel track
 * connections. Since Linux 4.x nf_conntrack hooks into the network stack only once something asks
 * for it (an iptables/nftables rule matching on conntrack state, NAT, a CT target), so the table
 * stays empty and ctflow would export nothing, silently. Say so once, with the fix.
 */

/** The warning for an empty table, naming the fix. */
export const EMPTY_TABLE_WARNING =
  'the conntrack table is empty: nothing on this host enables connection tracking, so ctflow has nothing to report. ' +
  'The kernel tracks connections only once a firewall rule or NAT uses conntrack; fix: ' +
  'iptables -I INPUT -m conntrack --ctstate NEW,ESTABLISHED,RELATED -j ACCEPT && ' +
  'iptables -I OUTPUT -m conntrack --ctstate NEW,ESTABLISHED,RELATED -j ACCEPT ' +
  '(ip6tables likewise; or an nftables rule with "ct state"), and make sure the nf_conntrack module is loaded (modprobe nf_conntrack)';

/**
 * The warning to log after the source's first poll, or null: a table with no entry at all (not even
 * the agent host's own connections) almost always means tracking is off.
 */
export function emptyTableWarning(firstPollEntries: number | undefined): string | null {
  return firstPollEntries === 0 ? EMPTY_TABLE_WARNING : null;
}
