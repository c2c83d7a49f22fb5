/** Child process of lb-ipvs.test.ts: applies a big state in ipvs mode and is killed in the middle. */
import { LoadBalancer } from '../../lib/lb';
import { bigState } from './lb-helpers';

async function main(): Promise<void> {
  const [netns, n] = [process.argv[2]!, Number(process.argv[3])];
  const lb = await LoadBalancer.open({ mode: 'ipvs', netns, removeOtherModes: false });
  process.stdout.write('start\n');
  await lb.apply(bigState(n));
  process.stdout.write('done\n');
}
void main();
