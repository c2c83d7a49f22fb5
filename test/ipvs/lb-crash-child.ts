/**
 * Child process of lb-ipvs.test.ts: applies a big state in ipvs mode and dies in the middle of it.
 * The crash point is fixed here rather than raced from the parent (inside UML the whole apply can
 * finish before the parent's poll gets the CPU): the first IPVS batch sends only the first half of
 * its operations, cutting through a service's destinations, then the process SIGKILLs itself, with
 * no cleanup of any kind - what a crash between two sendmsg calls leaves in the kernel.
 */
import { Ipvs } from '../../lib/ipvs';
import { LoadBalancer } from '../../lib/lb';
import { bigState } from './lb-helpers';

const batch = Ipvs.prototype.batch;
Ipvs.prototype.batch = async function crashingBatch(this: Ipvs, ops, opts) {
  await batch.call(this, ops.slice(0, Math.floor(ops.length / 2) + 1), opts);
  process.kill(process.pid, 'SIGKILL');
  return new Promise<never>(() => {});
};

async function main(): Promise<void> {
  const [netns, n] = [process.argv[2]!, Number(process.argv[3])];
  const lb = await LoadBalancer.open({ mode: 'ipvs', netns, removeOtherModes: false });
  process.stdout.write('start\n');
  await lb.apply(bigState(n));
  process.stdout.write('done\n');
}
void main();
