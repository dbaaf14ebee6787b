// Renders the chart with the real helm binary and checks the objects a cluster would receive.
// No skipping when helm is missing: a chart nobody renders in CI rots silently.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
// The chart spells durable consumer names itself; they must match what the services create.
import { durableName } from '../../packages/schema/src/subjects.ts';

const chartDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(chartDir, '..', '..');
const RELEASE = 'switchyard';

const SERVICES = {
  capture: 8081,
  router: 8082,
  persistence: 8083,
  media: 8084,
  'webhook-dispatch': 8085,
  'dlq-worker': 8086,
} as const;
type ServiceName = keyof typeof SERVICES;
const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];

/** The streams each consumer service reads through per-tenant durables. */
const CONSUMES: Record<Exclude<ServiceName, 'capture'>, string> = {
  router: 'INGEST',
  persistence: 'EVENTS',
  media: 'EVENTS',
  'webhook-dispatch': 'EVENTS',
  'dlq-worker': 'DLQ',
};

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: unknown;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

interface Container {
  name: string;
  image: string;
  ports: { name: string; containerPort: number }[];
  env: EnvVar[];
  livenessProbe: { httpGet: { path: string; port: string | number } };
  readinessProbe: { httpGet: { path: string; port: string | number } };
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext: { readOnlyRootFilesystem?: boolean };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

interface DeploymentSpec {
  replicas?: number;
  template: {
    metadata: { annotations?: Record<string, string> };
    spec: {
      terminationGracePeriodSeconds: number;
      securityContext: { runAsNonRoot?: boolean };
      containers: Container[];
      volumes?: { name: string; secret?: { secretName: string }; emptyDir?: { sizeLimit?: string } }[];
    };
  };
}

interface ScaledObjectSpec {
  scaleTargetRef: { kind: string; name: string };
  minReplicaCount: number;
  triggers: { type: string; metadata: Record<string, string> }[];
}

function isK8sObject(value: unknown): value is K8sObject {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<K8sObject>;
  return (
    typeof candidate.apiVersion === 'string' &&
    typeof candidate.kind === 'string' &&
    typeof candidate.metadata === 'object' &&
    typeof candidate.metadata?.name === 'string'
  );
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** helm from scripts/install-tools.sh first, then PATH. */
function findHelm(): string {
  const candidates = [
    join(repoRoot, '.tools', 'bin', 'helm'),
    ...(process.env['PATH'] ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, 'helm')),
  ];
  const found = candidates.find(isExecutable);
  if (found === undefined) {
    throw new Error(
      'helm not found in .tools/bin or on PATH — run `bash scripts/install-tools.sh` to install it',
    );
  }
  return found;
}

/** The one value the chart cannot default: where media is stored. */
const MEDIA_BUCKET = 'services.media.storage.s3.bucket=switchyard-media';

function render(helm: string, setArgs: string[] = [], options: { mediaBucket?: boolean } = {}): K8sObject[] {
  const base = options.mediaBucket === false ? [] : [MEDIA_BUCKET];
  const out = execFileSync(
    helm,
    ['template', RELEASE, chartDir, ...[...base, ...setArgs].flatMap((s) => ['--set', s])],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(out)) {
    if (doc.errors.length > 0)
      throw new Error(`helm rendered invalid YAML: ${doc.errors.map(String).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (!isK8sObject(value))
      throw new Error(`rendered document is not a Kubernetes object: ${JSON.stringify(value)}`);
    objects.push(value);
  }
  return objects;
}

function ofKind<Spec>(objects: K8sObject[], kind: string): Map<string, Spec> {
  return new Map(
    objects.filter((o) => o.kind === kind).map((o) => [o.metadata.name, o.spec as Spec]),
  );
}

function only<T>(items: T[] | undefined, what: string): T {
  expect(items, what).toHaveLength(1);
  return items![0]!;
}

describe('helm chart switchyard', () => {
  let helm: string;
  beforeAll(() => {
    helm = findHelm();
  });

  it('passes helm lint', () => {
    const result = spawnSync(helm, ['lint', chartDir, '--set', MEDIA_BUCKET], { encoding: 'utf8' });
    expect(result.status, `helm lint failed:\n${result.stdout}\n${result.stderr}`).toBe(0);
  });

  describe('with default values', () => {
    let objects: K8sObject[];
    let deployments: Map<string, DeploymentSpec>;
    beforeAll(() => {
      objects = render(helm);
      deployments = ofKind<DeploymentSpec>(objects, 'Deployment');
    });

    it('renders one Deployment and one Service per service, and nothing optional', () => {
      const expected = SERVICE_NAMES.map((name) => `${RELEASE}-${name}`).sort();
      expect([...deployments.keys()].sort()).toEqual(expected);
      expect([...ofKind(objects, 'Service').keys()].sort()).toEqual(expected);
      expect(objects.filter((o) => o.kind === 'ScaledObject')).toEqual([]);
      expect(objects.filter((o) => o.kind === 'ServiceMonitor')).toEqual([]);
    });

    it.each(SERVICE_NAMES)(
      '%s runs the shared image with its port, probes, env and limits',
      (name) => {
        const spec = deployments.get(`${RELEASE}-${name}`);
        expect(spec).toBeDefined();
        const pod = spec!.template.spec;
        const container = only(pod.containers, 'containers');
        const port = SERVICES[name];

        expect(spec!.replicas).toBe(1);
        expect(container.image).toBe('ghcr.io/switchyard/switchyard:0.1.0');
        expect(container.ports).toEqual([
          expect.objectContaining({ name: 'http', containerPort: port }),
        ]);
        expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
        expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });

        const env = new Map(container.env.map((e) => [e.name, e]));
        expect(env.get('SERVICE')?.value).toBe(name);
        expect(env.get('HTTP_PORT')?.value).toBe(String(port));
        expect(env.get('NATS_URL')?.value).toBe('nats://nats:4222');
        expect(env.get('DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({
          name: `${RELEASE}-database`,
          key: 'DATABASE_URL',
        });

        expect(container.resources.requests?.['cpu']).toBeTruthy();
        expect(container.resources.requests?.['memory']).toBeTruthy();
        expect(container.resources.limits?.['memory']).toBeTruthy();

        expect(pod.terminationGracePeriodSeconds).toBe(40);
        expect(pod.securityContext.runAsNonRoot).toBe(true);
        expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
        expect(spec!.template.metadata.annotations).toMatchObject({
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(port),
          'prometheus.io/path': '/metrics',
        });
      },
    );

    it('exposes each Service on its port, named http', () => {
      const services = ofKind<{ ports: { name: string; port: number; targetPort: string }[] }>(
        objects,
        'Service',
      );
      for (const name of SERVICE_NAMES) {
        const port = only(services.get(`${RELEASE}-${name}`)?.ports, `${name} ports`);
        expect(port).toEqual(
          expect.objectContaining({ name: 'http', port: SERVICES[name], targetPort: 'http' }),
        );
      }
    });
  });

  it('applies per-service image, env and existing database Secret overrides', () => {
    const objects = render(helm, [
      'image.tag=1.2.3',
      'services.router.image.repository=example.com/router',
      'services.router.env[0].name=EXTRA',
      'services.router.env[0].value=yes',
      'database.existingSecret=pg',
      'database.existingSecretKey=url',
    ]);
    const deployments = ofKind<DeploymentSpec>(objects, 'Deployment');
    const router = only(
      deployments.get(`${RELEASE}-router`)?.template.spec.containers,
      'router containers',
    );
    const capture = only(
      deployments.get(`${RELEASE}-capture`)?.template.spec.containers,
      'capture containers',
    );
    expect(router.image).toBe('example.com/router:1.2.3');
    expect(capture.image).toBe('ghcr.io/switchyard/switchyard:1.2.3');
    expect(router.env).toContainEqual({ name: 'EXTRA', value: 'yes' });
    expect(capture.env.find((e) => e.name === 'EXTRA')).toBeUndefined();
    expect(router.env.find((e) => e.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({
      name: 'pg',
      key: 'url',
    });
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    // Capture alone gets the spool volume, and its CAPTURE_SPOOL_DIR points into it.
    const spoolDir = capture.env.find((e) => e.name === 'CAPTURE_SPOOL_DIR')?.value;
    expect(spoolDir).toBe('/var/lib/switchyard/capture-spool');
    expect(capture.volumeMounts).toContainEqual({ name: 'spool', mountPath: spoolDir });
    expect(deployments.get(`${RELEASE}-capture`)?.template.spec.volumes).toContainEqual({ name: 'spool', emptyDir: { sizeLimit: '4Gi' } });
    expect(router.env.find((e) => e.name === 'CAPTURE_SPOOL_DIR')).toBeUndefined();
    expect(router.volumeMounts?.find((m) => m.name === 'spool')).toBeUndefined();
  });

  describe('with KEDA enabled', () => {
    const tenants = ['acme', 'globex'];
    let objects: K8sObject[];
    beforeAll(() => {
      objects = render(helm, [
        'autoscaling.keda.enabled=true',
        `autoscaling.keda.tenants={${tenants.join(',')}}`,
        'services.dlq-worker.keda.minReplicaCount=0',
      ]);
    });

    it('renders a ScaledObject for each consumer service, targeting its Deployment', () => {
      const scaled = ofKind<ScaledObjectSpec>(objects, 'ScaledObject');
      expect([...scaled.keys()].sort()).toEqual(
        Object.keys(CONSUMES)
          .map((n) => `${RELEASE}-${n}`)
          .sort(),
      );
      for (const [name, stream] of Object.entries(CONSUMES)) {
        const spec = scaled.get(`${RELEASE}-${name}`)!;
        expect(spec.scaleTargetRef).toEqual({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: `${RELEASE}-${name}`,
        });
        expect(spec.triggers.map((t) => t.type)).toEqual(tenants.map(() => 'nats-jetstream'));
        expect(spec.triggers.map((t) => t.metadata)).toEqual(
          tenants.map((tenant) => ({
            natsServerMonitoringEndpoint: 'nats:8222',
            account: '$G',
            stream,
            consumer: durableName(name, tenant),
            lagThreshold: '100',
            activationLagThreshold: '0',
            useHttps: 'false',
          })),
        );
      }
      expect(scaled.get(`${RELEASE}-dlq-worker`)?.minReplicaCount).toBe(0);
      expect(scaled.get(`${RELEASE}-router`)?.minReplicaCount).toBe(1);
    });

    it('leaves replicas to KEDA on scaled Deployments only', () => {
      const deployments = ofKind<DeploymentSpec>(objects, 'Deployment');
      expect(deployments.get(`${RELEASE}-capture`)?.replicas).toBe(1);
      for (const name of Object.keys(CONSUMES)) {
        expect(deployments.get(`${RELEASE}-${name}`)?.replicas).toBeUndefined();
      }
    });

    it('refuses to render without a tenant list', () => {
      const result = spawnSync(
        helm,
        ['template', RELEASE, chartDir, '--set', MEDIA_BUCKET, '--set', 'autoscaling.keda.enabled=true'],
        {
          encoding: 'utf8',
        },
      );
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain('autoscaling.keda.tenants');
    });
  });

  describe('NATS credentials', () => {
    const natsCreds = (objects: K8sObject[], name: ServiceName) => {
      const pod = ofKind<DeploymentSpec>(objects, 'Deployment').get(`${RELEASE}-${name}`)!.template
        .spec;
      const container = only(pod.containers, 'containers');
      return {
        env: container.env.find((e) => e.name === 'NATS_CREDS'),
        mount: container.volumeMounts?.find((m) => m.name === 'nats-credentials'),
        volume: pod.volumes?.find((v) => v.name === 'nats-credentials'),
      };
    };

    it('connects without credentials by default', () => {
      const objects = render(helm);
      for (const name of SERVICE_NAMES)
        expect(natsCreds(objects, name)).toEqual({
          env: undefined,
          mount: undefined,
          volume: undefined,
        });
      expect(objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name)).toEqual([
        `${RELEASE}-database`,
      ]);
    });

    it('mounts an existing Secret and points NATS_CREDS at it in every service', () => {
      const objects = render(helm, [
        'nats.credentials.existingSecret=nats-users',
        'nats.credentials.key=router.creds',
      ]);
      for (const name of SERVICE_NAMES) {
        const creds = natsCreds(objects, name);
        expect(creds.env?.value).toBe('/etc/switchyard/nats/router.creds');
        expect(creds.mount).toEqual({
          name: 'nats-credentials',
          mountPath: '/etc/switchyard/nats',
          readOnly: true,
        });
        expect(creds.volume?.secret?.secretName).toBe('nats-users');
      }
      expect(objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name)).toEqual([
        `${RELEASE}-database`,
      ]);
    });

    it('creates the Secret from inline creds', () => {
      const objects = render(helm, ['nats.credentials.creds=-----BEGIN NATS USER JWT-----']);
      const secret = objects.find(
        (o) => o.kind === 'Secret' && o.metadata.name === `${RELEASE}-nats-credentials`,
      ) as (K8sObject & { stringData: Record<string, string> }) | undefined;
      expect(secret?.stringData).toEqual({ 'services.creds': '-----BEGIN NATS USER JWT-----' });
      expect(natsCreds(objects, 'router').volume?.secret?.secretName).toBe(
        `${RELEASE}-nats-credentials`,
      );
    });
  });

  describe('media storage', () => {
    const mediaContainer = (objects: K8sObject[]): Container =>
      only(ofKind<DeploymentSpec>(objects, 'Deployment').get(`${RELEASE}-media`)?.template.spec.containers, 'media containers');
    const envOf = (container: Container) => new Map(container.env.map((e) => [e.name, e]));

    it('points media at its S3 bucket and its scratch volume, and no other service', () => {
      const objects = render(helm, [
        'services.media.storage.s3.endpoint=http://minio:9000',
        'services.media.storage.s3.forcePathStyle=true',
        'services.media.storage.s3.credentialsSecret=media-s3',
      ]);
      const media = mediaContainer(objects);
      const env = envOf(media);
      expect(env.get('MEDIA_STORE')?.value).toBe('s3');
      expect(env.get('MEDIA_S3_BUCKET')?.value).toBe('switchyard-media');
      expect(env.get('MEDIA_S3_ENDPOINT')?.value).toBe('http://minio:9000');
      expect(env.get('MEDIA_S3_FORCE_PATH_STYLE')?.value).toBe('true');
      expect(env.get('AWS_SECRET_ACCESS_KEY')?.valueFrom?.secretKeyRef).toEqual({ name: 'media-s3', key: 'AWS_SECRET_ACCESS_KEY' });
      expect(env.get('MEDIA_WORK_DIR')?.value).toBe('/var/lib/switchyard/media-work');
      expect(media.volumeMounts).toContainEqual({ name: 'work', mountPath: '/var/lib/switchyard/media-work' });
      const router = only(ofKind<DeploymentSpec>(objects, 'Deployment').get(`${RELEASE}-router`)?.template.spec.containers, 'router containers');
      expect(router.env.filter((e) => e.name.startsWith('MEDIA_') || e.name.startsWith('AWS_'))).toEqual([]);
    });

    it('uses a directory with storage.type=fs', () => {
      const env = envOf(mediaContainer(render(helm, ['services.media.storage.type=fs'], { mediaBucket: false })));
      expect(env.get('MEDIA_STORE')?.value).toBe('fs');
      expect(env.get('MEDIA_FS_DIR')?.value).toBe('/var/lib/switchyard/media');
      expect(env.get('MEDIA_S3_BUCKET')).toBeUndefined();
    });

    it('refuses to render media without a bucket, or with an unknown storage type', () => {
      const bare = spawnSync(helm, ['template', RELEASE, chartDir], { encoding: 'utf8' });
      expect(bare.status).not.toBe(0);
      expect(bare.stderr).toContain('services.media.storage.s3.bucket');
      const unknown = spawnSync(helm, ['template', RELEASE, chartDir, '--set', 'services.media.storage.type=gcs'], { encoding: 'utf8' });
      expect(unknown.status).not.toBe(0);
      expect(unknown.stderr).toContain('must be s3 or fs');
      // Without media, nothing asks for a bucket.
      const off = spawnSync(helm, ['template', RELEASE, chartDir, '--set', 'services.media.enabled=false'], { encoding: 'utf8' });
      expect(off.status, off.stderr).toBe(0);
    });
  });

  it('renders a ServiceMonitor when asked', () => {
    const monitors = render(helm, ['metrics.serviceMonitor.enabled=true']).filter(
      (o) => o.kind === 'ServiceMonitor',
    );
    expect(monitors.map((m) => m.metadata.name)).toEqual([RELEASE]);
  });
});
