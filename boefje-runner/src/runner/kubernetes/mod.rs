//! Container boefjes as Kubernetes Jobs (`BOEFJES_RUNTIME=kubernetes`).
//!
//! A plugin with an `oci_image` runs as a `batch/v1` Job in
//! `BOEFJES_K8S_NAMESPACE`: the runner registers the task on its boefje API
//! ([`super::api`]), creates the run's Secret (input URL and job
//! environment) and Job ([`spec`]), makes the Job own the Secret, and then
//! waits for whichever comes first: the plugin posting its output, the Job
//! ending (a watch on it), or the timeout plus a grace period. The pod's log
//! is the job log; a Job that ends without posting has that log stored as
//! `error/boefje` and its task failed. The Secret is deleted when the run
//! ends (the cluster would also delete it with the Job, after
//! `ttlSecondsAfterFinished`).
//!
//! Restarts: Jobs are named after their task (`kat-boefje-<task id>`) and
//! labelled with the runner's id (`BOEFJES_RUNNER_ID`, by default the host
//! name, which a restarted container in the same pod keeps). A runner that
//! starts lists its own Jobs that still run ([`Kubernetes::orphaned_tasks`]);
//! the pool takes their tasks back (renewing their leases) and runs them
//! again, and a run whose Job already exists and still runs re-attaches to
//! it: it registers the task again under the token in the Job's Secret, so
//! the plugin's post still arrives. A Job left by another runner, or one that
//! already ended, is deleted and made anew.

pub mod spec;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kat_core::config::{get, number, ConfigError};
use kat_core::task::Task;
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams, PropagationPolicy, WatchEvent, WatchParams};
use uuid::Uuid;

use super::api::{BoefjeApi, PostedOutput};
use spec::{job_end, object_name, JobEnd, Resources, RunSpec, INPUT_URL_KEY, RUNNER_LABEL};

/// `local` (default: container boefjes cannot run) or `kubernetes`.
pub const ENV_RUNTIME: &str = "BOEFJES_RUNTIME";
/// The namespace of the Jobs (default: the one of the kubeconfig or the runner's pod).
pub const ENV_NAMESPACE: &str = "BOEFJES_K8S_NAMESPACE";
/// A size preset for every Job's container: XS, S (default), M, L, XL or XXL.
pub const ENV_RESOURCES: &str = "BOEFJES_K8S_RESOURCES";
/// CPU of every Job's container, overriding the preset's (e.g. `750m`).
pub const ENV_CPU: &str = "BOEFJES_K8S_CPU";
/// Memory of every Job's container, overriding the preset's (e.g. `768Mi`).
pub const ENV_MEMORY: &str = "BOEFJES_K8S_MEMORY";
/// Seconds a finished Job is kept (`ttlSecondsAfterFinished`, default 600).
pub const ENV_TTL: &str = "BOEFJES_K8S_TTL";
/// This runner's id in its Jobs' labels (default: the host name).
pub const ENV_RUNNER_ID: &str = "BOEFJES_RUNNER_ID";

/// How long after a plugin posted its output the runner waits for its Job to end, for a whole log.
const LOG_WAIT: Duration = Duration::from_secs(10);
/// How long past its timeout a Job may run before the runner deletes it itself.
const DEADLINE_GRACE: Duration = Duration::from_secs(60);
/// The wait between tries when the API server cannot be reached.
const RETRY: Duration = Duration::from_secs(2);

/// How the runner uses the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct KubernetesConfig {
    /// The Jobs' namespace; `None`: the client's default namespace.
    pub namespace: Option<String>,
    /// CPU and memory of each Job's container.
    pub resources: Resources,
    /// `ttlSecondsAfterFinished` of each Job.
    pub ttl_seconds: u32,
    /// This runner's id, in its Jobs' labels.
    pub runner_id: String,
}

impl KubernetesConfig {
    /// Read `BOEFJES_RUNTIME` and, when it is `kubernetes`, `BOEFJES_K8S_NAMESPACE`, `BOEFJES_K8S_RESOURCES`,
    /// `BOEFJES_K8S_CPU`, `BOEFJES_K8S_MEMORY`, `BOEFJES_K8S_TTL` and `BOEFJES_RUNNER_ID`. `None`: the local runtime.
    pub fn from_vars(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<KubernetesConfig>, ConfigError> {
        match get(lookup, ENV_RUNTIME).as_deref().map(str::trim) {
            None | Some("" | "local") => return Ok(None),
            Some("kubernetes") => {}
            Some(other) => return Err(ConfigError(format!("{ENV_RUNTIME}={other:?}: use \"local\" or \"kubernetes\""))),
        }
        let preset = get(lookup, ENV_RESOURCES).unwrap_or_else(|| "S".into());
        let names: Vec<&str> = spec::PRESETS.iter().map(|(n, _, _)| *n).collect();
        let mut resources = Resources::preset(&preset).ok_or_else(|| ConfigError(format!("{ENV_RESOURCES}={preset:?}: use one of {}", names.join(", "))))?;
        for (name, slot) in [(ENV_CPU, &mut resources.cpu), (ENV_MEMORY, &mut resources.memory)] {
            if let Some(value) = get(lookup, name) {
                if value.is_empty() || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') || !value.starts_with(|c: char| c.is_ascii_digit()) {
                    return Err(ConfigError(format!("{name}={value:?} is not a Kubernetes quantity such as 500m or 512Mi")));
                }
                *slot = value;
            }
        }
        let ttl_seconds = number(lookup, ENV_TTL, 600u32, 0, 7 * 24 * 3600)?;
        let runner_id = get(lookup, ENV_RUNNER_ID).or_else(host_name).unwrap_or_else(|| "kat-boefje-runner".into());
        let namespace = get(lookup, ENV_NAMESPACE);
        Ok(Some(KubernetesConfig { namespace, resources, ttl_seconds, runner_id }))
    }
}

fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|h| h.trim().to_string()).filter(|h| !h.is_empty())
}

/// What a container run gave.
#[derive(Debug)]
pub struct ContainerRun {
    /// What the plugin posted, if it did.
    pub posted: Option<PostedOutput>,
    /// The pod's log (cut at the output limit), or a note of why there is none.
    pub log: Vec<u8>,
    /// Why the run failed, if it did (the Job failed, was deleted, or ran past its timeout).
    pub failure: Option<String>,
    /// The run's token, to redact from the log.
    pub token: String,
}

/// How the wait for a run ended.
enum Waited {
    Posted(Option<PostedOutput>),
    Ended(Option<JobEnd>),
    TimedOut,
}

/// The Kubernetes runtime: a client of the cluster's API server and how to use it.
#[derive(Clone)]
pub struct Kubernetes {
    client: kube::Client,
    namespace: String,
    config: KubernetesConfig,
}

impl std::fmt::Debug for Kubernetes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kubernetes").field("namespace", &self.namespace).field("config", &self.config).finish_non_exhaustive()
    }
}

impl Kubernetes {
    /// Connect as the environment says: `KUBECONFIG` or `~/.kube/config`, else the pod's service account.
    pub async fn connect(config: KubernetesConfig) -> Result<Kubernetes, String> {
        let kube_config = kube::Config::infer().await.map_err(|e| format!("cannot find the Kubernetes API server (kubeconfig or in-cluster service account): {e}"))?;
        let client = kube::Client::try_from(kube_config).map_err(|e| format!("cannot make a Kubernetes client: {e}"))?;
        Ok(Kubernetes::new(client, config))
    }

    /// Use `client`; the namespace is the configured one, else the client's default.
    pub fn new(client: kube::Client, config: KubernetesConfig) -> Kubernetes {
        let namespace = config.namespace.clone().unwrap_or_else(|| client.default_namespace().to_string());
        Kubernetes { client, namespace, config }
    }

    /// The namespace of the Jobs.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The configuration.
    pub fn config(&self) -> &KubernetesConfig {
        &self.config
    }

    fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The tasks of this runner's Jobs that still run (left by an earlier life of this runner).
    pub async fn orphaned_tasks(&self) -> Result<Vec<Uuid>, String> {
        let list = self.jobs().list(&ListParams::default().labels(&spec::runner_selector(&self.config.runner_id))).await.map_err(|e| format!("cannot list this runner's Jobs: {e}"))?;
        Ok(list.items.iter().filter(|job| job_end(job).is_none()).filter_map(|job| job.metadata.name.as_deref().and_then(spec::task_of)).collect())
    }

    /// Run `task` (as the boefje API gives it) as a Job made from `spec`, with `environment` in its Secret;
    /// the log is cut at `max_output` bytes. An `Err` is a run that could not start.
    pub async fn run(&self, api: &BoefjeApi, task: &Task, spec: &RunSpec<'_>, environment: &BTreeMap<String, String>, max_output: usize) -> Result<ContainerRun, String> {
        let name = object_name(spec.task_id);
        let mut registration = match self.existing(&name).await? {
            Some(token) => {
                tracing::info!(job = %name, "re-attaching to a running Job of this task");
                api.register_with_token(task, token)?
            }
            None => {
                let registration = api.register(task)?;
                self.create(spec, registration.input_url(), environment).await?;
                tracing::info!(job = %name, namespace = %self.namespace, image = spec.image, "Job created");
                registration
            }
        };
        let deadline = Duration::from_secs(spec.timeout_seconds) + DEADLINE_GRACE;
        let waited = tokio::select! {
            posted = registration.output() => Waited::Posted(posted),
            end = self.wait_for_end(&name) => Waited::Ended(end),
            () = tokio::time::sleep(deadline) => Waited::TimedOut,
        };
        let (posted, failure) = match waited {
            Waited::Posted(posted) => {
                // The plugin posted; let its Job end, so the log is whole.
                let _ = tokio::time::timeout(LOG_WAIT, self.wait_for_end(&name)).await;
                (posted, None)
            }
            Waited::Ended(end) => {
                let failure = match end {
                    Some(JobEnd::Succeeded) => None,
                    Some(JobEnd::Failed(why)) => Some(format!("its Job failed ({why})")),
                    None => Some("its Job was deleted before it ended".to_string()),
                };
                (registration.take_output(), failure)
            }
            Waited::TimedOut => {
                self.delete_job(&name).await;
                (registration.take_output(), Some(format!("its Job did not end within {} s; the runner deleted it", deadline.as_secs())))
            }
        };
        let log = self.pod_log(&name, max_output).await;
        let token = registration.token().to_string();
        drop(registration);
        self.delete_secret(&name).await;
        Ok(ContainerRun { posted, log, failure, token })
    }

    /// The token of a Job of this name that this runner made and that still runs (to re-attach to it). Any
    /// other Job of this name (another runner's, or one that ended) is deleted with its Secret.
    async fn existing(&self, name: &str) -> Result<Option<String>, String> {
        let Some(job) = self.jobs().get_opt(name).await.map_err(|e| format!("cannot read Job {name}: {e}"))? else { return Ok(None) };
        let ours = job.metadata.labels.as_ref().and_then(|l| l.get(RUNNER_LABEL)).is_some_and(|id| *id == spec::label_value(&self.config.runner_id));
        if ours && job_end(&job).is_none() {
            let secret = self.secrets().get_opt(name).await.map_err(|e| format!("cannot read Secret {name}: {e}"))?;
            if let Some(token) = secret.as_ref().and_then(input_url).and_then(|url| url.rsplit('/').next().map(str::to_string)) {
                return Ok(Some(token));
            }
        }
        tracing::info!(job = %name, "deleting an earlier Job of this task before running it again");
        self.delete_job(name).await;
        self.delete_secret(name).await;
        Ok(None)
    }

    /// Create the Secret, then the Job, then make the Job own the Secret.
    async fn create(&self, spec: &RunSpec<'_>, input_url: &str, environment: &BTreeMap<String, String>) -> Result<(), String> {
        let name = object_name(spec.task_id);
        let secret = spec::secret(spec, &self.namespace, input_url, environment);
        match self.secrets().create(&PostParams::default(), &secret).await {
            Ok(_) => {}
            // Left by a run that died between its two creates: replace it.
            Err(kube::Error::Api(status)) if status.code == 409 => {
                self.delete_secret(&name).await;
                self.secrets().create(&PostParams::default(), &secret).await.map_err(|e| format!("cannot create Secret {name}: {e}"))?;
            }
            Err(e) => return Err(format!("cannot create Secret {name}: {e}")),
        }
        let job = match self.jobs().create(&PostParams::default(), &spec::job(spec, &self.namespace)).await {
            Ok(job) => job,
            Err(e) => {
                self.delete_secret(&name).await;
                return Err(format!("cannot create Job {name}: {e}"));
            }
        };
        match job.metadata.uid.as_deref() {
            Some(uid) => {
                if let Err(e) = self.secrets().patch(&name, &PatchParams::default(), &Patch::Merge(spec::owned_by(&name, uid))).await {
                    tracing::warn!(secret = %name, "cannot make the Job own its Secret (the runner still deletes it when the run ends): {e}");
                }
            }
            None => tracing::warn!(job = %name, "the API server gave the new Job no uid; its Secret is not owned by it"),
        }
        Ok(())
    }

    /// Wait until the Job ends (`Some`) or is gone (`None`), watching it; API errors are retried.
    async fn wait_for_end(&self, name: &str) -> Option<JobEnd> {
        let jobs = self.jobs();
        loop {
            match self.watch_once(&jobs, name).await {
                Ok(Some(end)) => return end,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(job = %name, "cannot watch the Job (trying again in {RETRY:?}): {e}");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    /// Read the Job, then watch it from that version until it ends (`Some(Some)`), is gone (`Some(None)`) or the
    /// watch closes (`None`: read and watch again).
    async fn watch_once(&self, jobs: &Api<Job>, name: &str) -> Result<Option<Option<JobEnd>>, kube::Error> {
        let Some(job) = jobs.get_opt(name).await? else { return Ok(Some(None)) };
        if let Some(end) = job_end(&job) {
            return Ok(Some(Some(end)));
        }
        let version = job.metadata.resource_version.unwrap_or_else(|| "0".into());
        let params = WatchParams::default().fields(&format!("metadata.name={name}")).timeout(290);
        let mut events = Box::pin(jobs.watch(&params, &version).await?);
        while let Some(event) = events.try_next().await? {
            match event {
                WatchEvent::Added(job) | WatchEvent::Modified(job) => {
                    if let Some(end) = job_end(&job) {
                        return Ok(Some(Some(end)));
                    }
                }
                WatchEvent::Deleted(_) => return Ok(Some(None)),
                WatchEvent::Bookmark(_) => {}
                // Mostly "too old resource version": read the Job again.
                WatchEvent::Error(e) => {
                    tracing::debug!(job = %name, "watch ended: {e}");
                    return Ok(None);
                }
            }
        }
        Ok(None)
    }

    /// The log of the Job's pod (the latest, if it had more), cut at `max_output` bytes; when it cannot be read,
    /// a line that says why.
    async fn pod_log(&self, name: &str, max_output: usize) -> Vec<u8> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let listed = match pods.list(&ListParams::default().labels(&format!("job-name={name}"))).await {
            Ok(list) => list.items,
            Err(e) => return format!("WARNING: kat-boefje-runner: cannot list the pods of Job {name}: {e}\n").into_bytes(),
        };
        let Some(pod) = listed.iter().filter_map(|p| p.metadata.name.as_deref().map(|n| (p.metadata.creation_timestamp.clone(), n))).max().map(|(_, n)| n.to_string()) else {
            return format!("WARNING: kat-boefje-runner: Job {name} has no pod (it may not have started)\n").into_bytes();
        };
        let params = LogParams { container: Some(spec::CONTAINER_NAME.into()), limit_bytes: i64::try_from(max_output).ok(), ..LogParams::default() };
        match pods.logs(&pod, &params).await {
            Ok(text) => {
                let mut log = text.into_bytes();
                log.truncate(max_output);
                log
            }
            Err(e) => format!("WARNING: kat-boefje-runner: cannot read the log of pod {pod}: {e}\n").into_bytes(),
        }
    }

    /// Delete the Job and its pods (one that is gone already is fine).
    async fn delete_job(&self, name: &str) {
        let params = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..DeleteParams::default() };
        if let Err(e) = self.jobs().delete(name, &params).await
            && !is_not_found(&e)
        {
            tracing::warn!(job = %name, "cannot delete the Job: {e}");
        }
    }

    /// Delete the run's Secret (one that is gone already is fine).
    async fn delete_secret(&self, name: &str) {
        if let Err(e) = self.secrets().delete(name, &DeleteParams::default()).await
            && !is_not_found(&e)
        {
            tracing::warn!(secret = %name, "cannot delete the run's Secret: {e}");
        }
    }
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.is_not_found())
}

/// The input URL a Secret holds (`data` as the API server answers, or `stringData` as it was sent).
fn input_url(secret: &Secret) -> Option<String> {
    if let Some(bytes) = secret.data.as_ref().and_then(|d| d.get(INPUT_URL_KEY)) {
        return String::from_utf8(bytes.0.clone()).ok();
    }
    secret.string_data.as_ref().and_then(|d| d.get(INPUT_URL_KEY)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kat_core::config::from_pairs;

    #[test]
    fn the_runtime_comes_from_the_variables() {
        assert_eq!(KubernetesConfig::from_vars(&from_pairs(&[])), Ok(None));
        assert_eq!(KubernetesConfig::from_vars(&from_pairs(&[(ENV_RUNTIME, "local")])), Ok(None));
        let config = KubernetesConfig::from_vars(&from_pairs(&[(ENV_RUNTIME, "kubernetes"), (ENV_RESOURCES, "xl"), (ENV_MEMORY, "3Gi"), (ENV_RUNNER_ID, "r1"), (ENV_NAMESPACE, "scans")]))
            .expect("valid")
            .expect("kubernetes");
        assert_eq!(config.resources, Resources { cpu: "2".into(), memory: "3Gi".into() });
        assert_eq!((config.runner_id.as_str(), config.namespace.as_deref(), config.ttl_seconds), ("r1", Some("scans"), 600));
        for (name, bad) in [(ENV_RUNTIME, "docker"), (ENV_RESOURCES, "XXXL"), (ENV_CPU, "-1"), (ENV_MEMORY, "1 Gi"), (ENV_TTL, "x")] {
            let pairs = if name == ENV_RUNTIME { vec![(name, bad)] } else { vec![(ENV_RUNTIME, "kubernetes"), (name, bad)] };
            let e = KubernetesConfig::from_vars(&from_pairs(&pairs)).expect_err(bad);
            assert!(e.0.contains(name), "{name}={bad}: {e}");
        }
    }
}
