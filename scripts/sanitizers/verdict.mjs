// Reads the sanitizer report files of a test:sanitizers run and decides: exit 1 when node reported
// an ASan or UBSan error, or a leak whose stack reaches kernlb's sanitizer build; 0 otherwise.
// Reports of other programs (iproute2, nft...: not instrumented, they only carry the preloaded
// runtime) are counted, not judged.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
let failed = 0;
let others = 0;
let nodeLeaksElsewhere = 0;
for (const f of readdirSync(dir)) {
  const text = readFileSync(join(dir, f), 'utf8');
  if (!/^report\.node\./.test(f)) {
    others++;
    continue;
  }
  // One file may hold several reports; a leak report holds several leaks, each a paragraph.
  const errors = text.split(/\n(?==+\n==)/).filter((r) => /ERROR: AddressSanitizer|runtime error:|ERROR: UndefinedBehaviorSanitizer/.test(r));
  for (const r of errors) {
    failed++;
    console.error(`sanitizers: ${f}:\n${r.slice(0, 6000)}`);
  }
  for (const leak of text.split(/\n\n(?=(?:Direct|Indirect) leak)/).filter((p) => /^(?:Direct|Indirect) leak/.test(p))) {
    if (/kernlb\.node|native\/(?:netlink|ipvs|nft|iptables)\//.test(leak)) {
      failed++;
      console.error(`sanitizers: leak from kernlb (${f}):\n${leak.slice(0, 6000)}`);
    } else nodeLeaksElsewhere++;
  }
}
console.log(`sanitizers: ${failed} report(s) from kernlb; ${nodeLeaksElsewhere} unsuppressed leak(s) at exit without a kernlb frame (node/V8); ${others} report file(s) of other programs ignored`);
process.exit(failed ? 1 : 0);
