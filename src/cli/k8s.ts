import type { Command } from 'commander';
import { renderManifests, renderMergeJob, toYaml, type RenderOptions } from '../run/k8s.js';
import { collect, intOption } from './options.js';

/** The render options as flags give them: the start instant may be left out, target hosts come one flag each. */
type RenderFlags = Omit<RenderOptions, 'startAt' | 'allowTargets' | 'nowMs'> & { startAt?: string; allowTarget: string[]; mergeJob?: boolean };

export function registerK8s(program: Command): void {
  const k8s = program.command('k8s').description('Kubernetes manifests for a sharded run (deploy/kubernetes/README.md)');
  k8s
    .command('render')
    .description('print the ConfigMap (profile), Indexed Job (one pod per shard) and PodMonitor of a sharded run as YAML; with --merge-job, the Job that merges the shard folders')
    .requiredOption('--shards <n>', 'number of shards (pods)', intOption('--shards'))
    .requiredOption('-p, --profile <name|file>', 'profile name or file (its YAML goes into the ConfigMap)')
    .requiredOption('--run-id <id>', 'run id shared by every shard (names the Job)')
    .option('--start-at <iso>', 'common start instant (default: 3 minutes from now, time for scheduling and image pulls)')
    .requiredOption('--tcp <host:port>', "the platform's Teltonika TCP listener as the pods reach it")
    .option('--http <url>', "the platform's HTTP base URL (API/WebSocket clients on shard 0; clock check against its Date header)")
    .option('--prometheus-url <url>', "the Prometheus scraping the shards (clock check without --http; recorded by the merge)")
    .option('--image <ref>', 'fleetload image (deploy/Dockerfile)', 'fleetload:latest')
    .option('--namespace <ns>', 'namespace for every object')
    .option('--results-claim <pvc>', 'PersistentVolumeClaim mounted at /out for the shard folders (ReadWriteMany across nodes)', 'fleetload-results')
    .option('--workers <n>', 'engine worker threads per pod (default: from the pod\'s cores)', intOption('--workers'))
    .option('--devices <n>', 'override the fleet size (all shards together)', intOption('--devices'))
    .option('--duration <d>', 'override how long devices send')
    .option('--cpu <q>', 'CPU request per pod', '1')
    .option('--memory <q>', 'memory request and limit per pod', '1Gi')
    .option('--allow-target <host>', 'non-loopback host the shards may load (repeatable; the target\'s)', collect, [])
    .option('--merge-job', 'print only the merge Job (apply it once the shard Job is complete)')
    .action((f: RenderFlags) => {
      const now = Date.now();
      const startAt = f.startAt ?? new Date(Math.ceil((now + 180_000) / 1000) * 1000).toISOString();
      const docs = f.mergeJob
        ? [renderMergeJob({ shards: f.shards, runId: f.runId, image: f.image, namespace: f.namespace, resultsClaim: f.resultsClaim, prometheusUrl: f.prometheusUrl })]
        : renderManifests({ ...f, startAt, allowTargets: f.allowTarget, nowMs: now });
      process.stdout.write(toYaml(docs));
    });
}
