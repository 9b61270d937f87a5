// The Kubernetes manifests of a sharded run, rendered for 1, 4 and 32 shards and validated offline against the
// Kubernetes JSON schemas that the kubernetes-models npm packages compile (batch/v1 Job, v1 ConfigMap, and the
// Prometheus Operator's monitoring.coreos.com/v1 PodMonitor CRD), plus what the schemas cannot know: the Job is
// Indexed with parallelism = completions = n, each pod runs its own shard, the ConfigMap key is the file the pod
// reads, and the PodMonitor selects the pods on the port they expose.
import { describe, expect, it } from 'vitest';
import { Job, type IJob } from 'kubernetes-models/batch/v1/Job';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PodMonitor, type IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { PersistentVolumeClaim, type IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { ExitCode, FleetloadError } from '../../src/core/errors.js';
import { renderManifests, renderMergeJob, toYaml, type RenderOptions } from '../../src/run/k8s.js';

// each model's validate() runs the schema compiled from the Kubernetes OpenAPI / the CRD and throws on a violation
const models: Record<string, (doc: never) => { validate(): void }> = {
  Job: (d: IJob) => new Job(d),
  ConfigMap: (d: IConfigMap) => new ConfigMap(d),
  PodMonitor: (d: IPodMonitor) => new PodMonitor(d),
  PersistentVolumeClaim: (d: IPersistentVolumeClaim) => new PersistentVolumeClaim(d),
};

function schemaErrors(doc: { kind: string }): string[] {
  const model = models[doc.kind];
  if (!model) return [`no schema for kind ${doc.kind}`];
  try {
    model(doc as never).validate();
    return [];
  } catch (e) {
    return [(e as Error).message];
  }
}

const NOW = Date.parse('2030-01-01T12:00:00Z');
const options = (shards: number, over: Partial<RenderOptions> = {}): RenderOptions => ({
  shards,
  profile: 'fleet-1000',
  runId: 'fleet_1000-k8s',
  startAt: '2030-01-01T12:03:00Z',
  tcp: 'fleet-platform.fleet.svc:5027',
  http: 'http://fleet-platform.fleet.svc:8080',
  image: 'registry.example/fleetload:0.1.0',
  namespace: 'load',
  resultsClaim: 'fleetload-results',
  cpu: '1',
  memory: '1Gi',
  allowTargets: ['fleet-platform.fleet.svc'],
  nowMs: NOW,
  ...over,
});

describe('k8s render', () => {
  for (const n of [1, 4, 32]) {
    it(`${n} shard(s): ConfigMap, Indexed Job and PodMonitor pass the Kubernetes schemas and fit together`, () => {
      // through YAML and back: what kubectl would read
      const docs = parseAllDocuments(toYaml(renderManifests(options(n)))).map((d) => d.toJS() as { kind: string });
      expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'Job', 'PodMonitor']);
      for (const d of docs) expect(schemaErrors(d), d.kind).toEqual([]);
      const [cm, job, pm] = docs as [IConfigMap, IJob, IPodMonitor];
      const spec = job.spec!;
      expect({ mode: spec.completionMode, completions: spec.completions, parallelism: spec.parallelism, backoffLimit: spec.backoffLimit }).toEqual({ mode: 'Indexed', completions: n, parallelism: n, backoffLimit: 0 });
      const pod = spec.template.spec!;
      const c = pod.containers[0];
      const arg = (flag: string) => c.args![c.args!.indexOf(flag) + 1];
      expect(arg('--shard')).toBe(`$(JOB_COMPLETION_INDEX)/${n}`);
      expect(arg('--run-id')).toBe('fleet_1000-k8s');
      expect(arg('--start-at')).toBe('2030-01-01T12:03:00Z');
      expect(arg('--out')).toBe('/out/fleet_1000-k8s/shard-$(JOB_COMPLETION_INDEX)');
      expect(c.env?.find((e) => e.name === 'JOB_COMPLETION_INDEX')?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.annotations['batch.kubernetes.io/job-completion-index']");
      // the profile file the pod reads is the ConfigMap's key, mounted from it
      const profileMount = c.volumeMounts!.find((m) => m.name === 'profile')!.mountPath;
      expect(arg('--profile')).toBe(`${profileMount}/fleet-1000.yaml`);
      expect(pod.volumes!.find((v) => v.name === 'profile')?.configMap?.name).toBe(cm.metadata!.name);
      expect((parse(cm.data!['fleet-1000.yaml']) as { name: string }).name).toBe('fleet-1000');
      // Prometheus finds every pod: the PodMonitor's selector and port, and the annotations
      expect(Object.entries(pm.spec.selector.matchLabels!).every(([k, v]) => spec.template.metadata!.labels![k] === v)).toBe(true);
      expect(c.ports!.map((p) => p.name)).toContain(pm.spec.podMetricsEndpoints![0].port);
      expect(spec.template.metadata!.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': arg('--metrics-port') });
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
      expect(c.resources?.requests).toEqual({ cpu: '1', memory: '1Gi' });
      expect(job.metadata!.name).toBe('fleetload-fleet-1000-k8s');
    });
  }

  it('the committed results claim (deploy/kubernetes/results-pvc.yaml) passes the schema, ReadWriteMany, the name render uses', () => {
    const pvc = parse(readFileSync(join(import.meta.dirname, '..', '..', 'deploy', 'kubernetes', 'results-pvc.yaml'), 'utf8')) as IPersistentVolumeClaim;
    expect(schemaErrors(pvc)).toEqual([]);
    expect(pvc.spec?.accessModes).toEqual(['ReadWriteMany']);
    expect(pvc.metadata?.name).toBe(options(1).resultsClaim);
  });

  it('the merge Job passes the schema and lists every shard folder', () => {
    const job = renderMergeJob(options(4));
    expect(schemaErrors(job)).toEqual([]);
    expect(job.spec!.template.spec!.containers[0].args!.filter((a) => a.includes('/shard-'))).toHaveLength(4);
  });

  it('the schemas catch a broken manifest (the validation can fail)', () => {
    const [, job] = renderManifests(options(2)) as [IConfigMap, IJob];
    const broken = JSON.parse(JSON.stringify(job)) as Record<string, Record<string, unknown>>;
    broken.spec.completions = 'two';
    expect(schemaErrors(broken as unknown as { kind: string }).join()).toMatch(/completions must be integer/);
    const pm = renderManifests(options(2))[2] as unknown as { spec: { podMetricsEndpoints: Array<{ port: unknown }> }; kind: string };
    pm.spec.podMetricsEndpoints[0].port = 9464;
    expect(schemaErrors(pm).join()).toMatch(/port must be string/);
  });

  it('bad input: shard count, run id, a start instant in the past', () => {
    const bad = (over: Partial<RenderOptions>, text: RegExp) => {
      let err: unknown;
      try {
        renderManifests(options(4, over));
      } catch (e) {
        err = e;
      }
      expect((err as FleetloadError).exitCode).toBe(ExitCode.BadInput);
      expect((err as Error).message).toMatch(text);
    };
    bad({ shards: 0 }, /--shards: expected a whole number from 1 to 1024/);
    bad({ runId: 'a b' }, /--run-id/);
    bad({ startAt: '2029-12-31T00:00:00Z' }, /in the past/);
  });
});
