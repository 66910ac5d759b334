/**
 * `npm run bench:compare`: for each suite, the change of every case's median
 * between the last two sigvwap runs on this machine's fingerprint, and the
 * latest peer ratios (ours / peer) when bench:peers has run.
 */
import { fingerprint, readHistory, table } from './common.js';

interface Run {
  suite: string;
  impl?: string;
  commit: string;
  date: string;
  machine: { key: string };
  cases: { name: string; medianMs: number; ratio?: number; peer?: string; threads?: string }[];
}

const key = fingerprint().key;
const runs = (readHistory() as unknown as Run[]).filter((r) => r.machine?.key === key);
if (runs.length === 0) {
  console.log(`no benchmark runs recorded for this machine (${key}); run npm run bench:signature first`);
}
for (const suite of [...new Set(runs.map((r) => r.suite))]) {
  const ours = runs.filter((r) => r.suite === suite && (r.impl ?? 'sigvwap') === 'sigvwap');
  if (ours.length >= 2) {
    const [prev, last] = [ours[ours.length - 2]!, ours[ours.length - 1]!];
    const before = new Map(prev.cases.map((c) => [c.name, c.medianMs]));
    console.log(`\n${suite}: ${last.commit} (${last.date}) vs ${prev.commit} (${prev.date})`);
    console.log(
      table(
        last.cases.map((c) => {
          const b = before.get(c.name);
          return { case: c.name, 'median ms': c.medianMs, 'before ms': b ?? NaN, change: b ? `${(((c.medianMs - b) / b) * 100).toFixed(1)}%` : 'new' };
        }),
      ),
    );
  } else if (ours.length === 1) {
    console.log(`\n${suite}: one run so far (${ours[0]!.commit}); nothing to compare`);
  }
  const peers = runs.filter((r) => r.suite === suite && r.impl === 'peers');
  const lastPeers = peers[peers.length - 1];
  if (lastPeers) {
    console.log(`\n${suite}: peer ratios from ${lastPeers.date} (ours / peer, < 1 means sigvwap is faster)`);
    console.log(table(lastPeers.cases.map((c) => ({ case: c.name, peer: c.peer ?? '', threads: c.threads ?? '', 'peer ms': c.medianMs, 'ours/peer': c.ratio ?? NaN }))));
  }
}
