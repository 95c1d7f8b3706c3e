/**
 * A lifeline for long-running reader processes that cannot watch their parent themselves
 * (conntrack-tools' `conntrack -E`): `sh` runs the command in the background and a watchdog that
 * reads sh's stdin, a pipe ctflow holds open and never writes to. When ctflow dies, even by SIGKILL
 * outside a container that would take its children along, the kernel closes that pipe: the watchdog
 * reads EOF and ends the command. PR_SET_PDEATHSIG had no effect on the kernels tried; ctflow's own
 * reader (tools/ctnetlink) watches its stdin the same way itself.
 *
 * - The watchdog reads the pipe through fd 3: a non-interactive shell gives background commands
 *   /dev/null as stdin unless they redirect it explicitly.
 * - Its output goes to /dev/null, so it holds none of the pipes ctflow reads (their 'close' would
 *   otherwise wait for it).
 * - SIGTERM to sh (EventStream.stop) ends the command, and sh exits once it has.
 * - The command's own exit status is sh's.
 */
const SCRIPT = [
  'exec 3<&0',
  // The trap first: a SIGTERM right after the start must not leave the command running.
  'c=',
  `trap '[ -n "$c" ] && kill $c 2>/dev/null && wait $c; exit 143' TERM INT HUP`,
  '"$@" </dev/null 3<&- &',
  'c=$!',
  // The shell's own `read` (no cat process): it returns non-zero at EOF.
  '{ while read -r _; do :; done <&3; kill $c; } >/dev/null 2>&1 &',
  'exec 3<&-',
  'wait $c',
].join('\n');

/** `argv` run under the stdin lifeline: spawn the result with stdin as a pipe and never close it early. */
export function withStdinLifeline(argv: readonly string[]): string[] {
  // $0 names the shell in ps and in its error messages.
  return ['sh', '-c', SCRIPT, 'ctflow-lifeline', ...argv];
}
