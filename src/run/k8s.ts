// `fleetload k8s render`: the Kubernetes manifests of a sharded run, rendered from code so that the shard count, the
// run id and the start instant are always in step: the profile in a ConfigMap; an Indexed Job whose pod i runs
// `fleetload generate --shard i/n` (parallelism = completions = n, no retries: a re-run shard would start late, and
// the merge reports a failed one instead); a PodMonitor and prometheus.io annotations so Prometheus scrapes every
// shard; and, on request, the merge Job that joins the shard folders on the shared results volume.
// The types come from kubernetes-models (type-only: nothing of it is bundled); the tests validate the output against
// the package's Kubernetes JSON schemas (batch/v1 Job, v1 ConfigMap, monitoring.coreos.com/v1 PodMonitor).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IIoK8sApiCoreV1Container } from 'kubernetes-models/v1/Container';
import type { IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { stringify } from 'yaml';
import { badInput } from '../core/errors.js';
import { RUN_ID_PATTERN } from '../core/manifest.js';
import { loadProfile, profilesDir } from './profile.js';
import { parseStartAt } from './shards.js';

export const METRICS_PORT = 9464;
export const OUT_MOUNT = '/out';
const PROFILE_MOUNT = '/profile';

export interface RenderOptions {
  shards: number;
  /** profile name or file; its YAML goes into the ConfigMap as it is */
  profile: string;
  runId: string;
  /** ISO, in the future: pods must be scheduled, pulled and started by then */
  startAt: string;
  tcp: string;
  http?: string;
  prometheusUrl?: string;
  image: string;
  namespace?: string;
  /** PersistentVolumeClaim for the shard folders (ReadWriteMany when pods land on several nodes) */
  resultsClaim: string;
  workers?: number;
  devices?: number;
  duration?: string;
  /** per pod */
  cpu: string;
  memory: string;
  /** hosts outside loopback the shards may load (the target's) */
  allowTargets: string[];
  nowMs: number;
}

export type Manifest = IConfigMap | IJob | IPodMonitor;

const labelsOf = (runId: string) => ({ 'app.kubernetes.io/name': 'fleetload', 'app.kubernetes.io/component': 'shard', 'fleetload.io/run-id': runId });

/** Bad input before anything is rendered: a wrong shard count, run id or start instant. */
function check(o: RenderOptions): void {
  if (!Number.isInteger(o.shards) || o.shards < 1 || o.shards > 1024) throw badInput(`--shards: expected a whole number from 1 to 1024, got ${o.shards}`);
  if (!RUN_ID_PATTERN.test(o.runId) || o.runId.length > 40) throw badInput(`--run-id: 1–40 letters, digits, "-" and "_" (it names the Job), got "${o.runId}"`);
  parseStartAt(o.startAt, o.nowMs);
}

/** Kubernetes names are DNS labels: lower case, no "_". */
export const k8sName = (runId: string) => `fleetload-${runId.toLowerCase().replace(/_/g, '-')}`;

export function renderManifests(o: RenderOptions): Manifest[] {
  check(o);
  const profile = loadProfile(o.profile);
  const file = `${profile.name}.yaml`;
  const text = readFileSync(o.profile.endsWith('.yaml') || o.profile.includes('/') ? o.profile : join(profilesDir(), file), 'utf8');
  const name = k8sName(o.runId);
  const meta = (suffix = '') => ({ name: `${name}${suffix}`, ...(o.namespace ? { namespace: o.namespace } : {}), labels: labelsOf(o.runId) });
  const configMap: IConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('-profile'), data: { [file]: text } };
  const job: IJob = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(),
    spec: {
      completionMode: 'Indexed',
      completions: o.shards,
      parallelism: o.shards,
      backoffLimit: 0,
      ttlSecondsAfterFinished: 86_400,
      template: {
        metadata: {
          labels: labelsOf(o.runId),
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(METRICS_PORT), 'prometheus.io/path': '/metrics' },
        },
        spec: {
          restartPolicy: 'Never',
          securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001 },
          containers: [shardContainer(o, file)],
          volumes: [
            { name: 'profile', configMap: { name: `${name}-profile` } },
            { name: 'results', persistentVolumeClaim: { claimName: o.resultsClaim } },
            // the root file system is read-only; Node and the engine may still want a scratch /tmp
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
    },
  };
  const podMonitor: IPodMonitor = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PodMonitor',
    metadata: meta(),
    spec: {
      selector: { matchLabels: labelsOf(o.runId) },
      podMetricsEndpoints: [{ port: 'metrics', path: '/metrics', interval: '5s' }],
    },
  };
  return [configMap, job, podMonitor];
}

function shardContainer(o: RenderOptions, file: string): IIoK8sApiCoreV1Container {
  const index = '$(JOB_COMPLETION_INDEX)';
  const args = [
    'generate',
    '--profile', `${PROFILE_MOUNT}/${file}`,
    '--tcp', o.tcp,
    '--shard', `${index}/${o.shards}`,
    '--run-id', o.runId,
    '--start-at', o.startAt,
    '--out', `${OUT_MOUNT}/${o.runId}/shard-${index}`,
    '--metrics-port', String(METRICS_PORT),
    ...(o.http ? ['--http', o.http] : []),
    ...(o.prometheusUrl ? ['--prometheus-url', o.prometheusUrl] : []),
    ...(o.workers !== undefined ? ['--workers', String(o.workers)] : []),
    ...(o.devices !== undefined ? ['--devices', String(o.devices)] : []),
    ...(o.duration !== undefined ? ['--duration', o.duration] : []),
    ...o.allowTargets.flatMap((h) => ['--allow-target', h]),
  ];
  return {
    name: 'shard',
    image: o.image,
    args,
    // the Job controller sets it too; declared so that $(JOB_COMPLETION_INDEX) in args expands on every version
    env: [{ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } }],
    ports: [{ name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' }],
    resources: { requests: { cpu: o.cpu, memory: o.memory }, limits: { memory: o.memory } },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    volumeMounts: [
      { name: 'profile', mountPath: PROFILE_MOUNT, readOnly: true },
      { name: 'results', mountPath: OUT_MOUNT },
      { name: 'tmp', mountPath: '/tmp' },
    ],
  };
}

/** The Job that joins the shard folders once the shard Job is complete (apply it after `kubectl wait`). */
export function renderMergeJob(o: Pick<RenderOptions, 'shards' | 'runId' | 'image' | 'namespace' | 'resultsClaim' | 'prometheusUrl'>): IJob {
  const name = `${k8sName(o.runId)}-merge`;
  const dirs = Array.from({ length: o.shards }, (_, i) => `${OUT_MOUNT}/${o.runId}/shard-${i}`);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, ...(o.namespace ? { namespace: o.namespace } : {}), labels: { ...labelsOf(o.runId), 'app.kubernetes.io/component': 'merge' } },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels: { ...labelsOf(o.runId), 'app.kubernetes.io/component': 'merge' } },
        spec: {
          restartPolicy: 'Never',
          securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001 },
          containers: [
            {
              name: 'merge',
              image: o.image,
              // a missing shard folder is passed on purpose: merge names it, and the merged run is invalid
              args: ['merge', ...dirs, '--out', `${OUT_MOUNT}/${o.runId}/run`, ...(o.prometheusUrl ? ['--prometheus-url', o.prometheusUrl] : [])],
              resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '2Gi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [{ name: 'results', mountPath: OUT_MOUNT }],
            },
          ],
          volumes: [{ name: 'results', persistentVolumeClaim: { claimName: o.resultsClaim } }],
        },
      },
    },
  };
}

/** Multi-document YAML for `kubectl apply -f -`. */
export function toYaml(docs: object[]): string {
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}
