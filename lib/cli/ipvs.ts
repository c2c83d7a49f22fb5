/** `kernlb ipvs list`: the IPVS table as `ipvsadm -Ln` prints it, or as JSON. */
import { Ipvs } from '../ipvs/ipvs';
import { formatIpvsadm, formatIpvsadmConnections, type IpvsadmFormat } from '../ipvs/format';
import { ExitCode, netnsOption, noExtraArgs, parseArgs, UsageError, type CliCommand } from './command';

const listHelp = `usage: kernlb ipvs list [-n] [--stats|--rate|--persistent-conn|--thresholds|--tun-info] [--exact] [-c] [--json] [--netns NAME]

Prints the virtual services and their destinations exactly as "ipvsadm -Ln" does.
  -n                 numeric output (always numeric; accepted for ipvsadm compatibility)
  --stats            totals: connections, packets and bytes in/out
  --rate             per-second rates
  --persistent-conn  persistent connection counts
  --thresholds       upper/lower connection thresholds
  --tun-info         tunnel type, port and checksum of each destination
  --exact            numbers unabbreviated (with --stats/--rate)
  -c, --connections  the connection table (ipvsadm -Lnc)
  --json             the full model as JSON (services with destinations and stats)
  --netns NAME       a named network namespace (/run/netns/NAME)
`;

const list: CliCommand = {
  name: 'ipvs list',
  summary: 'list IPVS services like ipvsadm -Ln (or --json)',
  help: listHelp,
  async run(args, io) {
    const a = parseArgs(args, {
      flags: ['n', 'numeric', 'stats', 'rate', 'persistent-conn', 'thresholds', 'tun-info', 'exact', 'json', 'c', 'connections'],
      values: ['netns'],
    });
    noExtraArgs(a, 0);
    const modes = (['stats', 'rate', 'persistent-conn', 'thresholds', 'tun-info'] as const).filter((m) => a.flags.has(m));
    if (modes.length > 1) throw new UsageError(`--${modes[0]} and --${modes[1]} cannot be combined`);
    const netns = netnsOption(a);
    const ipvs = await Ipvs.open(netns !== undefined ? { netns } : {});
    try {
      if (a.flags.has('c') || a.flags.has('connections')) {
        const conns = await ipvs.listConnections();
        io.out(a.flags.has('json') ? JSON.stringify(conns, null, 2) + '\n' : formatIpvsadmConnections(conns));
        return ExitCode.ok;
      }
      const [info, services] = await Promise.all([ipvs.info(), ipvs.listServices()]);
      if (a.flags.has('json')) {
        io.out(JSON.stringify({ info, services }, null, 2) + '\n');
        return ExitCode.ok;
      }
      const format: IpvsadmFormat = { mode: modes[0] ?? 'default', exact: a.flags.has('exact') };
      io.out(formatIpvsadm(info, services, format));
      return ExitCode.ok;
    } finally {
      await ipvs.close();
    }
  },
};

export const commands: CliCommand[] = [list];
